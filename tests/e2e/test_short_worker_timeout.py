"""Issue 18: a sync worker whose function timeout is too short for any slice does not pass a
run on forever: after a bounded number of passes the run fails, saying why, like any failed run."""

import time

import pytest

from rostersync.sync import run_lifecycle
from tests.fixtures.districts import connect_district
from tests.fixtures.stack import (
    api,
)

pytestmark = pytest.mark.e2e


def test_a_worker_timeout_too_short_for_a_slice_fails_the_run_saying_why(local_stack, make_sandbox_sis, monkeypatch):
    monkeypatch.setenv("ROSTERSYNC_LOCAL_WORKER_TIMEOUT_S", "17")  # under the 15 s reserve + a 10 s slice
    sis = make_sandbox_sis()
    district = connect_district(sis)
    client = api(local_stack, local_stack.token("district_admin", district))
    status, started = client.post(f"/districts/{district}/syncs", json={"mode": "full"})
    assert status == 202, started
    run_id = started["runId"]
    deadline = time.monotonic() + 60
    while True:
        status, run = client.get(f"/districts/{district}/syncs/{run_id}")
        if run["status"] in ("failed", "succeeded") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert run["status"] == "failed", run
    assert "17 s left" in run["failure"] and "needs at least 25 s" in run["failure"]
    assert f"passed on {run_lifecycle.MAX_STALLS} times" in run["failure"]
    local_stack.wait_until_idle(timeout=30)  # nothing keeps passing the run on
    # The district is free again: a sync can be started (and would run with a sane timeout).
    monkeypatch.delenv("ROSTERSYNC_LOCAL_WORKER_TIMEOUT_S")
    status, again = client.post(f"/districts/{district}/syncs", json={"mode": "full"})
    assert status == 202, again
