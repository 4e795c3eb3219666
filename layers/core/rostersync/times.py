"""The time helpers: the current time in UTC, and how an instant is written in the API, in
events and in stored JSON (ISO 8601 in UTC with a Z, microseconds kept when there are any).

Every module that needs the time or writes one uses these, so a test can read one clock and
every answer writes times the same way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import overload
from zoneinfo import ZoneInfo


def utc_now() -> datetime:
    """Now, in UTC (an aware datetime)."""
    return datetime.now(UTC)


def iso_z(instant: datetime) -> str:
    """`instant` in UTC as ISO 8601 with a Z: 2026-12-01T08:00:00Z (or ...08:00:00.123456Z)."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


@overload
def iso_z_or_none(instant: datetime) -> str: ...
@overload
def iso_z_or_none(instant: None) -> None: ...
@overload
def iso_z_or_none(instant: datetime | None) -> str | None: ...
def iso_z_or_none(instant: datetime | None) -> str | None:
    """iso_z, with None for no instant."""
    return None if instant is None else iso_z(instant)


def now_iso_z() -> str:
    """Now, written as iso_z."""
    return iso_z(utc_now())


def local_date(instant: datetime, zone: str | None) -> date:
    """The date `instant` falls on in the IANA `zone` (a district's); UTC's for none or an unknown zone."""
    try:
        return instant.astimezone(ZoneInfo(zone)).date() if zone else instant.astimezone(UTC).date()
    except (KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError
        return instant.astimezone(UTC).date()


def iso_z_seconds(instant: datetime) -> str:
    """`instant` in UTC to the second: 2026-12-01T08:00:00Z (tables and command arguments)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
