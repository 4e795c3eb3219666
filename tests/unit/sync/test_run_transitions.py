"""The run lifecycle's transition table, tried as a table (sync/run_lifecycle.py TRANSITIONS).

Every move is tried from every status (and from "no run yet") on the embedded DynamoDB, each
through the function callers use: a move the table lists ends in the table's status; every
other move is refused and leaves the run and the district lock exactly as they were.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from tests.unit.sync.test_locks import make_district, result

STATUSES = (None, "queued", "running", "succeeded", "failed", "needs_review", "rejected")
MOVES = (
    "start",
    "claim",
    "continue",
    "succeed",
    "hold",
    "fail",
    "approve",
    "undo_approval",
    "reject",
    "dead_letter",
    "replay",
)
LEASE = "lease-1"
# The table as docs/design.md states it ("Runs, locks and leases"), written out here so that a
# change to the module's table is a change to this test too.
DESIGN_TABLE = {
    "start": ((None,), "queued"),
    "claim": (("queued", "running"), "running"),
    "continue": (("running",), "running"),
    "succeed": (("running",), "succeeded"),
    "hold": (("running",), "needs_review"),
    "fail": (("queued", "running"), "failed"),
    "approve": (("needs_review",), "queued"),
    "undo_approval": (("queued",), "needs_review"),
    "reject": (("needs_review",), "rejected"),
    "dead_letter": (("failed",), "failed"),
    "replay": (("failed",), "failed"),
}


@pytest.fixture(scope="module")
def lifecycle(_embedded_aws):
    _embedded_aws.apply_environment()
    from rostersync.sync import run_lifecycle

    return run_lifecycle


def test_the_table_names_every_move_and_only_known_statuses(lifecycle):
    assert {move.value for move in lifecycle.Move} == set(MOVES)
    assert {move.value: rule for move, rule in lifecycle.TRANSITIONS.items()} == DESIGN_TABLE
    assert set(lifecycle.TRANSITIONS) == set(lifecycle.Move)
    for sources, target in lifecycle.TRANSITIONS.values():
        assert set(sources) <= set(STATUSES) and target in STATUSES


@pytest.mark.parametrize(("status", "move"), list(itertools.product(STATUSES, MOVES)))
def test_next_status_follows_the_table(lifecycle, status, move):
    sources, target = DESIGN_TABLE[move]
    if status in sources:
        assert lifecycle.next_status(status, lifecycle.Move(move)) == target
    else:
        with pytest.raises(lifecycle.TransitionRefused):
            lifecycle.next_status(status, lifecycle.Move(move))


def _arrange(lifecycle, status: str | None):
    """A district and (unless None) one run in `status` as the lifecycle leaves it: queued and
    running runs hold the lock, a running one also a live lease, a queued one is an approval."""
    from rostersync.store.districts import DistrictModel
    from rostersync.store.sync_runs import SyncRunModel, normalised_counts

    district = make_district()
    if status is None:
        return district.district_id, None
    now = datetime.now(UTC)
    run = SyncRunModel(
        district.district_id,
        "run_" + status,
        trigger="manual",
        mode="full",
        requested_mode="full",
        status=status,
        queued_at=now,
        counts=normalised_counts(None),
        errors=[],
        error_total=0,
        invocations=1 if status != "queued" else 0,
    )
    if status == "queued":
        run.approved_at = now
    if status == "running":
        run.lease_id, run.lease_until, run.started_at = LEASE, int(lifecycle.clock()) + 600, now
    if status in ("succeeded", "failed", "needs_review", "rejected"):
        run.finished_at = now
    if status == "needs_review":
        run.held_deactivations = {"students": 3}
    run.save()
    if status in ("queued", "running"):
        DistrictModel(district.district_id).update(
            actions=[
                DistrictModel.active_run_id.set(run.run_id),
                DistrictModel.lock_expires_at.set(int(lifecycle.clock()) + 600),
            ]
        )
    return district.district_id, run


def _try(lifecycle, move: str, district_id: str, run) -> object:
    """Ask for `move` the way its callers do; a truthy answer when it was made."""
    if move == "start":
        run_id = None if run is None else run.run_id
        return lifecycle.start_run(district_id, "manual", "full", run_id=run_id)
    if move == "claim":
        return lifecycle.claim(run, LEASE)
    if move == "continue":
        lifecycle.record_continuation(run, LEASE, result("continue"))
        return True
    if move in ("succeed", "hold"):
        status = lifecycle.TRANSITIONS[lifecycle.Move(move)][1]
        return lifecycle.finish(run, LEASE, status, result(status, held={"students": 3}))
    if move == "fail":
        return lifecycle.fail(run, "stopped by the test")
    if move == "approve":
        return lifecycle.approve_run(district_id, run.run_id, review={"decision": "approved"})
    if move == "undo_approval":
        return lifecycle.undo_approval(run)
    if move == "reject":
        return lifecycle.reject_run(district_id, run.run_id, {"decision": "rejected"})
    if move == "dead_letter":
        return lifecycle.dead_letter(run)
    if move == "replay":
        return lifecycle.start_replay(run)
    raise AssertionError(move)


def _snapshot(district_id: str, run_id: str | None):
    from rostersync.store.districts import DistrictModel
    from rostersync.store.sync_runs import SyncRunModel, get_run

    district = DistrictModel.get(district_id, consistent_read=True)
    runs = sorted(
        (stored.run_id, stored.status, stored.lease_id, stored.replayed_by, stored.dead_lettered_at)
        for stored in SyncRunModel.query(district_id, consistent_read=True)
    )
    stored = None if run_id is None else get_run(district_id, run_id)
    return (district.active_run_id, district.lock_expires_at, runs, None if stored is None else stored.serialize())


# A run not yet stored can only be started: no other move has a run to ask about.
CASES = [(status, move) for status, move in itertools.product(STATUSES, MOVES) if status is not None or move == "start"]


@pytest.mark.parametrize(("status", "move"), CASES)
def test_every_listed_move_works_and_every_other_is_refused(lifecycle, monkeypatch, status, move):
    from rostersync.store.sync_runs import get_run

    monkeypatch.setattr(lifecycle.announce, "run_failed", lambda *_: None)  # no bus in this test
    district_id, run = _arrange(lifecycle, status)
    sources, target = DESIGN_TABLE[move]
    before = _snapshot(district_id, None if run is None else run.run_id)
    refusals = (
        lifecycle.TransitionRefused,
        lifecycle.NotApprovable,
        lifecycle.LockLost,
        lifecycle.RunInProgress,
    )
    try:
        made = _try(lifecycle, move, district_id, run)
    except refusals:
        made = False

    if status in sources:
        assert made, f"{move} from {status} should be made"
        if move == "start":
            assert get_run(district_id, made.run_id).status == target
        else:
            assert get_run(district_id, run.run_id).status == target
        holds_lock = target in ("queued", "running")
        lock_holder = _snapshot(district_id, None)[0]
        if move == "replay":
            assert lock_holder == made.run_id and get_run(district_id, run.run_id).replayed_by == made.run_id
        elif move == "start":
            assert lock_holder == made.run_id
        else:
            assert (lock_holder == run.run_id) == holds_lock, f"{move}: lock {lock_holder}"
    else:
        assert not made, f"{move} from {status} should be refused"
        assert _snapshot(district_id, None if run is None else run.run_id) == before


def test_undo_approval_refuses_a_queued_run_that_was_never_approved(lifecycle):
    district = make_district()
    run = lifecycle.start_run(district.district_id, "manual", "full")
    assert not lifecycle.undo_approval(run)
    assert lifecycle.store.get_run(district.district_id, run.run_id).status == "queued"


def test_an_engine_outcome_needs_the_lease(lifecycle):
    """The worker's end of a run is refused for a delivery that does not hold the lease."""
    district_id, run = _arrange(lifecycle, "running")
    assert lifecycle.record_outcome(run, "another-delivery", result("succeeded")) is None
    assert lifecycle.store.get_run(district_id, run.run_id).status == "running"
    assert lifecycle.record_outcome(run, LEASE, result("succeeded")) == "succeeded"


def test_stalls_pass_on_until_the_bound_then_fail(lifecycle, monkeypatch):
    monkeypatch.setattr(lifecycle.announce, "run_failed", lambda *_: None)
    district_id, run = _arrange(lifecycle, "queued")
    for stalls in range(1, lifecycle.MAX_STALLS):
        assert lifecycle.record_stall(run, stalls, "Too slow.") == lifecycle.Stall.SEND_AGAIN
    assert lifecycle.record_stall(run, lifecycle.MAX_STALLS, "Too slow.") == lifecycle.Stall.FAILED
    stored = lifecycle.store.get_run(district_id, run.run_id)
    assert stored.status == "failed" and stored.failure.startswith("Too slow.")
    assert lifecycle.record_stall(stored, lifecycle.MAX_STALLS, "Too slow.") == lifecycle.Stall.ENDED


# ---------------------------------------------------------------- fenced writes (issue 30)


def test_a_takeover_fences_off_the_stopped_runs_writes(lifecycle, monkeypatch):
    monkeypatch.setattr(lifecycle.announce, "run_failed", lambda *_: None)
    district = make_district()
    stopped = lifecycle.start_run(district.district_id, "manual", "full")
    assert lifecycle.claim(stopped, "worker-1")
    old_fence = lifecycle.fence(lifecycle.store.get_run(district.district_id, stopped.run_id))
    old_fence()  # holds the district: its batches go through
    real_clock = lifecycle.clock
    monkeypatch.setattr(lifecycle, "clock", lambda: real_clock() + lifecycle.RUNNING_LOCK_SECONDS + 5)
    newer = lifecycle.start_run(district.district_id, "manual", "full")  # takes the stale lock over
    assert newer.fence_token == stopped.fence_token + 1
    with pytest.raises(lifecycle.LockLost):
        old_fence()  # the stopped run's late batch is refused
    lifecycle.fence(newer)()  # the new holder's is not


def test_a_rejection_fences_off_whatever_still_worked_for_the_run(lifecycle):
    district = make_district()
    run = lifecycle.start_run(district.district_id, "manual", "full")
    assert lifecycle.claim(run, "worker-1")
    held = lifecycle.store.get_run(district.district_id, run.run_id)
    assert lifecycle.finish(held, "worker-1", "needs_review", result("needs_review", held={"students": 2}))
    fence = lifecycle.fence(held)
    fence()
    lifecycle.reject_run(district.district_id, run.run_id, {"decision": "rejected"})
    with pytest.raises(lifecycle.LockLost):
        fence()


def test_a_rejection_leaves_another_holders_token_alone(lifecycle):
    district = make_district()
    run = lifecycle.start_run(district.district_id, "manual", "full")
    assert lifecycle.claim(run, "worker-1")
    held = lifecycle.store.get_run(district.district_id, run.run_id)
    assert lifecycle.finish(held, "worker-1", "needs_review", result("needs_review", held={"students": 2}))
    preview = lifecycle.start_run(district.district_id, "manual", "preview")  # previews do not supersede
    lifecycle.reject_run(district.district_id, run.run_id, {"decision": "rejected"})
    lifecycle.fence(preview)()


def test_a_fenced_batch_store_sends_nothing_once_the_fence_refuses(lifecycle):
    from rostersync.store.batch import BatchStore

    class Client:
        calls = 0

        def batch_write_item(self, RequestItems):
            Client.calls += 1
            return {}

    store = BatchStore(client=Client(), max_in_flight=1)
    refusals = []

    def fence():
        refusals.append(1)
        raise lifecycle.LockLost("run_x")

    store.fence = fence
    for n in range(30):
        store.put("UsersTable", {"districtId": "d", "userId": f"u{n}"})
    with pytest.raises(lifecycle.LockLost):
        store.flush()
    assert Client.calls == 0 and len(refusals) >= 1
    store.close()


def test_a_run_from_before_the_token_may_write_until_the_token_moves(lifecycle):
    """Districts and runs stored before fencing have no token: the run's writes go on until a
    purge, take-over or rejection moves the token."""
    from rostersync.store import sync_runs

    district_id, run = _arrange(lifecycle, "running")  # neither the district nor the run has a token
    assert run.fence_token is None
    fence = lifecycle.fence(run)
    fence()
    assert sync_runs.move_token(district_id)
    with pytest.raises(lifecycle.LockLost):
        fence()


def test_a_district_whose_purge_is_confirmed_starts_no_run(lifecycle):
    from rostersync.store.districts import DistrictModel

    district = make_district()
    DistrictModel(district.district_id).update(actions=[DistrictModel.purge.set({"state": "requested"})])
    lifecycle.start_run(district.district_id, "manual", "preview")  # asking for a purge stops nothing yet
    other = make_district()
    DistrictModel(other.district_id).update(actions=[DistrictModel.purge.set({"state": "queued", "purgeId": "p"})])
    with pytest.raises(lifecycle.DistrictNotFound):
        lifecycle.start_run(other.district_id, "manual", "full")
