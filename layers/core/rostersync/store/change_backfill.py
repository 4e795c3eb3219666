"""Change keys for roster items written before changeSeq existed (a one-off after deploying).

Such items are in the plain lists but in no ByChange index, so a change read never answers them
until a sync writes them again (a full sync rewrites only what changed). `backfill` gives each
one its change key now: updatedAt = now, changeSeq = now + "#" + id, on the condition that it
still has none (a sync or API write that got there first is kept). Stamping the backfill's own
time, not the item's old updatedAt, keeps the change-read guarantee: a reader who follows
changes from an earlier cursor is answered each backfilled item once, as a change of now,
instead of missing it behind their cursor. Run it with `rostersync ops backfill-change-keys`;
re-running it finds nothing left to do.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from rostersync.settings import get_settings
from rostersync.store.change_keys import CHANGE_SEQ, change_seq, time_text
from rostersync.store.district_walk import walk_items


def roster_tables() -> tuple[tuple[str, str], ...]:
    """(table, its item id attribute) for every table with a ByChange index."""
    st = get_settings()
    return (
        (st.schools_table, "schoolId"),
        (st.users_table, "userId"),
        (st.classes_table, "classId"),
        (st.enrollments_table, "enrollmentId"),
        (st.terms_table, "termId"),
    )


def items_without_change_keys(client, table: str, id_name: str, district_id: str | None = None):
    """Keys of the items that have no changeSeq: one district's (a query) or every district's (a scan)."""
    request = {
        "TableName": table,
        "FilterExpression": "attribute_not_exists(#seq)",
        "ProjectionExpression": "districtId, #id",
        "ExpressionAttributeNames": {"#seq": CHANGE_SEQ, "#id": id_name},
    }
    return walk_items(client, request, district_id)


def backfill(
    client, district_id: str | None = None, dry_run: bool = False, on_table: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """{table: items stamped (or, with dry_run, that would be)}."""
    done = {}
    for table, id_name in roster_tables():
        count = 0
        for key in items_without_change_keys(client, table, id_name, district_id):
            if not dry_run and not _stamp(client, table, id_name, key):
                continue
            count += 1
        done[table] = count
        if on_table is not None:
            on_table(table, count)
    return done


def _stamp(client, table: str, id_name: str, key: dict) -> bool:
    now = time_text(datetime.now(UTC))
    try:
        client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #seq = :seq, updatedAt = :at",
            ConditionExpression="attribute_exists(districtId) AND attribute_not_exists(#seq)",
            ExpressionAttributeNames={"#seq": CHANGE_SEQ},
            ExpressionAttributeValues={":seq": {"S": change_seq(now, key[id_name]["S"])}, ":at": {"S": now}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False  # written meanwhile: it has its change key
        raise
    return True
