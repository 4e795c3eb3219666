"""Search keys for users written before roster search's indexes existed (issue 26: ByName,
BySearchEmail, ByUsername; a one-off after deploying them).

A sync writes a user's search keys with the user (sync/mapping.user_item), but a full sync
rewrites only what changed: users stored before the indexes existed are in none of them, and
GET .../users?q= or ?sort=name would not list them until they change in the SIS. `backfill` gives
each such user its keys now, computed as a write computes them (store/roster.search_keys), on
the condition that it still has none (a concurrent sync's write wins). The keys are not part of
the content hash and not a change the app reads: no updatedAt or change key moves. Run it with
`rostersync ops backfill-search-keys`; re-running it finds nothing left to do.
"""

from collections.abc import Callable

from botocore.exceptions import ClientError

from rostersync.settings import get_settings
from rostersync.store.district_walk import walk_items
from rostersync.store.roster import search_keys

NAME_KEY = "nameKey"
FIELDS = ("givenName", "familyName", "email", "username")


def users_without_search_keys(client, district_id: str | None = None):
    """Users (SIS or app) without a name key: one district's (a query) or every district's (a scan)."""
    names = {f"#{field}": field for field in FIELDS} | {"#name": NAME_KEY}
    request = {
        "TableName": get_settings().users_table,
        "FilterExpression": "attribute_not_exists(#name)",
        "ProjectionExpression": ", ".join(["districtId", "userId", *(f"#{field}" for field in FIELDS)]),
        "ExpressionAttributeNames": names,
    }
    return walk_items(client, request, district_id)


def backfill(
    client, district_id: str | None = None, dry_run: bool = False, on_progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """{"keyed": users given their search keys (or, with dry_run, that would be)}."""
    keyed = 0
    for item in users_without_search_keys(client, district_id):
        values = {field: item[field]["S"] for field in FIELDS if "S" in item.get(field, {})}
        keys = search_keys(item["districtId"]["S"], values)
        if dry_run or _key(client, item, keys):
            keyed += 1
            if on_progress is not None and keyed % 1000 == 0:
                on_progress(keyed)
    return {"keyed": keyed}


def _key(client, item: dict, keys: dict[str, str]) -> bool:
    names = {f"#k{i}": name for i, name in enumerate(keys)}
    values = {f":v{i}": {"S": value} for i, value in enumerate(keys.values())}
    try:
        client.update_item(
            TableName=get_settings().users_table,
            Key={"districtId": item["districtId"], "userId": item["userId"]},
            UpdateExpression="SET " + ", ".join(f"#k{i} = :v{i}" for i in range(len(keys))),
            ConditionExpression="attribute_exists(districtId) AND attribute_not_exists(#k0)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False  # a sync wrote it meanwhile, with its keys
        raise
    return True
