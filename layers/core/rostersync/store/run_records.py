"""Records a run lists one by one (RunRecordsTable): what a needs_review run holds back, the
admin's decision on it, and a preview's samples.

Keys: runKey = `district#run` (as the checkpoints'), recordKey =
- `held#<type>#<itemId>`: one record the run would deactivate (name, role, school, class, why);
- `preview#<type>#<change>#<itemId>`: one sampled record of a preview (change: created,
  updated, unchanged, deactivated);
- `proposal`: a preview's proposed configuration (selection, guard, whether to list every record);
- `summary`: what a preview found beyond its counts (whether the sync would stop for review);
- `decision`: the admin's answer to a held run (approve all, approve some, reject), with who
  and when, and the chosen record ids.
One small item per record, written in batches; nothing grows with the district in one item.
Items expire with the run's checkpoint (TTL), and a district purge deletes them.
"""

import base64
import json
import time
from collections.abc import Iterable

from rostersync.settings import get_settings
from rostersync.store.codec import from_item, to_item
from rostersync.store.filtered_pages import query_page

HELD = "held"
PREVIEW = "preview"
DECISION = "decision"
PROPOSAL = "proposal"
SUMMARY = "summary"
KEEP_DAYS = 30
MAX_TEXT = 200  # names and titles as shown; items stay small


def run_key(district_id: str, run_id: str) -> str:
    return f"{district_id}#{run_id}"


def table() -> str:
    return get_settings().run_records_table


def expires_at() -> int:
    return int(time.time()) + KEEP_DAYS * 86400


def held_record_id(record_type: str, item_id: str) -> str:
    """The id people use for one held record (listed by GET held, chosen on approval)."""
    return f"{record_type}:{item_id}"


def held_item(district_id: str, run_id: str, record_type: str, item_id: str, fields: dict) -> dict:
    return {
        "runKey": run_key(district_id, run_id),
        "recordKey": f"{HELD}#{record_type}#{item_id}",
        "recordId": held_record_id(record_type, item_id),
        "type": record_type,
        "expiresAt": expires_at(),
        **{k: _short(v) for k, v in fields.items() if v not in (None, "", [])},
    }


def preview_item(district_id: str, run_id: str, record_type: str, change: str, item_id: str, fields: dict) -> dict:
    return {
        "runKey": run_key(district_id, run_id),
        "recordKey": f"{PREVIEW}#{record_type}#{change}#{item_id}",
        "recordId": held_record_id(record_type, item_id),
        "type": record_type,
        "change": change,
        "expiresAt": expires_at(),
        **{k: _short(v) for k, v in fields.items() if v not in (None, "", [])},
    }


def summary_item(district_id: str, run_id: str, fields: dict) -> dict:
    return {"runKey": run_key(district_id, run_id), "recordKey": SUMMARY, "expiresAt": expires_at(), **fields}


def get_summary(client, district_id: str, run_id: str) -> dict:
    item = client.get_item(
        TableName=table(),
        Key={"runKey": {"S": run_key(district_id, run_id)}, "recordKey": {"S": SUMMARY}},
        ConsistentRead=True,
    ).get("Item")
    return from_item(item) if item else {}


def _short(value):
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, list):
        return [_short(v) for v in value[:20]]
    return value


# ---------------------------------------------------------------- listing


class InvalidCursor(ValueError):
    pass


def _encode(key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def _decode(cursor: str, district_id: str, run_id: str, prefix: str) -> dict:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as error:
        raise InvalidCursor(cursor) from error
    if (
        not isinstance(key, dict)
        or key.get("runKey") != run_key(district_id, run_id)
        or not str(key.get("recordKey", "")).startswith(prefix)
    ):
        raise InvalidCursor(cursor)
    return key


def list_records(
    client,
    district_id: str,
    run_id: str,
    prefix: str,
    limit: int,
    cursor: str | None = None,
    *,
    reason: str | None = None,
) -> tuple[list[dict], str | None]:
    """Up to `limit` records whose recordKey starts with `prefix` (and, given `reason`, held for
    that reason), and the cursor after them. A page filtered by reason may hold fewer than
    `limit` records and still have a cursor (store/filtered_pages.py)."""
    request: dict = {
        "TableName": table(),
        "KeyConditionExpression": "runKey = :k AND begins_with(recordKey, :p)",
        "ExpressionAttributeValues": {":k": {"S": run_key(district_id, run_id)}, ":p": {"S": prefix}},
        "ConsistentRead": True,
    }
    if reason:
        request["FilterExpression"] = "#reason = :r"
        request["ExpressionAttributeNames"] = {"#reason": "reason"}
        request["ExpressionAttributeValues"][":r"] = {"S": reason}
    if cursor:
        start = _decode(cursor, district_id, run_id, prefix)
        request["ExclusiveStartKey"] = {"runKey": {"S": start["runKey"]}, "recordKey": {"S": start["recordKey"]}}
    found, after = query_page(client, request, limit, ("runKey", "recordKey"))
    return found, _encode(after) if after else None


def held_records_exist(batch, district_id: str, run_id: str, record_ids: Iterable[str]) -> set[str]:
    """The ids among `record_ids` that the run holds."""
    keys = []
    for record_id in record_ids:
        record_type, _, item_id = record_id.partition(":")
        if record_type and item_id:
            keys.append({"runKey": run_key(district_id, run_id), "recordKey": f"{HELD}#{record_type}#{item_id}"})
    found = batch.get_many(table(), keys, projection=["recordId"]) if keys else []
    return {item["recordId"] for item in found}


# ---------------------------------------------------------------- the decision


def put_decision(client, district_id: str, run_id: str, decision: dict) -> None:
    """Record the admin's decision (the run's status transition decided it may be made; a
    decision whose approval could not be queued is replaced by the next one)."""
    item = to_item(
        {
            "runKey": run_key(district_id, run_id),
            "recordKey": DECISION,
            "expiresAt": expires_at(),
            **{k: v for k, v in decision.items() if v is not None},
        }
    )
    client.put_item(TableName=table(), Item=item)


def delete_decision(client, district_id: str, run_id: str) -> None:
    client.delete_item(
        TableName=table(), Key={"runKey": {"S": run_key(district_id, run_id)}, "recordKey": {"S": DECISION}}
    )


def get_decision(client, district_id: str, run_id: str) -> dict | None:
    item = client.get_item(
        TableName=table(),
        Key={"runKey": {"S": run_key(district_id, run_id)}, "recordKey": {"S": DECISION}},
        ConsistentRead=True,
    ).get("Item")
    return from_item(item) if item else None


# ---------------------------------------------------------------- a preview's proposal


def put_proposal(client, district_id: str, run_id: str, proposal: dict) -> None:
    client.put_item(
        TableName=table(),
        Item=to_item(
            {
                "runKey": run_key(district_id, run_id),
                "recordKey": PROPOSAL,
                "expiresAt": expires_at(),
                "proposal": json.dumps(proposal),
            }
        ),
    )


def get_proposal(client, district_id: str, run_id: str) -> dict | None:
    item = client.get_item(
        TableName=table(),
        Key={"runKey": {"S": run_key(district_id, run_id)}, "recordKey": {"S": PROPOSAL}},
        ConsistentRead=True,
    ).get("Item")
    return json.loads(item["proposal"]["S"]) if item else None


def delete_run(client, district_id: str, run_id: str) -> int:
    """Every record of the run (purge); how many were deleted."""
    from rostersync.store.erase import delete_query

    return delete_query(client, table(), "runKey", run_key(district_id, run_id), "recordKey")[0]
