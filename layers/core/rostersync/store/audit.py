"""The district audit log as stored (AuditTable): one item per change, newest first.

Keys: districtId, entryId (`new_id("aud")`, time ordered). Items carry who (sub and role),
when, what (`action`, e.g. `sync_config.update`), the target when there is one, and before
and after as JSON text (callers pass no secret; rostersync/audit.py checks once more).
"""

import base64
import json

from rostersync.settings import get_settings
from rostersync.store.codec import to_item
from rostersync.store.filtered_pages import query_page

MAX_JSON_CHARS = 100_000  # before + after: an entry stays far under DynamoDB's 400 KB


class InvalidCursor(ValueError):
    pass


def table() -> str:
    return get_settings().audit_table


def put_entry(client, entry: dict) -> None:
    client.put_item(TableName=table(), Item=to_item(entry))


def list_entries(
    client,
    district_id: str,
    limit: int,
    cursor: str | None = None,
    *,
    action: str | None = None,
    action_family: str | None = None,
    by_sub: str | None = None,
) -> tuple[list[dict], str | None]:
    """Newest first; only entries of `action` (or of every action `<family>.*`) and by `by_sub`
    when given. A filtered page may hold fewer than `limit` entries and still have a cursor
    (store/filtered_pages.py)."""
    request: dict = {
        "TableName": table(),
        "KeyConditionExpression": "districtId = :d",
        "ExpressionAttributeValues": {":d": {"S": district_id}},
        "ScanIndexForward": False,
        "ConsistentRead": True,
    }
    conditions = []
    if action:
        conditions.append("#action = :action")
        request["ExpressionAttributeValues"][":action"] = {"S": action}
    elif action_family:
        conditions.append("begins_with(#action, :family)")
        request["ExpressionAttributeValues"][":family"] = {"S": f"{action_family}."}
    if action or action_family:
        request["ExpressionAttributeNames"] = {"#action": "action"}
    if by_sub:
        conditions.append("bySub = :sub")
        request["ExpressionAttributeValues"][":sub"] = {"S": by_sub}
    if conditions:
        request["FilterExpression"] = " AND ".join(conditions)
    if cursor:
        request["ExclusiveStartKey"] = {
            "districtId": {"S": district_id},
            "entryId": {"S": _decode(cursor, district_id)},
        }
    page, after = query_page(client, request, limit, ("entryId",))
    return page, _encode(district_id, after["entryId"]) if after else None


def _encode(district_id: str, entry_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([district_id, entry_id]).encode()).decode()


def _decode(cursor: str, district_id: str) -> str:
    try:
        owner, entry_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as error:
        raise InvalidCursor(cursor) from error
    if owner != district_id or not isinstance(entry_id, str):
        raise InvalidCursor(cursor)
    return entry_id
