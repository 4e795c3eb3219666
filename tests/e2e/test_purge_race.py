"""Issue 30: a purge is final. A district's full sync is waiting out an SIS's 429s (Retry-After)
on /enrollments while a platform admin confirms the district's purge; a second worker carries
the purge out. Its writes after the wait are fenced off (sync/run_lifecycle.py), and the purge
says done only after the stopped invocation's end and a final pass: then a scan of every table
finds nothing of the district but the tombstone, and the other district is untouched."""

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

WORKER_TIMEOUT_S = 60  # each invocation's end bounds when its last write can land
# A Retry-After of at most 2 s is waited out inside the page (a longer one pauses the host and ends
# the slice: oneroster/hosts.py), and the client retries a page five times.
RETRY_AFTER_S = 2
SLOW_ANSWERS = 5  # 10 s of waiting on one enrollments page, inside the slice


def _every_item_of(aws, district_id: str) -> list[tuple[str, dict]]:
    from rostersync_tools.local.template_resources import load_template, table_definitions

    dynamodb = aws.client("dynamodb")
    found = []
    for table in table_definitions(load_template()):
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            found += [(table, item) for item in page["Items"] if district_id in json.dumps(item)]
    return found


def test_a_purge_confirmed_mid_page_leaves_only_the_tombstone(local_stack, make_sandbox_sis, monkeypatch):  # noqa: F811
    from rostersync_tools.local.worker_loop import WorkerLoop

    monkeypatch.setenv("ROSTERSYNC_LOCAL_WORKER_TIMEOUT_S", str(WORKER_TIMEOUT_S))
    sis = make_sandbox_sis()
    district = connect_district(sis)
    neighbour = connect_district(sis)
    second_worker = WorkerLoop(local_stack.aws.client("sqs"), os.environ["SYNC_QUEUE_URL"]).start()
    try:
        admin = api(local_stack, local_stack.token("district_admin", district))
        platform = api(local_stack, local_stack.token("platform_admin"))
        sis.inject("429", count=SLOW_ANSWERS, path="/enrollments", retry_after=RETRY_AFTER_S)
        status, started = admin.post(f"/districts/{district}/syncs", json={"mode": "full"})
        assert status == 202, started

        # Wait for the sync to be inside its slow enrollments page (the first 429 answered).
        deadline = time.monotonic() + 90
        while not sis.app.faults.pending() or sis.app.faults.pending()[0]["remaining"] == SLOW_ANSWERS:
            assert time.monotonic() < deadline, "the sync never reached its enrollments"
            time.sleep(0.1)
        status, asked = admin.delete(f"/districts/{district}")
        assert status == 202, asked
        status, confirmed = platform.delete(f"/districts/{district}", params={"confirm": district})
        assert status == 202, confirmed

        deadline = time.monotonic() + WORKER_TIMEOUT_S + 90
        seen = []
        while True:
            status, purge = admin.get(f"/districts/{district}/purge")
            assert status == 200, purge
            seen.append(purge["status"])
            if purge["status"] == "done" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert purge["status"] == "done", seen
        assert "running" in seen  # it waited for the stopped invocation before it said done
        # Let the stopped sync finish its slow page and try to write, as it would on AWS.
        deadline = time.monotonic() + 60
        while sis.app.faults.pending():
            assert time.monotonic() < deadline, "the stopped sync never read on"
            time.sleep(0.2)
        local_stack.wait_until_idle(timeout=60)
        second_worker.wait_until_idle(timeout=60)
        left = _every_item_of(local_stack.aws, district)
        assert [(table, item.get("action", {}).get("S")) for table, item in left] == [
            ("AuditTable", "district.purged")
        ], [table for table, _ in left]
        assert [table for table, _ in _every_item_of(local_stack.aws, neighbour)] == ["DistrictsTable"]  # untouched
    finally:
        second_worker.stop()
