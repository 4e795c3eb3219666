"""Per-host politeness on the local stack: 30 districts on 3 sandbox SIS hosts, synced by eight
worker loops at once with a limit of 4 requests in flight per host. No host ever answers more
than 4 at once (each sandbox counts), every district is synced exactly, the limit really bound
(some runs were sent back later because their host was busy), and being sent back never
counted toward the dead-letter queue."""

import os

import pytest

from rostersync_tools.local.worker_loop import WorkerLoop
from tests.fixtures.count_checks import assert_counts_add_up
from tests.fixtures.districts import connect_district
from tests.fixtures.synced_roster import synced_roster

pytestmark = pytest.mark.e2e

LIMIT = 4
HOSTS = 3
DISTRICTS_PER_HOST = 10
EXTRA_WORKER_LOOPS = 11  # with the stack's own: twelve workers, each up to 4 pages in flight, for 12 slots
TINY_DISTRICT = {"schools": 1, "students": 24, "teachers": 3, "classes": 6, "enrollments": 60, "latency_ms": 80}


def plain(value):
    """A stored map as plain dicts (pynamodb hands nested maps back as MapAttributes)."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def test_thirty_districts_on_three_hosts_never_exceed_the_hosts_limit(local_stack, make_sandbox_sis, monkeypatch):
    from rostersync import aws_clients
    from rostersync.oneroster.hosts import Refusal
    from rostersync.store import sync_runs
    from rostersync.store.host_leases import DynamoHostGate
    from rostersync.sync import messages, run_lifecycle

    monkeypatch.setenv("ROSTERSYNC_HOST_MAX_CONCURRENT", str(LIMIT))
    monkeypatch.setenv("ROSTERSYNC_HOST_BUSY_DELAY_S", "1")
    monkeypatch.setenv("ROSTERSYNC_SIS_PAGE_LIMIT", "10")  # several pages per collection
    hosts = [make_sandbox_sis(**TINY_DISTRICT) for _ in range(HOSTS)]
    districts = {
        connect_district(sis, start_date="2026-01-01"): sis for sis in hosts for _ in range(DISTRICTS_PER_HOST)
    }
    for sis in hosts:
        sis.reset_stats()

    refusals = []
    take = DynamoHostGate.take

    def counted_take(gate, host, holder):
        answer = take(gate, host, holder)
        if isinstance(answer, Refusal):
            refusals.append(host)
        return answer

    monkeypatch.setattr(DynamoHostGate, "take", counted_take)
    sqs = aws_clients.sqs()
    loops = [WorkerLoop(sqs).start() for _ in range(EXTRA_WORKER_LOOPS)]
    try:
        runs = {d: run_lifecycle.start_run(d, "manual", "full") for d in districts}
        assert messages.send_run_messages([messages.RunMessage(d, r.run_id) for d, r in runs.items()]) == []
        local_stack.wait_until_idle(timeout=240)
        for loop in loops:
            loop.wait_until_idle(timeout=60)
    finally:
        for loop in loops:
            loop.stop()

    peaks = [sis.stats()["inFlightPeak"] for sis in hosts]
    assert all(1 < peak <= LIMIT for peak in peaks), peaks
    finished = {d: sync_runs.get_run(d, r.run_id) for d, r in runs.items()}
    assert {run.status for run in finished.values()} == {"succeeded"}, {
        d: (run.status, run.failure) for d, run in finished.items() if run.status != "succeeded"
    }
    for sis in hosts:
        data = sis.state()["data"]
        on_host = [d for d, of in districts.items() if of is sis]
        rosters = [synced_roster(d) for d in on_host]
        assert rosters[0]["users"] and all(roster == rosters[0] for roster in rosters)
        for district_id in on_host:
            assert_counts_add_up(plain(finished[district_id].counts), data)  # each listed record, once
            assert finished[district_id].dead_lettered_at is None
    # The limit bound (slots were refused); on which hosts depends on the timing. The next test
    # binds it on purpose.
    assert refusals, "the limit never bound"
    sent_back = sum(int(run.invocations or 0) - 1 for run in finished.values())
    print(f"in flight at most {peaks} per host; {len(refusals)} slots refused; {sent_back} slices sent back later")
    dlq = os.environ["SYNC_DLQ_URL"]
    attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_districts_of_a_host_with_no_free_slot_come_back_later_and_finish(local_stack, make_sandbox_sis, monkeypatch):
    """Another worker holds the host's only slot: every district's slice ends at once and its
    message comes back with a delay, again and again, never toward the dead-letter queue; when
    the slot is given back they all finish."""
    import time

    from rostersync import aws_clients
    from rostersync.oneroster.hosts import Slot, host_key
    from rostersync.store import host_leases, sync_runs
    from rostersync.sync import messages, run_lifecycle

    monkeypatch.setenv("ROSTERSYNC_HOST_BUSY_DELAY_S", "1")
    sis = make_sandbox_sis(**TINY_DISTRICT)
    host = host_key(sis.host_url)
    host_leases.set_limit(host, 1, by="test")
    gate = host_leases.DynamoHostGate()
    held = gate.take(host, "another-worker")
    assert isinstance(held, Slot)
    district_ids = [connect_district(sis, start_date="2026-01-01") for _ in range(3)]
    runs = {d: run_lifecycle.start_run(d, "manual", "full") for d in district_ids}
    assert messages.send_run_messages([messages.RunMessage(d, r.run_id) for d, r in runs.items()]) == []

    deadline = time.monotonic() + 60
    while min(int(sync_runs.get_run(d, r.run_id).invocations or 0) for d, r in runs.items()) < 2:
        assert time.monotonic() < deadline, "the districts were not sent back"
        time.sleep(0.2)
    assert sis.stats()["requests"] == 0  # nobody asked the SIS anything while its slot was held
    for district_id, run in runs.items():
        stored = sync_runs.get_run(district_id, run.run_id)
        assert stored.status == "running" and stored.failure is None

    gate.give_back([held], "another-worker")
    local_stack.wait_until_idle(timeout=120)
    finished = [sync_runs.get_run(d, r.run_id) for d, r in runs.items()]
    assert [run.status for run in finished] == ["succeeded"] * 3
    assert sis.stats()["inFlightPeak"] == 1
    dlq = os.environ["SYNC_DLQ_URL"]
    attributes = aws_clients.sqs().get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
