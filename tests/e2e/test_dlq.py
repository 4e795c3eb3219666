"""Nightly syncs of unreachable districts on the local stack: each failing night lands in the
dead-letter queue without blocking the next night; on-call replays one district with
--district and the rest later, one replay per district whatever the number of failed nights."""

import json

import pytest

from tests.e2e.test_replay import ops, poison
from tests.fixtures.districts import connect_district
from tests.fixtures.stack import (
    api,
)

pytestmark = pytest.mark.e2e


def dead_lettered(stack) -> list[tuple[str, str]]:
    listing = ops(stack, "dlq", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    return sorted((letter["districtId"], letter["runId"]) for letter in json.loads(listing.stdout))


def repair(district_id: str, sis) -> None:
    from rostersync.store.districts import DistrictModel

    DistrictModel(district_id).update(actions=[DistrictModel.connection.host_url.set(sis.host_url)])


def test_failed_nights_wait_in_the_dead_letter_queue_and_replay_per_district(
    local_stack, make_sandbox_sis, monkeypatch
):
    monkeypatch.setenv("ROSTERSYNC_LOCAL_RETRY_DELAY_S", "0")  # retries at once: the DLQ in seconds
    sis = make_sandbox_sis()
    first, second = (connect_district(sis, start_date="2026-12-02") for _ in range(2))
    for district in (first, second):
        poison(district)

    def history(district):
        client = api(local_stack, local_stack.token("district_admin", district))
        return [
            (run["trigger"], run["status"], run["runId"])
            for run in client.get(f"/districts/{district}/syncs")[1]["syncs"]
        ]

    assert local_stack.tick("2026-12-02T07:00:00Z")["enqueued"] == 2
    local_stack.wait_until_idle(timeout=240)
    night_one = {d: history(d)[0][2] for d in (first, second)}
    assert all(history(d)[0][:2] == ("nightly", "failed") for d in (first, second))
    assert dead_lettered(local_stack) == sorted((d, night_one[d]) for d in (first, second))

    # One district repaired and replayed on its own; the other stays in the queue.
    repair(first, sis)
    redriven = ops(local_stack, "redrive", "--district", first, "--yes", "--no-follow")
    assert redriven.returncode == 0 and "(trigger replay)" in redriven.stdout
    local_stack.wait_until_idle(timeout=180)
    assert [h[:2] for h in history(first)] == [("replay", "succeeded"), ("nightly", "failed")]
    assert dead_lettered(local_stack) == [(second, night_one[second])]

    # The next night is dispatched for both: a failed night holds no lock.
    assert local_stack.tick("2026-12-03T07:00:00Z")["enqueued"] == 2
    local_stack.wait_until_idle(timeout=240)
    assert history(first)[0][:2] == ("nightly", "succeeded")
    night_two = history(second)[0][2]
    assert dead_lettered(local_stack) == sorted([(second, night_one[second]), (second, night_two)])

    # Two failed nights of one district: one replay (of the latest), both messages gone.
    repair(second, sis)
    assert ops(local_stack, "redrive", "--yes", "--no-follow").returncode == 0
    local_stack.wait_until_idle(timeout=180)
    runs = history(second)
    assert [r[:2] for r in runs] == [("replay", "succeeded"), ("nightly", "failed"), ("nightly", "failed")]
    client = api(local_stack, local_stack.token("district_admin", second))
    assert client.get(f"/districts/{second}/syncs/{runs[0][2]}")[1]["replayOf"] == night_two
    assert dead_lettered(local_stack) == []
