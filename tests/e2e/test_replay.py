"""A poisoned district on the local stack: its sync fails every retry, lands in the
dead-letter queue, shows in `rostersync ops dlq list --local`, and after the admin fixes the
connection `rostersync ops redrive --local` replays it as a new run with trigger replay. A
healthy district synced alongside is not disturbed."""

import json
import socket
import subprocess

import pytest

from tests.fixtures.districts import connect_district
from tests.fixtures.stack import (
    api,
    rostersync_command,
    subprocess_env,
)

pytestmark = pytest.mark.e2e


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def poison(district_id: str) -> str:
    """Point the district's saved connection at a host where nothing listens."""
    from rostersync.store.districts import DistrictModel

    host = f"http://127.0.0.1:{closed_port()}"
    DistrictModel(district_id).update(actions=[DistrictModel.connection.host_url.set(host)])
    return host


def ops(stack, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real `rostersync ops ... --local` in another process, finding the stack by its state file
    (with no standard input, as in CI or a cron job)."""
    return subprocess.run(
        [rostersync_command(), "ops", *args, "--local"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(stack.state_dir),
        stdin=subprocess.DEVNULL,
    )


def test_a_poisoned_district_goes_to_the_dead_letter_queue_and_is_replayed(local_stack, make_sandbox_sis):
    sis = make_sandbox_sis()
    healthy, poisoned = connect_district(sis), connect_district(sis)
    poison(poisoned)
    as_healthy = api(local_stack, local_stack.token("district_admin", healthy))
    as_poisoned = api(local_stack, local_stack.token("district_admin", poisoned))

    good_run = as_healthy.post(f"/districts/{healthy}/syncs")[1]["runId"]
    status, body = as_poisoned.post(f"/districts/{poisoned}/syncs", {"mode": "full"})
    assert status == 202, body
    bad_run = body["runId"]
    local_stack.wait_until_idle(timeout=240)  # five receives, a short local retry delay each

    assert as_healthy.get(f"/districts/{healthy}/syncs/{good_run}")[1]["status"] == "succeeded"
    failed = as_poisoned.get(f"/districts/{poisoned}/syncs/{bad_run}")[1]
    assert failed["status"] == "failed" and failed["finishedAt"]
    assert "refused the connection" in failed["failure"] and "dead-letter queue" in failed["failure"]
    # The district is not left locked: a new sync could start (it would fail the same way).

    listing = ops(local_stack, "dlq", "list")
    assert listing.returncode == 0, listing.stderr
    assert poisoned in listing.stdout and bad_run in listing.stdout and "refused the connection" in listing.stdout
    assert healthy not in listing.stdout
    letters = json.loads(ops(local_stack, "dlq", "list", "--json").stdout)
    assert [(letter["districtId"], letter["runId"], letter["runStatus"]) for letter in letters] == [
        (poisoned, bad_run, "failed")
    ]
    assert letters[0]["receiveCount"] >= 5

    # The admin saves a working connection again (tested live), then on-call redrives.
    status, body = as_poisoned.put(
        f"/districts/{poisoned}/sis/connection",
        {"hostUrl": sis.host_url, "clientId": sis.config.client_id, "clientSecret": sis.config.client_secret},
    )
    assert status == 200, body
    # On-call looks with the CLI alone: the district's runs, the failed one in detail, the plan.
    runs = ops(local_stack, "runs", "--district", poisoned)
    assert runs.returncode == 0 and bad_run in runs.stdout and "failed" in runs.stdout
    detail = ops(local_stack, "run", bad_run, "--district", poisoned)
    assert detail.returncode == 0 and "refused the connection" in detail.stdout
    planned = ops(local_stack, "redrive", "--dry-run")
    assert planned.returncode == 0 and f"failed run {bad_run} is replayed" in planned.stdout
    refused = ops(local_stack, "redrive")  # nobody to confirm: nothing happens
    assert refused.returncode == 2 and "--yes" in refused.stderr

    redriven = ops(local_stack, "redrive", "--yes", "--timeout", "200", timeout=260)
    assert redriven.returncode == 0, redriven.stdout + redriven.stderr
    assert "(trigger replay)" in redriven.stdout
    assert f"district {poisoned}: replay" in redriven.stdout and "succeeded" in redriven.stdout
    local_stack.wait_until_idle(timeout=180)

    history = as_poisoned.get(f"/districts/{poisoned}/syncs")[1]["syncs"]
    assert [(run["trigger"], run["status"]) for run in history] == [("replay", "succeeded"), ("manual", "failed")]
    replay = history[0]
    assert replay["replayOf"] == bad_run and replay["counts"]["students"]["created"] > 0
    assert "empty" in ops(local_stack, "dlq", "list").stdout
    for output in (listing.stdout, listing.stderr, redriven.stdout, redriven.stderr):
        assert sis.config.client_secret not in output
