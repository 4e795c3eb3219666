"""When a district's nightly sync is due: its own night, in its own time zone.

A district's night is 01:00-05:00 local time, named by its local date. A nightly sync is due
when that night has come, the night's date is on or after the configured start date, and no
nightly run was created for that night yet. The dispatcher runs every 30 minutes all day, so
each district is caught within its window whatever its zone (half-hour zones included).
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NIGHT_STARTS = time(1, 0)
NIGHT_ENDS = time(5, 0)


def zone(name: str) -> ZoneInfo:
    """The IANA zone; raises ValueError for an unknown name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


def local_today(tz_name: str, now: datetime) -> date:
    return now.astimezone(zone(tz_name)).date()


def night_at(tz_name: str, now: datetime) -> date | None:
    """The local date whose night `now` falls in, or None outside the night window."""
    local = now.astimezone(zone(tz_name))
    if NIGHT_STARTS <= local.time() < NIGHT_ENDS:
        return local.date()
    return None


def is_due(tz_name: str, start_date: date, now: datetime, last_nightly_night: str | None) -> date | None:
    """The night to sync now, or None when nothing is due."""
    night = night_at(tz_name, now)
    if night is None or night < start_date:
        return None
    if last_nightly_night is not None and last_nightly_night >= night.isoformat():
        return None
    return night


def night_window_start(tz_name: str, night: date) -> datetime:
    """UTC instant at which `night`'s window opens (a DST gap resolves forward)."""
    local = datetime.combine(night, NIGHT_STARTS, tzinfo=zone(tz_name))
    # Round-trip through UTC: a wall time inside a DST gap becomes a real instant.
    return local.astimezone(UTC)


def next_sync_at(tz_name: str, start_date: date, now: datetime, last_nightly_night: str | None = None) -> datetime:
    """The earliest instant, from now on, at which a nightly sync is due (UTC)."""
    now = now.astimezone(UTC)
    if is_due(tz_name, start_date, now, last_nightly_night):
        return now
    night = max(local_today(tz_name, now), start_date)
    for _ in range(3):  # today's window may have passed or already run; tomorrow's has not
        opens = night_window_start(tz_name, night)
        already_ran = last_nightly_night is not None and last_nightly_night >= night.isoformat()
        if opens >= now and not already_ran:
            return opens
        night += timedelta(days=1)
    return night_window_start(tz_name, night)
