"""Events on the stack's own EventBridge bus (docs/events.md; schemas in notify/schemas.py).

Every event has source `rostersync` and a detail that starts with districtId. PutEvents
takes at most 10 entries and 256 KB a request; one entry is at most 256 KB (its detail,
detail type, source and resources together), so callers keep each detail under
MAX_DETAIL_BYTES (Roster Changed is chunked to fit).
"""

from __future__ import annotations

import json
from datetime import datetime

from rostersync import aws_clients
from rostersync.settings import get_settings
from rostersync.times import iso_z, utc_now

SOURCE = "rostersync"
SYNC_SUCCEEDED = "Sync Succeeded"
SYNC_FAILED = "Sync Failed"
SYNC_HELD = "Sync Held For Review"
CONNECTION_UNHEALTHY = "Connection Unhealthy"
CONNECTION_RESTORED = "Connection Restored"
ROSTER_CHANGED = "Roster Changed"
DETAIL_TYPES = (SYNC_SUCCEEDED, SYNC_FAILED, SYNC_HELD, CONNECTION_UNHEALTHY, CONNECTION_RESTORED, ROSTER_CHANGED)

ENTRY_LIMIT_BYTES = 256 * 1024
MAX_ENTRIES_PER_REQUEST = 10
# What one detail may take: the entry's limit less room for its source and detail type.
MAX_DETAIL_BYTES = ENTRY_LIMIT_BYTES - 1024


class EventsNotPut(RuntimeError):
    """EventBridge refused some entries (their error codes, never their content)."""


def client():
    """The EventBridge client (rostersync.aws_clients; tests put a fake in its place here)."""
    return aws_clients.events()


def timestamp(value: datetime | None = None) -> str:
    """ISO 8601 in UTC with a Z, as every time in an event is written."""
    return iso_z(value or utc_now())


def entry(detail_type: str, detail: dict) -> dict:
    if detail_type not in DETAIL_TYPES:
        raise ValueError(f"unknown detail type {detail_type!r}")
    body = json.dumps(detail, separators=(",", ":"), ensure_ascii=False)
    if len(body.encode("utf-8")) > MAX_DETAIL_BYTES:
        raise ValueError(f"{detail_type} detail is {len(body.encode())} bytes, over {MAX_DETAIL_BYTES}")
    return {"Source": SOURCE, "DetailType": detail_type, "Detail": body, "EventBusName": get_settings().event_bus_name}


def put(detail_type: str, detail: dict) -> None:
    put_entries([entry(detail_type, detail)])


def put_entries(entries: list[dict]) -> None:
    """Put entries in requests of at most 10 entries and 256 KB; raise if any was refused."""
    batch: list[dict] = []
    size = 0
    for item in entries:
        item_size = len(item["Detail"].encode("utf-8")) + len(item["DetailType"]) + len(item["Source"])
        if batch and (len(batch) == MAX_ENTRIES_PER_REQUEST or size + item_size > ENTRY_LIMIT_BYTES):
            _put_batch(batch)
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        _put_batch(batch)


def _put_batch(batch: list[dict]) -> None:
    answer = client().put_events(Entries=batch)
    if answer.get("FailedEntryCount"):
        codes = sorted({e.get("ErrorCode", "?") for e in answer.get("Entries", []) if e.get("ErrorCode")})
        raise EventsNotPut(f"EventBridge refused {answer['FailedEntryCount']} of {len(batch)} entries: {codes}")
