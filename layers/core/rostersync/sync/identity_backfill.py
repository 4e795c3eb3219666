"""Identity keys for SIS users written before the ByIdentity index existed (a one-off after
deploying issue 13's re-keys).

The re-key pairing (sync/rekeys.py) finds the stored user of a new sourcedId through the
keys-only ByIdentity index (`districtIdentity`, from the user's identifier, else email). Users a
sync wrote before that attribute existed are in no index entry until a sync rewrites them, and a
full sync rewrites only what changed: an SIS that re-keys them first would have them deactivated
and created again (the guard holds that for review). `backfill` gives each such user its key now,
computed as the sync computes it (mapping.identity_key), on the condition that it still has none.
The key is not part of the content hash and not a change the app reads: no updatedAt or change key
moves. Run it with `rostersync ops backfill-identity-keys`; re-running it finds nothing left to do.
"""

from collections.abc import Callable

from botocore.exceptions import ClientError

from rostersync.settings import get_settings
from rostersync.store.district_walk import walk_items
from rostersync.store.roster import index_key
from rostersync.sync.mapping import identity_key

IDENTITY = "districtIdentity"


def users_without_identity(client, district_id: str | None = None):
    """SIS users (with a sourcedId) that have no identity key: one district's (a query) or all (a scan)."""
    request = {
        "TableName": get_settings().users_table,
        "FilterExpression": "attribute_exists(sisSourcedId) AND attribute_not_exists(#identity)",
        "ProjectionExpression": "districtId, userId, identifier, email",
        "ExpressionAttributeNames": {"#identity": IDENTITY},
    }
    return walk_items(client, request, district_id)


def backfill(
    client, district_id: str | None = None, dry_run: bool = False, on_progress: Callable[[int, int], None] | None = None
) -> dict[str, int]:
    """{"keyed": users given their key (or, with dry_run, that would be), "withoutIdentity": users
    with neither identifier nor email (nothing to key: never paired by a re-key)}."""
    keyed = without = 0
    for item in users_without_identity(client, district_id):
        identity = identity_key(item.get("identifier", {}).get("S"), item.get("email", {}).get("S"))
        if identity is None:
            without += 1
            continue
        if dry_run or _key(client, item, index_key(item["districtId"]["S"], identity)):
            keyed += 1
            if on_progress is not None and keyed % 1000 == 0:
                on_progress(keyed, without)
    return {"keyed": keyed, "withoutIdentity": without}


def _key(client, item: dict, identity: str) -> bool:
    try:
        client.update_item(
            TableName=get_settings().users_table,
            Key={"districtId": item["districtId"], "userId": item["userId"]},
            UpdateExpression="SET #identity = :v",
            ConditionExpression="attribute_exists(districtId) AND attribute_not_exists(#identity)",
            ExpressionAttributeNames={"#identity": IDENTITY},
            ExpressionAttributeValues={":v": {"S": identity}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False  # a sync wrote it meanwhile, with its key
        raise
    return True
