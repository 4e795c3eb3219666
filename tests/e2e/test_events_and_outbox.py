"""`rostersync local events [--follow]` and `rostersync local outbox` against the local stack: a
good sync and a night with revoked credentials, as a district admin and on-call would see them."""

import json
import subprocess
import threading
import time

import pytest

from tests.fixtures.districts import connect_district
from tests.fixtures.stack import (
    api,
    rostersync_command,
    subprocess_env,
)

pytestmark = pytest.mark.e2e


def local(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [rostersync_command(), "local", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(stack.state_dir),
    )


def sync(stack, client, district_id: str) -> dict:
    status, body = client.post(f"/districts/{district_id}/syncs", {"mode": "full"})
    assert status == 202, body
    stack.wait_until_idle(timeout=120)
    return client.get(f"/districts/{district_id}/syncs/{body['runId']}")[1]


def test_events_newest_first_follow_and_the_outbox(local_stack, make_sandbox_sis):
    sis = make_sandbox_sis()
    district = connect_district(sis)
    client = api(local_stack, local_stack.token("district_admin", district))
    status, body = client.request("PATCH", f"/districts/{district}", json={"contacts": ["it@district.example.org"]})
    assert status == 200, body

    assert sync(local_stack, client, district)["status"] == "succeeded"
    sis.set_quirks(revoke_credentials=True)
    failed = sync(local_stack, client, district)
    assert failed["status"] == "failed"

    listed = local(local_stack, "events", "--json", "--district", district)
    assert listed.returncode == 0, listed.stderr
    events = [json.loads(line) for line in listed.stdout.splitlines()]
    types = [e["detail-type"] for e in events]
    assert types[0] in ("Sync Failed", "Connection Unhealthy")  # newest first: the failed night's
    assert types[-1] in ("Sync Succeeded", "Roster Changed") and "Sync Succeeded" in types
    assert [e["keptAt"] for e in events] == sorted((e["keptAt"] for e in events), reverse=True)
    assert {"Sync Failed", "Connection Unhealthy"} <= set(types[:2])
    only = local(local_stack, "events", "--type", "Sync Failed")
    assert only.returncode == 0 and failed["runId"] in only.stdout and "Sync Succeeded" not in only.stdout
    assert sis.config.client_secret not in listed.stdout

    box = local(local_stack, "outbox")
    assert box.returncode == 0, box.stderr
    assert "connection_unhealthy" in box.stdout and "it@district.example.org" in box.stdout and " sent " in box.stdout
    assert "step 2" in box.stdout and sis.config.client_secret not in box.stdout
    assert json.loads(local(local_stack, "outbox", "--json").stdout)[0]["kind"] == "connection_unhealthy"

    # --follow: what is there, then each new event as it is put.
    follower = subprocess.Popen(
        [rostersync_command(), "local", "events", "--follow", "--district", district],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=subprocess_env(local_stack.state_dir),
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(follower.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while len(lines) < len(events) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(lines) == len(events)
        sis.set_quirks(revoke_credentials=False)
        assert sync(local_stack, client, district)["status"] == "succeeded"
        deadline = time.monotonic() + 30
        # The follower polls: the two events of the healed night may reach it in separate polls.
        wanted = ("Connection Restored", "Sync Succeeded")
        while time.monotonic() < deadline and not all(any(w in line for line in lines[len(events) :]) for w in wanted):
            time.sleep(0.1)
        new = lines[len(events) :]
        assert all(any(w in line for line in new) for w in wanted), new
    finally:
        follower.terminate()
        follower.wait(10)
