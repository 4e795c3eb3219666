"""Roster Changed: after a run, the records it created, updated or deactivated, as events.

A post-run pass, so the sync engine needs no change: every roster item the engine writes
carries `lastRunId` and `updatedAt`, so the run's changes are the district's items whose
lastRunId is the run (schools carry no run id: those whose updatedAt is at or after the run's
start). Only tables whose counts show changes are read. Approval finishes a held run a second
time under the same run id: that pass (changeSet "approval") takes only what was written
after the approval, so nothing is announced twice.

Each change is {type: school|user|class|enrollment, id, change}; change is `deactivated` for
items left inactive, otherwise `created` or `updated` as the engine wrote it (`lastChange` on
the item; schools by their createdAt; an item written before lastChange existed says `updated`).
Changes go out in chunks under EventBridge's entry size, streamed with one chunk held back so
the last one can say so: every chunk has the run id, changeSet, sequence (from 1) and last;
the last one also has total (how many chunks), so a consumer knows when it has them all.
Memory: two chunks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from rostersync.notify import events
from rostersync.settings import get_settings
from rostersync.store.codec import format_datetime, parse_datetime
from rostersync.store.roster import INACTIVE

# Chunks stay well under the entry limit (the rest of the detail is small and fixed).
CHUNK_BYTES = 200 * 1024

# counts' record types -> (table setting, key attribute, change type)
_TABLES = (
    (("schools",), "schools_table", "schoolId", "school"),
    (("classes",), "classes_table", "classId", "class"),
    (("teachers", "students"), "users_table", "userId", "user"),
    (("enrollments",), "enrollments_table", "enrollmentId", "enrollment"),
)


def changed_types(counts: dict) -> set[str]:
    return {
        t
        for t, c in (counts or {}).items()
        if int(c.get("created", 0)) + int(c.get("updated", 0)) + int(c.get("deactivated", 0)) > 0
    }


def changes(
    client, district_id: str, run_id: str, counts: dict, run_started: datetime, since: datetime | None = None
) -> Iterator[dict]:
    """The run's changed records, table by table (only tables whose counts show changes)."""
    types = changed_types(counts)
    settings = get_settings()
    for record_types, table_setting, key, change_type in _TABLES:
        if not types.intersection(record_types):
            continue
        query = {
            "TableName": getattr(settings, table_setting),
            "KeyConditionExpression": "districtId = :d",
            "ProjectionExpression": "#k, #s, updatedAt, createdAt, lastChange",
            "ExpressionAttributeNames": {"#k": key, "#s": "status"},
            "ExpressionAttributeValues": {":d": {"S": district_id}},
        }
        if change_type == "school":
            query["FilterExpression"] = "updatedAt >= :started"
            query["ExpressionAttributeValues"][":started"] = {"S": _text(run_started)}
        else:
            query["FilterExpression"] = "lastRunId = :r"
            query["ExpressionAttributeValues"][":r"] = {"S": run_id}
        for page in client.get_paginator("query").paginate(**query):
            for item in page["Items"]:
                updated = _time(item.get("updatedAt"))
                if since is not None and (updated is None or updated < since):
                    continue  # written before the approval: announced by the run's first pass
                if item.get("status", {}).get("S") == INACTIVE:
                    change = "deactivated"
                elif change_type == "school":
                    created = (_time(item.get("createdAt")) or run_started) >= run_started
                    change = "created" if created else "updated"
                else:
                    change = "created" if item.get("lastChange", {}).get("S") == "created" else "updated"
                yield {"type": change_type, "id": item[key]["S"], "change": change}


def _text(value: datetime) -> str:
    return format_datetime(value)


def _time(attribute: dict | None) -> datetime | None:
    if not attribute or "S" not in attribute:
        return None
    try:
        return parse_datetime(attribute["S"])
    except ValueError:
        return None


def chunks(
    district_id: str, run_id: str, change_set: str, records: Iterator[dict], chunk_bytes: int | None = None
) -> Iterator[dict]:
    """Roster Changed details, in order; the last has last=true and total."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    held: dict | None = None
    current: list[dict] = []
    size = 0
    sequence = 0

    def detail(items: list[dict]) -> dict:
        return {
            "districtId": district_id,
            "runId": run_id,
            "changeSet": change_set,
            "sequence": sequence,
            "last": False,
            "changes": items,
        }

    for record in records:
        record_size = len(json.dumps(record, separators=(",", ":"))) + 1
        if current and size + record_size > chunk_bytes:
            sequence += 1
            if held is not None:
                yield held
            held, current, size = detail(current), [], 0
        current.append(record)
        size += record_size
    if current or held is None:
        sequence += 1
        if held is not None:
            yield held
        held = detail(current)
    held["last"] = True
    held["total"] = sequence
    yield held


def announce(
    client, district_id: str, run_id: str, counts: dict, run_started: datetime, approved_at: datetime | None = None
) -> int:
    """Put the run's Roster Changed events; how many chunks (0 when nothing changed)."""
    if not changed_types(counts):
        return 0
    change_set = "approval" if approved_at is not None else "run"
    records = changes(client, district_id, run_id, counts, run_started, since=approved_at)
    total = 0
    for detail in chunks(district_id, run_id, change_set, records):
        events.put(events.ROSTER_CHANGED, detail)
        total += 1
    return total
