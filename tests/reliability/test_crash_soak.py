"""Crash safety at scale: the sync process SIGKILLed at chosen and at random points (pages,
write batches half sent, checkpoint saves half written, the sweep half applied, each phase of a
delta), sometimes again during the redelivery, then the message redelivered once more. The end
state must equal a sync of the same SIS that nobody interrupted, with no duplicate records.

Builds on tests/integration/test_crash_safety.py (random-time kills of first and second-night
full syncs, its helpers reused here); this adds kill points inside phases, delta syncs and
checkpoint saves. `make test` runs one seed of the second-night and delta scenarios and the
aimed kills; `make soak` runs 30 seeds over first syncs, second nights and deltas.
"""

import contextlib
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.fixtures.districts import connect_district
from tests.integration.test_crash_safety import ROOT, assert_no_duplicates
from tests.reliability import figures, held_runs
from tests.reliability.helpers import TINY, assert_like_oracle, stored, sync

FULL_POINTS = ("schools", "classes", "users", "enrollments", "write_users", "sweep", "checkpoint")
DELTA_POINTS = ("delta_classes", "delta_users", "delta_enrollments", "delta_finish", "checkpoint")


def run_child(
    district_id: str, run_id: str, mode: str, point: tuple[str, int] | None = None, after_s: float | None = None
) -> bool:
    """Run the sync in a child process that dies at `point` (phase, events) or is SIGKILLed after
    `after_s`; True when it died before finishing."""
    args = [sys.executable, "-m", "tests.reliability.crash_child", district_id, run_id, mode]
    if point is not None:
        args += [point[0], str(point[1])]
    child = subprocess.Popen(
        args, cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert child.stdout.readline().strip() == "started"
        if after_s is not None:
            try:
                child.wait(after_s)
            except subprocess.TimeoutExpired:
                child.send_signal(signal.SIGKILL)
        child.wait(120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    return child.returncode == -signal.SIGKILL


def kill_somewhere(rng: random.Random, district: str, run_id: str, mode: str, points, duration: float) -> int:
    """One to three deliveries killed: at an aimed point (phase, events) or, when that phase had
    too few events this time (nothing to write), at a random moment; 1 or 0 crashes each."""
    crashes = 0
    for attempt in range(rng.randint(1, 3)):  # sometimes killed again during the redelivery
        if attempt == 0 or rng.random() < 0.6:
            phase = rng.choice(points)
            events = rng.randint(1, 30 if phase == "checkpoint" else 4)
            died = run_child(district, run_id, mode, point=(phase, events))
            if not died:
                died = run_child(district, run_id, mode, after_s=rng.uniform(0.2, 0.5 + duration))
        else:  # a random moment, as tests/integration/test_crash_safety.py does
            died = run_child(district, run_id, mode, after_s=rng.uniform(0.2, 0.5 + duration))
        crashes += died
        if mode.startswith("worker:"):
            held_runs.expire_lease(district, run_id)
    return crashes


def crash_scenario(make_sis, seed: int, scenario: str) -> int:
    """One seed: a reference district and a crashed one on the same SIS; returns the crashes.
    A reference that ends held (needs_review) makes it a held-run scenario (crash_held_run)."""
    rng = random.Random(seed)
    sis = make_sis(**{**TINY, "seed": 500 + seed})
    district, reference = connect_district(sis), connect_district(sis)
    mode, points = "full", FULL_POINTS
    if scenario in ("night2", "delta"):
        for d in (district, reference):  # night 1, uninterrupted
            assert sync(d).outcome.value == "succeeded"
        sis.advance_day(1 + rng.randint(1, 3))  # several days of changes: more to deactivate
    if scenario == "delta":
        mode, points = "delta", DELTA_POINTS
    started = time.monotonic()
    reference_run = held_runs.start(reference, mode)  # as the API starts a run, worked by the real handler
    status = held_runs.work(reference, reference_run)
    duration = time.monotonic() - started
    assert status in ("succeeded", "needs_review"), run_of(reference, reference_run).failure
    if status == "needs_review":
        return crash_held_run(rng, sis, district, reference, reference_run, mode, points, duration)
    assert run_of(reference, reference_run).mode == mode

    run_id = f"run_crash_{scenario}_{seed}"
    crashes = kill_somewhere(rng, district, run_id, mode, points, duration)
    result = sync(district, run_id=run_id, mode=mode)  # the message comes back once more and completes
    assert result.outcome.value == "succeeded", result.failure
    assert result.mode == mode

    assert stored(district) == stored(reference)  # every record, active or not, as if never interrupted
    figures.add("end_states_checked")
    assert_no_duplicates(district)
    if mode == "full":
        assert_like_oracle(district, sis.state())
    else:  # a delta cannot see hard deletes; the next full sync must then be exact
        assert sync(district).outcome.value == "succeeded"
        assert_like_oracle(district, sis.state())
    figures.add("crashes_survived", crashes)
    return crashes


def assert_same_records(district: str, reference: str) -> None:
    got, want = stored(district), stored(reference)
    differ = {
        kind: sorted(
            (sid, got[kind].get(sid), want[kind].get(sid))
            for sid in set(got[kind]) ^ set(want[kind])
            | {sid for sid in got[kind] if got[kind][sid] != want[kind].get(sid)}
        )[:8]
        for kind in got
    }
    assert got == want, f"(sourcedId, crashed, reference): {differ}"


def run_of(district: str, run_id: str):
    from rostersync.store import sync_runs as store

    return store.get_run(district, run_id)


def crash_held_run(rng, sis, district, reference, reference_run, mode, points, duration) -> int:
    """The reference ended held. The crashed district's run is killed in its run and in its hold
    (the sweep or delta finish that decides and records what is held, the checkpoint saves), then
    held like the reference; both get the same decision through the API (approved whole, in part
    on the same records, or rejected); an approval is killed too (its sweep, its checkpoint
    delete, random moments) before its message completes. End states compared record by record."""
    run_id = held_runs.start(district, mode)
    hold_points = ("sweep", "checkpoint") if mode == "full" else ("delta_finish", "checkpoint")
    crashes = kill_somewhere(rng, district, run_id, "worker:run", points + hold_points, duration)
    assert held_runs.work(district, run_id) == "needs_review", run_of(district, run_id).failure
    want = held_runs.api("GET", reference, f"/syncs/{reference_run}").body
    got = held_runs.api("GET", district, f"/syncs/{run_id}").body
    assert got["heldDeactivations"] == want["heldDeactivations"]  # the same deactivations held
    # (Counts are not compared: a killed invocation's writes are found unchanged by its redelivery.)
    assert stored(district) == stored(reference)  # nothing held was deactivated; the rest written
    held = held_runs.held_records(reference, reference_run)
    assert sorted(held) == sorted(held_runs.held_records(district, run_id))
    figures.add("held_runs_crashed")
    figures.add("end_states_checked")

    decision, chosen = held_runs.draw_decision(rng, list(held))
    for d, r in ((reference, reference_run), (district, run_id)):
        held_runs.decide(d, r, decision, chosen)
        held_runs.take_messages(r)  # delivered here: to the worker in process, or to a crashing child
    if decision != "rejected":
        started = time.monotonic()
        assert held_runs.work(reference, reference_run, "approve") == "succeeded"
        approve_points = ("sweep", "checkpoint") if mode == "full" else ("delta_finish", "checkpoint")
        approval_crashes = kill_somewhere(
            rng, district, run_id, "worker:approve", approve_points, time.monotonic() - started
        )
        assert held_runs.work(district, run_id, "approve") == "succeeded", run_of(district, run_id).failure
        figures.add("approvals_crashed", int(approval_crashes > 0))
        crashes += approval_crashes
    figures.add(f"held_{decision}")

    assert_same_records(district, reference)  # every record, active or not, as if never interrupted
    figures.add("end_states_checked")
    figures.add("records_compared", sum(len(v) for v in stored(reference).values()))
    assert_no_duplicates(district)
    if decision == "approved" and mode == "full":
        assert_like_oracle(district, sis.state())
    figures.add("crashes_survived", crashes)
    return crashes


# A first sync killed at random points: tests/integration/test_crash_safety.py (and the soak here).
# One scenario in `make test`; the delta (and every kind, 30 seeds) in `make soak`.
@pytest.mark.parametrize("scenario, seed", [("night2", 0), pytest.param("delta", 1, marks=pytest.mark.soak)])
def test_a_sync_killed_inside_a_phase_ends_like_an_uninterrupted_one(make_sandbox_sis, aws, scenario, seed):
    assert crash_scenario(make_sandbox_sis, seed, scenario) >= 1


def test_kills_in_a_checkpoint_save_the_sweep_and_the_checkpoint_delete_are_survived(make_sandbox_sis, aws):
    """The places where a half-done write matters most, aimed at directly, one after another."""
    sis = make_sandbox_sis(**{**TINY, "seed": 77})
    # No hold for review here: the point is a sweep that deactivates many records.
    district, reference = connect_district(sis, guard_max_share=1.0), connect_district(sis, guard_max_share=1.0)
    for d in (district, reference):
        assert sync(d).outcome.value == "succeeded"
    sis.advance_day(4)
    expected = sync(reference)
    assert expected.counts["enrollments"]["deactivated"] + expected.counts["students"]["deactivated"] > 25
    run_id = "run_crash_sweep"
    # Half way through writing the first checkpoint's parts (before its head).
    assert run_child(district, run_id, "full", point=("checkpoint", 5))
    # After the first batch of deactivations was written, before the rest: half a sweep.
    assert run_child(district, run_id, "full", point=("sweep", 2))
    # The run done, in the middle of deleting its checkpoint (its head goes first, then its parts
    # in batches of 25: killed before the parts go).
    assert run_child(district, run_id, "full", point=("checkpoint", 2))
    result = sync(district, run_id=run_id)
    assert result.outcome.value == "succeeded", result.failure
    assert stored(district) == stored(reference)
    assert_no_duplicates(district)
    assert_like_oracle(district, sis.state())
    figures.add("crashes_survived", 3)


SOAK_SEEDS = int(os.environ.get("ROSTERSYNC_SOAK_CRASH_SEEDS", "30"))


@pytest.mark.soak
@pytest.mark.timeout(900)  # under a minute on a quiet machine; held runs add an approval
@pytest.mark.parametrize("seed", range(SOAK_SEEDS))
def test_crash_soak(make_sandbox_sis, aws, seed):
    scenario = ("night2", "delta", "first")[seed % 3]
    crash_scenario(make_sandbox_sis, 100 + seed, scenario)


def test_a_checkpoint_whose_delete_died_part_way_is_never_read_half(aws):
    """Whatever prefix of a checkpoint's delete happened, loading it gives all of it or nothing
    (a head pointing at deleted parts made every redelivery of the run fail)."""
    from rostersync.store.batch import BatchStore
    from rostersync.sync.checkpoint import CheckpointStore

    class Died(Exception):
        pass

    class DiesAfter:
        """The store's client, whose delete_item dies once `deletes` deletes have gone through."""

        def __init__(self, real, deletes: int):
            self.real, self.deletes, self.done = real, deletes, 0

        def __getattr__(self, name):
            return getattr(self.real, name)

        def delete_item(self, **kwargs):
            if self.done == self.deletes:
                raise Died()
            self.done += 1
            return self.real.delete_item(**kwargs)

    from rostersync.sync.run_state import RunPlan, RunState

    store = CheckpointStore(BatchStore(), "dst_ckpt", "run_ckpt")
    plan = RunPlan(
        selection={"schools": None, "grades": None, "subjects": None},
        guard_max_share=0.2,
        guard_min_records=20,
        connection={"hostUrl": "https://sis.example.org", "clientId": "c"},
    )
    state = RunState(mode="full", plan=plan, started_at="2026-12-01T08:00:00+00:00", phase="sweep")
    for i, name in enumerate(state.sets):
        state.sets[name].add(f"record-{i}")
    for deletes_done in range(16):
        store.save(state)
        real = store.client
        store.client = DiesAfter(real, deletes_done)
        with contextlib.suppress(Died):
            store.delete()
        store.client = real
        loaded = store.load()
        assert loaded is None or loaded.to_json() == state.to_json(), deletes_done
        assert loaded is None or all(f"record-{i}" in loaded.sets[name] for i, name in enumerate(state.sets))
        figures.add("crashes_survived")
