from datetime import UTC, date, datetime

import pytest

from rostersync.sync.schedule import is_due, next_sync_at, night_at, zone


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_night_is_the_districts_own_local_night():
    # 08:30 UTC is 02:30 in Chicago (CST, UTC-6) but 03:30 in New York: both in their night.
    assert night_at("America/Chicago", utc("2026-12-02T08:30:00")) == date(2026, 12, 2)
    assert night_at("America/New_York", utc("2026-12-02T08:30:00")) == date(2026, 12, 2)
    # 06:30 UTC: 00:30 in Chicago (before its night), 01:30 in New York (its night).
    assert night_at("America/Chicago", utc("2026-12-02T06:30:00")) is None
    assert night_at("America/New_York", utc("2026-12-02T06:30:00")) == date(2026, 12, 2)


def test_due_once_per_night_and_never_before_the_start_date():
    start = date(2026, 12, 2)
    assert is_due("America/Chicago", start, utc("2026-12-01T08:00:00"), None) is None  # night before start
    assert is_due("America/Chicago", start, utc("2026-12-02T08:00:00"), None) == date(2026, 12, 2)
    assert is_due("America/Chicago", start, utc("2026-12-02T09:00:00"), "2026-12-02") is None  # already ran
    assert is_due("America/Chicago", start, utc("2026-12-03T08:00:00"), "2026-12-02") == date(2026, 12, 3)


def test_next_sync_at_is_the_next_window_opening():
    # Daytime on the start date in Chicago: tonight's window already passed at 07:00 UTC.
    assert next_sync_at("America/Chicago", date(2026, 12, 2), utc("2026-12-02T16:00:00")) == utc("2026-12-03T07:00:00")
    # Start date in the future: that night's window.
    assert next_sync_at("America/Chicago", date(2026, 12, 10), utc("2026-12-02T16:00:00")) == utc("2026-12-10T07:00:00")
    # Inside a due window: now.
    assert next_sync_at("America/Chicago", date(2026, 12, 2), utc("2026-12-02T08:00:00")) == utc("2026-12-02T08:00:00")
    # Inside a window that already ran: the next night.
    assert next_sync_at("America/Chicago", date(2026, 12, 2), utc("2026-12-02T08:00:00"), "2026-12-02") == utc(
        "2026-12-03T07:00:00"
    )


def test_half_hour_zone_and_unknown_zone():
    assert night_at("Asia/Kolkata", utc("2026-12-01T20:00:00")) == date(2026, 12, 2)  # 01:30 IST
    with pytest.raises(ValueError):
        zone("Mars/Olympus_Mons")
