"""SIS faults through the local stack: a manual sync started over HTTP, run by the real SQS
worker loop (functions/sync_worker/app.py, partial batch failures, redelivery), read back over
HTTP. The worker builds its own OneRoster client (real retries, real sleeps)."""

import functools
import time

import pytest

from tests.fixtures.districts import connect_district
from tests.fixtures.stack import api
from tests.reliability import figures
from tests.reliability.helpers import TINY, assert_like_oracle, assert_nothing_deactivated, stored


@pytest.fixture
def stack_district(local_stack, fault_sis, monkeypatch):
    monkeypatch.setenv("ROSTERSYNC_LOCAL_RETRY_DELAY_S", "0")  # a failed message comes back at once
    sis = fault_sis(**TINY)
    district = connect_district(sis)
    return local_stack, sis, district, api(local_stack, local_stack.token("district_admin", district))


def run_to_end(stack, client, district: str, timeout: float = 90) -> dict:
    status, body = client.post(f"/districts/{district}/syncs", json={"mode": "full"})
    assert status == 202, body
    run_id = body["runId"]
    deadline = time.monotonic() + timeout
    while True:
        status, run = client.get(f"/districts/{district}/syncs/{run_id}")
        assert status == 200, run
        if run["status"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, f"run still {run['status']} after {timeout} s"
        time.sleep(0.2)
    stack.wait_until_idle(timeout)
    return run


def test_the_worker_rides_out_retry_after_bursts_and_a_dropped_connection(stack_district):
    stack, sis, district, client = stack_district
    first = run_to_end(stack, client, district)
    assert first["status"] == "succeeded", first
    sis.advance_day()
    sis.reset_stats()
    sis.inject("503", count=2, path="/users", retry_after=1)
    sis.inject("429", count=1, path="/enrollments", retry_after=1)
    sis.inject("drop", count=1, path="/classes")
    figures.add("fault_scenarios", 3)
    started = time.monotonic()
    run = run_to_end(stack, client, district)
    assert run["status"] == "succeeded", run
    assert time.monotonic() - started >= 3.0  # three Retry-After: 1 waited out for real
    assert sis.app.faults.fired == 4
    assert run["counts"]["students"]["deactivated"] > 0 and run["errors"] == []
    assert_like_oracle(district, sis.state())


def test_a_lasting_sis_failure_fails_the_message_and_its_redelivery_completes_the_run(stack_district, monkeypatch):
    stack, sis, district, client = stack_district
    assert run_to_end(stack, client, district)["status"] == "succeeded"
    sis.advance_day()
    before = stored(district)
    # The worker's client waits less between retries here (its retries themselves are real), and
    # the failed message comes back after 3 s: time to look at the store between the attempts.
    from rostersync.oneroster import client as oneroster_client
    from rostersync.oneroster.retries import RetryPolicy
    from rostersync.store import sync_runs as run_store

    monkeypatch.setattr(oneroster_client, "RetryPolicy", functools.partial(RetryPolicy, base_delay=0.02))
    monkeypatch.setenv("ROSTERSYNC_LOCAL_RETRY_DELAY_S", "3")
    sis.inject("500", count=10_000, path="/enrollments")
    figures.add("fault_scenarios")
    status, body = client.post(f"/districts/{district}/syncs", json={"mode": "full"})
    assert status == 202, body
    run_id = body["runId"]
    deadline = time.monotonic() + 60
    while True:  # the first attempt fails: its lease is given back for the redelivery
        run = run_store.get_run(district, run_id)
        if int(run.invocations or 0) == 1 and run.lease_id is None and run.status == "running":
            break
        assert time.monotonic() < deadline, (run.status, run.invocations, run.lease_id)
        time.sleep(0.05)
    assert_nothing_deactivated(before, district)
    sis.clear_faults()
    sis.reset_stats()
    # Not wait_until_idle: while the failed message waits out its 3 s the queue looks idle.
    deadline = time.monotonic() + 120
    while (shown := client.get(f"/districts/{district}/syncs/{run_id}")[1])["status"] == "running":
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)
    assert shown["status"] == "succeeded", shown
    assert int(run_store.get_run(district, run_id).invocations) == 2  # the redelivery, resumed:
    assert "/classes" not in sis.stats()["byPath"]  # what was read before the failure is not read again
    assert shown["counts"]["students"]["deactivated"] > 0
    assert_like_oracle(district, sis.state())


def test_revoked_credentials_fail_the_run_with_a_reason_and_deactivate_nothing(stack_district):
    stack, sis, district, client = stack_district
    assert run_to_end(stack, client, district)["status"] == "succeeded"
    sis.advance_day()
    before = stored(district)
    sis.set_quirks(revoke_credentials=True)
    figures.add("fault_scenarios")
    run = run_to_end(stack, client, district)
    assert run["status"] == "failed", run
    assert run["failure"].startswith("The SIS refused the sync: ") and "client id and secret" in run["failure"]
    assert all(c["deactivated"] == 0 for c in run["counts"].values())
    assert_nothing_deactivated(before, district)
    status, again = client.post(f"/districts/{district}/syncs", json={})
    assert status == 202, again  # the failed run released the district: a new sync may start
    stack.wait_until_idle(60)
