"""Runs cut into invocations on random containers (their own processes and /tmp), with random
budgets and kills, end exactly like uninterrupted runs (tests/reliability/lambda_pool.py).

Per seed: a district of GUID ids whose schools, courses and classes span many pages; a first
full sync, then nights of many changes (SIS days with additions, hard deletes and tobedeleted
records, plus a share of users and classes edited) synced as deltas and as full syncs. Each
night's end state is compared, record by record, with a reference district synced in one go
from the same SIS, and full nights with the oracle. `make test` runs a few seeds; `make soak`
many more (ROSTERSYNC_POOL_SEEDS).
"""

import copy
import os
import random

import pytest

from rostersync.sync import messages, run_lifecycle
from tests.fixtures.districts import connect_district
from tests.reliability import figures, held_runs
from tests.reliability.helpers import KINDS, assert_like_oracle, client_for, stored, sync
from tests.reliability.lambda_pool import LambdaPool

SOAK_SEEDS = int(os.environ.get("ROSTERSYNC_POOL_SEEDS", "16"))
DISTRICT = {
    "guid_ids": True,
    "schools": 12,
    "students": 90,
    "teachers": 14,
    "classes": 36,
    "enrollments": 450,
    "page_cap": 7,
}


def edit_many(sis, rng: random.Random, share: float, stamp: str) -> int:
    """A night of many changes: names of a share of the users and titles of classes edited."""
    data, edited = sis.state()["data"], 0
    for collection, field in (("users", "givenName"), ("classes", "title")):
        for record in data[collection]:
            if record.get("status") == "active" and rng.random() < share:
                sis.app.store.put(
                    collection,
                    {**copy.deepcopy(record), field: f"{record.get(field)} {edited}", "dateLastModified": stamp},
                )
                edited += 1
    return edited


def pooled_night(pool: LambdaPool, district: str, mode: str) -> str:
    run = run_lifecycle.start_run(district, "manual", mode)
    messages.send_run_message(district, run.run_id)
    pool.drive(district, run.run_id)
    return run.run_id


def assert_same_end_state(district: str, reference: str) -> None:
    got, want = stored(district), stored(reference)
    for kind in KINDS:
        lost = {sid for sid, status in want[kind].items() if status == "active" and got[kind].get(sid) != "active"}
        figures.add("records_lost", len(lost))
        figures.add("records_compared", len(want[kind]))
        assert got[kind] == want[kind], (
            f"{kind}: lost {sorted(lost)[:5]}, differ {sorted(set(got[kind].items()) ^ set(want[kind].items()))[:5]}"
        )
    figures.add("end_states_checked")


def set_guard(district: str, max_share: float, min_records: int = 0) -> None:
    """The district's deactivation guard, through PUT /sync-config (the selection unchanged: all)."""
    body = {
        "schools": None,
        "grades": None,
        "subjects": None,
        "startDate": "2026-01-01",
        "enabled": True,
        "deactivationGuard": {"maxShare": max_share, "minRecords": min_records},
    }
    answer = held_runs.api("PUT", district, "/sync-config", body=body)
    assert answer.status == 200, answer.body


def pool_scenario(make_sandbox_sis, seed: int) -> LambdaPool:
    rng = random.Random(seed)
    sis = make_sandbox_sis(seed=500 + seed, **DISTRICT)
    # The guard lets every night through but one: that night (a delta or the last full sync) the
    # guard is tight, its runs end held, and both districts get the same approval (whole or in
    # part) through the API; the pooled approval runs on the pool's containers with its kills.
    district, reference = (connect_district(sis, guard_max_share=1.0) for _ in range(2))
    held_night = rng.choice((1, 2, 3))
    # A quarter of the soak's seeds send their batches through writer processes from the first
    # batch on, so kills land on them too (each invocation then starts two: ~1.4 s of CPU).
    with_writer_processes = seed % 4 == 2
    pool = LambdaPool(rng, writer_processes_after=0 if with_writer_processes else None)
    try:
        nights = [("full", None), ("delta", 0.3), ("delta", 0.05), ("full", 0.1)]
        for night, (mode, share) in enumerate(nights):
            if share is not None:
                sis.advance_day(sis.day + rng.randint(1, 3))
                edit_many(sis, rng, share, stamp=f"2099-01-{night + 1:02d}T00:00:00Z")
            if night == held_night:
                for d in (district, reference):
                    set_guard(d, max_share=0.01)
                held_pooled_night(pool, rng, sis, district, reference, mode)
                for d in (district, reference):
                    set_guard(d, max_share=1.0)
                continue
            expected = sync(reference, mode=mode, client_factory=lambda: client_for(sis))
            assert expected.outcome.value == "succeeded", expected.failure
            run_id = pooled_night(pool, district, mode)
            from rostersync.store import sync_runs as store

            finished = store.get_run(district, run_id)
            assert finished.status == "succeeded", finished.failure
            assert finished.mode == expected.mode
            assert_same_end_state(district, reference)
            if expected.mode == "full":
                assert_like_oracle(district, sis.state())
    finally:
        pool.close()
    f = pool.figures
    for name, value in (
        ("pool_runs", f.runs),
        ("pool_invocations", f.invocations),
        ("pool_containers", f.containers),
        ("pool_kills", f.kills),
        ("pool_invocations_with_writer_processes", f.invocations if with_writer_processes else 0),
        ("pool_kills_with_writer_processes", f.kills if with_writer_processes else 0),
    ):
        figures.add(name, value)
    return pool


def held_pooled_night(pool: LambdaPool, rng: random.Random, sis, district: str, reference: str, mode: str) -> None:
    """A night whose runs may end held: the reference worked in process, the pooled run on the
    pool; when held, the same approval on both, the pooled one delivered to random containers
    with kills of its own. End states compared when held and after the approval."""
    from rostersync.store import sync_runs as store

    reference_run = held_runs.start(reference, mode)
    expected = held_runs.work(reference, reference_run)
    run_id = pooled_night(pool, district, mode)
    finished = store.get_run(district, run_id)
    assert finished.status == expected, finished.failure
    assert_same_end_state(district, reference)
    if expected != "needs_review":
        return
    held = held_runs.held_records(reference, reference_run)
    assert sorted(held) == sorted(held_runs.held_records(district, run_id))
    decision = rng.choice(("approved", "approved_in_part"))
    chosen = None
    if decision == "approved_in_part" and len(held) > 1:
        chosen = sorted(rng.sample(sorted(held), rng.randint(1, len(held) - 1)))
    held_runs.decide(reference, reference_run, decision, chosen)
    held_runs.take_messages(reference_run)  # the reference's approval runs here, not on the pool
    assert held_runs.work(reference, reference_run, "approve") == "succeeded"
    held_runs.decide(district, run_id, decision, chosen)  # its message stays on the queue for the pool
    kills_before = pool.figures.kills
    pool.drive(district, run_id, first_kill_after=rng.uniform(0.01, 0.3))
    assert store.get_run(district, run_id).status == "succeeded", store.get_run(district, run_id).failure
    figures.add("pool_held_runs")
    figures.add("pool_approval_kills", pool.figures.kills - kills_before)
    assert_same_end_state(district, reference)
    if chosen is None and mode == "full":
        assert_like_oracle(district, sis.state())


# A seed takes about a minute on a quiet machine; several on one shared with other suites.
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("seed", [0])  # one seed in `make test` (about 50 s); more in the soak
def test_runs_on_random_containers_end_like_uninterrupted_runs(make_sandbox_sis, clean_aws, seed):
    pool = pool_scenario(make_sandbox_sis, seed)
    f = pool.figures
    # The harness really moved runs between containers, cut them short and started cold ones.
    # (How many invocations a run takes depends on the machine's speed: at least several.)
    assert f.invocations > 4 * f.runs and f.containers >= 3 and len(f.tmp_dirs) == f.containers
    assert f.budgets["one page"] > 0 and f.kills > 0


@pytest.mark.soak
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("seed", range(1, 1 + SOAK_SEEDS))
def test_runs_on_random_containers_soak(make_sandbox_sis, clean_aws, seed):
    pool_scenario(make_sandbox_sis, seed)
