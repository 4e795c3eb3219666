"""Issue 30: nothing of a stopped run lands late, on the local stack with two workers.

- A take-over: a full sync waits on a slow /enrollments page until its lock looks stale; a
  preview (which writes no roster item) takes the district over and ends; the stalled
  invocation's page then arrives and every write batch it tries is refused: the district's
  users and enrollments tables stay empty (a full sync writes those after its enrollments).
- A rejection: a held sync's first invocation hangs on a slow /enrollments page past its lease;
  a duplicate delivery finishes the run as needs_review and an admin rejects it; the SIS then
  changes every enrollment's endDate, which the hung invocation reads and tries to write: refused,
  no stored enrollment has the new endDate.

Staleness is made by moving the lifecycle's clock (sync/run_lifecycle.py `clock`, as its tests
do), not by waiting 15 minutes. Each test counts the fence's refusals of the stopped run, so
it fails if the late writer never reached a write (a test that could not see the race).
"""

import json
import os
import time

import pytest

from tests.fixtures.districts import connect_district
from tests.fixtures.stack import (
    api,
    local_stack,  # noqa: F401  (a fixture; tests/conftest.py does not load this plugin)
)

pytestmark = pytest.mark.e2e

SLOW_PAGE_MS = 25_000  # below the sync's 30 s read timeout: the page arrives, late, after the stop
NEW_END_DATE = "2099-06-30"
START_DATE = "2026-01-01"  # connect_district's


class Refusals:
    """Wraps run_lifecycle.fence: counts, per run, the write batches its check refused."""

    def __init__(self, monkeypatch):
        from rostersync.sync import run_lifecycle

        self.by_run: dict[str, int] = {}
        real = run_lifecycle.fence

        def fence(run):
            check = real(run)

            def counted() -> None:
                try:
                    check()
                except run_lifecycle.LockLost:
                    self.by_run[run.run_id] = self.by_run.get(run.run_id, 0) + 1
                    raise

            return counted

        monkeypatch.setattr(run_lifecycle, "fence", fence)


def _shift_lifecycle_clock(monkeypatch, seconds: float) -> None:
    from rostersync.sync import run_lifecycle

    monkeypatch.setattr(run_lifecycle, "clock", lambda: time.time() + seconds)


def _wait_status(admin, district: str, run_id: str, wanted: set[str], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, run = admin.get(f"/districts/{district}/syncs/{run_id}")
        assert status == 200, run
        if run["status"] in wanted:
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
        time.sleep(0.3)


def _wait_slow_page_taken(sis, timeout: float = 120) -> float:
    """Until the slow fault has fired (the sync is inside that page); when it did (monotonic)."""
    deadline = time.monotonic() + timeout
    while sis.app.faults.pending():
        assert time.monotonic() < deadline, "the sync never reached its enrollments"
        time.sleep(0.05)
    return time.monotonic()


def _items(aws, district: str, table: str) -> list[dict]:
    """Every item of `table` whose districtId is the district's (a scan: indexes are not trusted)."""
    pages = aws.client("dynamodb").get_paginator("scan").paginate(TableName=table)
    return [item for page in pages for item in page["Items"] if item.get("districtId", {}).get("S") == district]


@pytest.fixture
def two_workers(local_stack):  # noqa: F811
    from rostersync_tools.local.worker_loop import WorkerLoop

    second = WorkerLoop(local_stack.aws.client("sqs"), os.environ["SYNC_QUEUE_URL"]).start()
    try:
        yield local_stack, second
    finally:
        second.stop()


def _settle(stack, second) -> None:
    stack.wait_until_idle(timeout=90)
    second.wait_until_idle(timeout=90)


def test_a_taken_over_stalled_run_lands_nothing_late(two_workers, make_sandbox_sis, monkeypatch):
    from rostersync.sync import run_lifecycle

    stack, second = two_workers
    refusals = Refusals(monkeypatch)
    sis = make_sandbox_sis()
    district = connect_district(sis)
    admin = api(stack, stack.token("district_admin", district))
    sis.inject("slow", count=1, path="/enrollments", ms=SLOW_PAGE_MS)
    status, stalled = admin.post(f"/districts/{district}/syncs", json={"mode": "full"})
    assert status == 202, stalled
    slow_since = _wait_slow_page_taken(sis)

    # Its worker has stopped heart-beating, as far as the lock can tell: a newer run takes over.
    _shift_lifecycle_clock(monkeypatch, run_lifecycle.RUNNING_LOCK_SECONDS + 60)
    status, preview = admin.post(f"/districts/{district}/sync-config/preview", json={"startDate": START_DATE})
    assert status == 202, preview
    assert _wait_status(admin, district, preview["runId"], {"succeeded", "failed"})["status"] == "succeeded"
    old = _wait_status(admin, district, stalled["runId"], {"failed"})
    assert "took over" in old["failure"], old
    assert time.monotonic() - slow_since < SLOW_PAGE_MS / 1000, "the take-over came after the slow page: no race"

    _settle(stack, second)
    assert not sis.app.faults.pending()
    assert refusals.by_run.get(stalled["runId"], 0) >= 1  # the stalled invocation did try to write, late
    assert _items(stack.aws, district, "EnrollmentsTable") == []
    assert _items(stack.aws, district, "UsersTable") == []
    assert _items(stack.aws, district, "ClassesTable")  # written before the stall, while it held the lock


def test_a_rejected_runs_late_writes_land_nothing(two_workers, make_sandbox_sis, monkeypatch):
    from rostersync.sync import messages, run_lifecycle

    stack, second = two_workers
    refusals = Refusals(monkeypatch)
    sis = make_sandbox_sis()
    district = connect_district(sis)
    admin = api(stack, stack.token("district_admin", district))
    status, first = admin.post(f"/districts/{district}/syncs", json={"mode": "full"})
    assert status == 202, first
    assert _wait_status(admin, district, first["runId"], {"succeeded", "failed"})["status"] == "succeeded"
    stored_before = {i["sisSourcedId"]["S"]: i.get("endDate") for i in _items(stack.aws, district, "EnrollmentsTable")}
    assert stored_before

    # One school of three: deactivating the other two's records is more than the guard allows.
    with sis.app.store.lock:
        schools = sorted(o["sourcedId"] for o in sis.app.store.snapshot()["orgs"] if o.get("type") == "school")
    status, config = admin.put(
        f"/districts/{district}/sync-config", json={"schools": schools[:1], "startDate": START_DATE, "enabled": True}
    )
    assert status == 200, config
    sis.inject("slow", count=1, path="/enrollments", ms=SLOW_PAGE_MS)
    status, held = admin.post(f"/districts/{district}/syncs", json={"mode": "full"})
    assert status == 202, held
    slow_since = _wait_slow_page_taken(sis)

    # Its lease runs out while it waits; SQS delivers the run's message again (at least once),
    # and that delivery finishes the run: held for review.
    _shift_lifecycle_clock(monkeypatch, run_lifecycle.LEASE_SECONDS + 60)
    stack.aws.client("sqs").send_message(
        QueueUrl=os.environ["SYNC_QUEUE_URL"], MessageBody=messages.RunMessage(district, held["runId"]).body()
    )
    finished = _wait_status(admin, district, held["runId"], {"needs_review", "failed", "succeeded"})
    assert finished["status"] == "needs_review", finished
    status, rejected = admin.post(f"/districts/{district}/syncs/{held['runId']}/reject", json={})
    assert status == 200, rejected
    assert rejected["status"] == "rejected"

    # What the hung invocation's page will carry: every enrollment changed.
    with sis.app.store.lock:
        enrollments = [e for e in sis.app.store.snapshot()["enrollments"] if e.get("status") == "active"]
    for enrollment in enrollments:
        sis.app.store.put("enrollments", {**enrollment, "endDate": NEW_END_DATE})
    assert time.monotonic() - slow_since < SLOW_PAGE_MS / 1000, "the rejection came after the slow page: no race"

    _settle(stack, second)
    assert not sis.app.faults.pending()
    assert refusals.by_run.get(held["runId"], 0) >= 1  # the hung invocation did try to write, late
    stored = _items(stack.aws, district, "EnrollmentsTable")
    assert stored
    landed = [i["sisSourcedId"]["S"] for i in stored if NEW_END_DATE in json.dumps(i.get("endDate"))]
    assert landed == []
    _, run = admin.get(f"/districts/{district}/syncs/{held['runId']}")
    assert run["status"] == "rejected"
