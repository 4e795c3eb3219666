"""The sync worker with the real engine against the sandbox SIS: a run cut into many
time-limited invocations (each continuing in a re-sent message) ends exactly like a run done
in one go, and its history records every invocation."""

from types import SimpleNamespace

import pytest

from tests.unit.sync.test_dispatch import drain
from tests.unit.sync.test_worker import FakeContext, sqs_event

DISTRICT = {"schools": 2, "students": 60, "teachers": 6, "classes": 12, "enrollments": 300, "page_cap": 25}


@pytest.fixture
def domain(clean_aws, monkeypatch):
    return engine_domain(clean_aws, monkeypatch)


def engine_domain(clean_aws, monkeypatch):
    from rostersync.store import sync_runs as store
    from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel
    from rostersync.sync import run_lifecycle, worker

    monkeypatch.setenv("ROSTERSYNC_SIS_PAGE_LIMIT", "25")  # several pages per collection
    return SimpleNamespace(
        aws=clean_aws,
        store=store,
        lifecycle=run_lifecycle,
        worker=worker,
        models=(UserModel, ClassModel, EnrollmentModel),
    )


def stored_state(domain, district_id: str) -> dict:
    """Each kind's records by SIS id with their status (ids and hashes are per district)."""
    return {
        model.__name__: {item.sis_sourced_id: item.status for item in model.query(district_id)}
        for model in domain.models
    }


def short_slice(worker, looks: int):
    """A slice whose time is up after `looks` readings of it (the worker's first look, then the
    engine's page checks and the client's reads): a cut that depends on the engine's steps, not
    on how fast this machine runs them."""

    class Counted(worker.Slice):
        def __call__(self) -> float:
            self.looks_left -= 1
            return self.seconds if self.looks_left > 0 else 0.0

    slice_ = Counted(60.0, 60.0 + worker.SAFETY_SECONDS)
    slice_.looks_left = looks
    return slice_


def work_until_done(domain, district_id: str, run_id: str, context: FakeContext, limit: int = 500) -> int:
    """Feed the worker its run's messages, as the queue would, until the run finishes."""
    deliveries = 0
    pending = [{"districtId": district_id, "runId": run_id, "action": "run"}]
    while pending:
        assert deliveries < limit, "the run never finished"
        answer = domain.worker.handle_batch(sqs_event((f"msg-{deliveries}", pending.pop(), 1)), context)
        assert answer == {"batchItemFailures": []}
        deliveries += 1
        pending = drain(domain)
        assert len(pending) <= 1  # one continuation at a time
    return deliveries


def test_a_run_cut_into_short_invocations_ends_like_one_done_at_once(
    domain, make_sandbox_sis, connected_district, monkeypatch
):
    sis = make_sandbox_sis(**DISTRICT)
    at_once, in_slices = connected_district(sis), connected_district(sis)

    whole = domain.lifecycle.start_run(at_once, "manual", "full")
    assert work_until_done(domain, at_once, whole.run_id, FakeContext(seconds=900)) == 1

    # Each invocation's time runs out after a few looks at the clock, however fast the machine:
    # the engine checkpoints and continues many times.
    monkeypatch.setattr(domain.worker.TimeBudget, "next_slice", lambda budget: short_slice(domain.worker, looks=6))
    sliced = domain.lifecycle.start_run(in_slices, "manual", "full")
    deliveries = work_until_done(domain, in_slices, sliced.run_id, FakeContext(seconds=900))
    assert deliveries > 5, deliveries

    done_whole = domain.store.get_run(at_once, whole.run_id)
    done_sliced = domain.store.get_run(in_slices, sliced.run_id)
    assert done_whole.status == done_sliced.status == "succeeded"
    # Every delivery ran a slice, except any that found too little time left and passed the run on.
    assert 5 < done_sliced.invocations <= deliveries and done_whole.invocations == 1
    assert domain.store.get_district(in_slices).active_run_id is None

    def users_and_classes(run):
        counts = run.counts.as_dict()
        return {t: counts[t]["created"] for t in ("teachers", "students", "classes", "enrollments")}

    assert users_and_classes(done_sliced) == users_and_classes(done_whole)
    assert all(n > 0 for n in users_and_classes(done_whole).values())
    assert stored_state(domain, in_slices) == stored_state(domain, at_once)


def test_a_second_sync_of_an_unchanged_sis_writes_nothing_new(domain, make_sandbox_sis, connected_district):
    sis = make_sandbox_sis(**DISTRICT)
    district = connected_district(sis)
    for expected_created in (True, False):
        run = domain.lifecycle.start_run(district, "manual", "full")
        work_until_done(domain, district, run.run_id, FakeContext(seconds=900))
        counts = domain.store.get_run(district, run.run_id).counts.as_dict()
        created = sum(counts[t]["created"] + counts[t]["updated"] for t in counts)
        assert (created > 0) == expected_created, counts


def test_one_slow_sis_costs_no_other_district_its_message(domain, make_sandbox_sis, connected_district, monkeypatch):
    """A batch with a district whose SIS says "come back in two minutes" to every read: that
    run stops waiting at its share's end and is passed on; the other district's run still gets
    its time, and the invocation ends before its timeout (nothing counts a receive)."""
    import time

    from rostersync_tools.local.functions import LambdaContext

    slow_sis, quick_sis = make_sandbox_sis(**DISTRICT), make_sandbox_sis(**DISTRICT)
    slow, quick = connected_district(slow_sis), connected_district(quick_sis)
    slow_sis.inject("503", count=1000, retry_after=120)
    monkeypatch.setattr(domain.worker, "SAFETY_SECONDS", 3.0)  # a 20 s function: a smaller reserve
    monkeypatch.setattr(domain.worker, "MIN_SLICE_SECONDS", 1.0)
    slow_run, quick_run = (domain.lifecycle.start_run(d, "manual", "full") for d in (slow, quick))
    event = sqs_event(
        *(
            (f"m-{run.district_id}", {"districtId": run.district_id, "runId": run.run_id, "action": "run"}, 1)
            for run in (slow_run, quick_run)
        )
    )
    began = time.monotonic()
    answer = domain.worker.handle_batch(event, LambdaContext("sync_worker", timeout_s=20))
    assert time.monotonic() - began < 20, "the invocation ran into its timeout"
    assert answer == {"batchItemFailures": []}
    assert domain.store.get_run(quick, quick_run.run_id).status == "succeeded"
    assert domain.store.get_run(slow, slow_run.run_id).status in ("queued", "running")
    passed_on = drain(domain)
    assert passed_on == [{"districtId": slow, "runId": slow_run.run_id, "action": "run", "stalls": 1}]


def test_a_run_on_the_deployed_workers_size_writes_through_writer_processes(
    domain, make_sandbox_sis, connected_district, monkeypatch
):
    """The worker's context gives template.yaml's 3,538 MB: the run's batches go to two writer
    processes (here from the first batch on), which end with each invocation; the run ends like
    one whose batches stay in the worker's threads (a context without a memory size)."""
    import multiprocessing

    from rostersync.store import batch
    from rostersync_tools.local.functions import LambdaContext

    started: list[int] = []

    class Recorded(batch.WriterProcesses):
        def __init__(self, processes, *args):
            super().__init__(processes, *args)
            started.append(processes)

    monkeypatch.setattr(batch, "WriterProcesses", Recorded)
    monkeypatch.delenv("ROSTERSYNC_WRITER_PROCESSES", raising=False)
    monkeypatch.setenv("ROSTERSYNC_WRITER_PROCESSES_AFTER", "0")
    sis = make_sandbox_sis(**DISTRICT)
    in_threads, in_processes = connected_district(sis), connected_district(sis)

    threads_run = domain.lifecycle.start_run(in_threads, "manual", "full")
    work_until_done(domain, in_threads, threads_run.run_id, FakeContext(seconds=900))
    assert started == []

    processes_run = domain.lifecycle.start_run(in_processes, "manual", "full")
    work_until_done(domain, in_processes, processes_run.run_id, LambdaContext("sync_worker", timeout_s=900))
    assert started and set(started) == {2}
    assert [p for p in multiprocessing.active_children() if p.name.startswith("store-writer")] == []

    done_threads = domain.store.get_run(in_threads, threads_run.run_id)
    done_processes = domain.store.get_run(in_processes, processes_run.run_id)
    assert done_threads.status == done_processes.status == "succeeded"
    assert done_processes.counts.as_dict() == done_threads.counts.as_dict()
    assert stored_state(domain, in_processes) == stored_state(domain, in_threads)
