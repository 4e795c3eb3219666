"""Nightly syncs on the local stack: the dispatcher ticked as EventBridge would at instants
around midnight in two time zones and across a start date; the worker syncs each district
from the sandbox SIS once per night; the run history shows it through the HTTP API."""

import pytest

from tests.fixtures.districts import connect_district
from tests.fixtures.stack import (
    api,
)

pytestmark = pytest.mark.e2e

# (instant, what the dispatcher should enqueue then) for Chicago (UTC-6) and Kolkata (UTC+5:30),
# both starting on 2026-12-02. Chicago's night is 07:00-11:00 UTC; Kolkata's is 19:30-23:30
# UTC of the day before.
TICKS = [
    ("2026-11-30T20:00:00Z", set()),  # Kolkata's night of 12-01: before its start date
    ("2026-12-01T05:59:00Z", set()),  # 23:59 in Chicago
    ("2026-12-01T07:00:00Z", set()),  # Chicago's night of 12-01: before its start date
    ("2026-12-01T18:30:00Z", set()),  # 00:00 in Kolkata on 12-02: not yet the night
    ("2026-12-01T19:30:00Z", {"kolkata"}),  # 01:00 in Kolkata on its start date
    ("2026-12-01T20:00:00Z", set()),  # the same night again
    ("2026-12-02T06:00:00Z", set()),  # 00:00 in Chicago on 12-02
    ("2026-12-02T07:00:00Z", {"chicago"}),  # 01:00 in Chicago on its start date
    ("2026-12-02T07:00:00Z", set()),  # the dispatcher retried at the same instant
    ("2026-12-02T10:30:00Z", set()),  # late in the same night
    ("2026-12-02T19:30:00Z", {"kolkata"}),  # Kolkata's next night
    ("2026-12-03T07:30:00Z", {"chicago"}),  # Chicago's next night
]


def test_each_district_is_synced_once_per_night_from_its_start_date(local_stack, make_sandbox_sis, monkeypatch):
    # No spread: each night's run is due at 01:00 local, the instants below (the spread itself is
    # tests/unit/sync/test_dispatch.py's).
    monkeypatch.setenv("ROSTERSYNC_DISPATCH_SPREAD_S", "0")
    sis = make_sandbox_sis()
    districts = {
        "chicago": connect_district(sis, timezone_name="America/Chicago", start_date="2026-12-02"),
        "kolkata": connect_district(sis, timezone_name="Asia/Kolkata", start_date="2026-12-02"),
    }
    clients = {
        name: api(local_stack, local_stack.token("district_admin", district_id))
        for name, district_id in districts.items()
    }
    expected = {name: 0 for name in districts}

    for instant, due in TICKS:
        summary = local_stack.tick(instant)
        assert summary["enqueued"] == len(due), (instant, summary)
        local_stack.wait_until_idle(timeout=180)
        for name in due:
            expected[name] += 1
        for name, district_id in districts.items():
            status, body = clients[name].get(f"/districts/{district_id}/syncs", params={"limit": "50"})
            assert status == 200, body
            runs = body["syncs"]
            assert len(runs) == expected[name], (instant, name, runs)
            assert all(run["trigger"] == "nightly" and run["status"] == "succeeded" for run in runs), runs

    for name, district_id in districts.items():
        runs = clients[name].get(f"/districts/{district_id}/syncs")[1]["syncs"]
        assert len(runs) == 2
        newest, first = runs
        # The first night read everything; the run history has its timings and counts.
        assert first["mode"] == "full" and first["startedAt"] and first["finishedAt"]
        assert first["counts"]["students"]["created"] > 0 and first["counts"]["classes"]["created"] > 0
        assert newest["counts"]["students"]["created"] == 0  # nothing new in the SIS the next night
        status, users = clients[name].get(f"/districts/{district_id}/users", params={"role": "student", "limit": "5"})
        assert status == 200 and len(users["users"]) == 5 and users["nextCursor"]
