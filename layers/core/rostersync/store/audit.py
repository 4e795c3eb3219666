"""The district audit log as stored (AuditTable): one item per change, newest first.

Keys: districtId, entryId (`new_id("aud")`, time ordered). Items carry who (sub and role),
when, what (`action`, e.g. `sync_config.update`), the target when there is one, and before
and after as JSON text (callers pass no secret; rostersync/audit.py checks once more).
"""

import base64
import json

from rostersync.settings import get_settings
from rostersync.store.codec import from_item, to_item

MAX_JSON_CHARS = 100_000  # before + after: an entry stays far under DynamoDB's 400 KB


class InvalidCursor(ValueError):
    pass


def table() -> str:
    return get_settings().audit_table


def put_entry(client, entry: dict) -> None:
    client.put_item(TableName=table(), Item=to_item(entry))


def list_entries(client, district_id: str, limit: int, cursor: str | None = None) -> tuple[list[dict], str | None]:
    request = {
        "TableName": table(),
        "KeyConditionExpression": "districtId = :d",
        "ExpressionAttributeValues": {":d": {"S": district_id}},
        "ScanIndexForward": False,
        "Limit": limit + 1,
        "ConsistentRead": True,
    }
    if cursor:
        request["ExclusiveStartKey"] = {
            "districtId": {"S": district_id},
            "entryId": {"S": _decode(cursor, district_id)},
        }
    items = [from_item(item) for item in client.query(**request)["Items"]]
    page = items[:limit]
    next_cursor = _encode(district_id, page[-1]["entryId"]) if len(items) > limit else None
    return page, next_cursor


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
