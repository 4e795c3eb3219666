"""A sync run's life, in one module: its states and the moves between them, the district lock
and the worker's lease, stall detection, dead-lettering, approval, replay and the purge's
release of the lock. Callers (the API through sync/launch.py, the dispatcher, the worker, the
purge, the ops CLI) ask for a move here; nothing else writes a run's status or the lock
(tests/unit/test_lifecycle_writes.py holds that). The stored items and their conditional writes
are store/sync_runs.py's, which never calls back up.

The moves (TRANSITIONS below; docs/design.md has the same table):

    move            from                    to
    start           (new run)               queued          takes the district lock
    claim           queued, running         running         a delivery takes the lease
    continue        running                 running         lease given back, lock kept
    succeed         running                 succeeded       lock released
    hold            running                 needs_review    lock released
    fail            queued, running         failed          lock released (engine failure,
                                                            queue failure, stall, dead letter,
                                                            purge, take-over of a stopped run)
    approve         needs_review            queued          takes the lock again
    undo_approval   queued (no lease)       needs_review    the approval could not be queued
    reject          needs_review            rejected
    dead_letter     failed                  failed          marks deadLetteredAt (replayable)
    replay          failed                  failed          marks replayedBy; a new run starts

"continue" is not a stored status: it is a running run between two invocations (no lease).
Every move is one conditional write on the run's status (and lease), so concurrent API calls,
retried dispatchers and duplicate SQS deliveries cannot make two runs or two results; a move
whose condition does not hold is refused and writes nothing.

The district lock (activeRunId, lockExpiresAt on the district item) is taken only by a
conditional write that also creates (or re-queues) the run, so a run holds it exactly while it
is queued or running. A queued run's lock lasts long enough to wait in a busy queue; a running
run's worker heart-beats it forward. A lock whose holder stopped heart-beating can be taken
over, and the stale run is failed in the same transaction.

The lock carries a fencing token (lockToken) that grows with every taking of the lock and with
every purge or rejection; a run keeps the token it took (fenceToken), and its writer checks it
before every write batch (`fence`): once the token moved, nothing more of that run is sent. A
purge also waits for the stopped invocation's end (writesEndAt), after which nothing can land.

Times here are wall-clock epoch seconds from `clock()`, never a scheduled event's time: tests
replace `clock` to make a lock stale.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from rostersync.ids import new_id
from rostersync.notify import announce
from rostersync.store import sync_runs as store
from rostersync.store.sync_runs import (
    FAILED,
    NEEDS_REVIEW,
    QUEUED,
    REJECTED,
    RUNNING,
    SUCCEEDED,
    SyncRunModel,
)
from rostersync.times import utc_now

STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, NEEDS_REVIEW, REJECTED)
TRIGGERS = ("nightly", "manual", "replay", "csv_arrival")  # csv_arrival: a CSV bundle came (sync/csv_arrival.py)
MODES = ("full", "delta", "preview")  # preview: reads as a full sync, writes no roster item (sync/review.py)

# A queued run waits for a worker; with the queue's 90-minute visibility timeout a message
# whose worker died comes back within that, so two hours is "nobody will pick this up".
QUEUED_LOCK_SECONDS = 2 * 60 * 60
# A running worker extends its lock on every page; 15 minutes without one means it died
# (a Lambda invocation lasts at most 15 minutes).
RUNNING_LOCK_SECONDS = 15 * 60
# How long one message may work on a run before another delivery may take over its lease:
# the same as the lock, which the worker extends together with the lease.
LEASE_SECONDS = RUNNING_LOCK_SECONDS
# Invocations in a row that may pass a run on without moving it forward before the run fails
# (a function timeout too short for any slice, or an SIS too slow to answer within one).
MAX_STALLS = 5
WORKER_STOPPED = "The sync worker stopped (no heartbeat for a while); a newer sync took over the district."
PURGING = "The district is being purged."
_ATTEMPTS = 5


class Move(StrEnum):
    START = "start"
    CLAIM = "claim"
    CONTINUE = "continue"
    SUCCEED = "succeed"
    HOLD = "hold"
    FAIL = "fail"
    APPROVE = "approve"
    UNDO_APPROVAL = "undo_approval"
    REJECT = "reject"
    DEAD_LETTER = "dead_letter"
    REPLAY = "replay"


# move -> (the statuses it may start from, the status it ends in); None: a run not yet stored.
TRANSITIONS: dict[Move, tuple[tuple[str | None, ...], str]] = {
    Move.START: ((None,), QUEUED),
    Move.CLAIM: ((QUEUED, RUNNING), RUNNING),
    Move.CONTINUE: ((RUNNING,), RUNNING),
    Move.SUCCEED: ((RUNNING,), SUCCEEDED),
    Move.HOLD: ((RUNNING,), NEEDS_REVIEW),
    Move.FAIL: ((QUEUED, RUNNING), FAILED),
    Move.APPROVE: ((NEEDS_REVIEW,), QUEUED),
    Move.UNDO_APPROVAL: ((QUEUED,), NEEDS_REVIEW),
    Move.REJECT: ((NEEDS_REVIEW,), REJECTED),
    Move.DEAD_LETTER: ((FAILED,), FAILED),
    Move.REPLAY: ((FAILED,), FAILED),
}
# The engine's outcome (sync/engine.py Outcome) -> the move that records it.
OUTCOME_MOVES = {"succeeded": Move.SUCCEED, "needs_review": Move.HOLD, "failed": Move.FAIL, "continue": Move.CONTINUE}


class TransitionRefused(ValueError):
    """The table has no such move from this status."""


def next_status(current: str | None, move: Move) -> str:
    """Where `move` takes a run in `current`; TransitionRefused when the table has no such move."""
    sources, target = TRANSITIONS[move]
    if current not in sources:
        raise TransitionRefused(f"{move} is not a move from {current}")
    return target


def _from(move: Move):
    """The write condition: the run is (still) in a status `move` may start from."""
    sources = [status for status in TRANSITIONS[move][0] if status is not None]
    return SyncRunModel.status.is_in(*sources)


def clock() -> float:
    return time.time()


def expiry(seconds: int) -> int:
    return int(clock()) + seconds


class RunInProgress(Exception):
    """Another run is queued or running for the district (and heart-beating)."""

    def __init__(self, run_id: str):
        super().__init__(f"sync {run_id} is queued or running")
        self.run_id = run_id


class NightAlreadyDispatched(Exception):
    """A nightly run for this night (or a later one) was already created."""


class LockLost(Exception):
    """The run no longer holds its district lock (or its worker lease): someone took over."""


class DistrictNotFound(Exception):
    pass


class NotApprovable(Exception):
    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


# ---------------------------------------------------------------- the district lock


@dataclass(frozen=True)
class ObservedLock:
    holder: str | None
    expires_at: int | None
    stale_failure: str | None  # text to fail the holder with when taking over, if it is still active
    stale_run: object | None = None  # that holder's run as read here (for telling people it failed)
    token: int | None = None  # the lock's fencing token as read: the taker's is one more


def _taken_token(observed: ObservedLock) -> int:
    return (observed.token or 0) + 1


def observe(district) -> ObservedLock:
    """What taking the lock now would mean; raises RunInProgress while a live run holds it."""
    holder = district.active_run_id
    expires_at = None if district.lock_expires_at is None else int(district.lock_expires_at)
    token = None if district.lock_token is None else int(district.lock_token)
    if holder is None:
        return ObservedLock(None, None, None, token=token)
    holder_run = store.get_run(district.district_id, holder)
    if holder_run is None or holder_run.status not in store.ACTIVE_STATUSES:
        # The holder finished but its release was lost (crash between two writes): free.
        return ObservedLock(holder, expires_at, None, token=token)
    if expires_at is not None and expires_at >= clock():
        raise RunInProgress(holder)
    return ObservedLock(holder, expires_at, WORKER_STOPPED, stale_run=holder_run, token=token)


def _take_lock(
    district_id: str, write: Callable[[object, ObservedLock], None], night: str | None = None
) -> ObservedLock:
    """Read the district, check the lock (and the night), and let `write` make its
    conditional transaction; re-read and retry when someone else wrote in between.
    Returns what was taken over (its `stale_failure` is set when a stopped run was failed)."""
    for _ in range(_ATTEMPTS):
        district = store.get_district(district_id)
        if district is None or store.purge_confirmed(district):
            raise DistrictNotFound(district_id)  # a district being purged starts nothing any more
        if night is not None and district.last_nightly_night is not None and district.last_nightly_night >= night:
            raise NightAlreadyDispatched(night)
        observed = observe(district)
        try:
            write(district, observed)
            return observed
        except store.LockTaken:
            continue  # the district changed under us: look again
    # Still contended after several rounds: someone else is busy with this district.
    district = store.get_district(district_id)
    raise RunInProgress(district.active_run_id if district and district.active_run_id else "unknown")


def _heartbeat_lock(district_id: str, run_id: str, seconds: int = RUNNING_LOCK_SECONDS) -> None:
    if not store.extend_lock(district_id, run_id, expiry(seconds)):
        raise LockLost(run_id)


def _announce_taken_over(observed: ObservedLock, taken_by: str) -> None:
    """A run whose worker stopped was failed by the transaction that took its lock: tell
    its contacts and the app as for any failed run (announce re-reads it; never raises)."""
    if observed.stale_failure is not None and observed.stale_run is not None and observed.holder != taken_by:
        announce.run_failed(observed.stale_run, observed.stale_failure)


# ---------------------------------------------------------------- start, replay, review


def start_run(
    district_id: str,
    trigger: str,
    mode: str,
    night=None,
    run_id: str | None = None,
    replay_of: SyncRunModel | None = None,
) -> SyncRunModel:
    """start: create a queued run holding the district lock (one transaction).

    Raises RunInProgress(run_id) while another run is queued or running, NightAlreadyDispatched
    for a `night` that already has its nightly run, DistrictNotFound for an unknown district.
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    night_text = None if night is None else str(night)
    run = SyncRunModel(
        district_id,
        run_id or new_id("run"),
        trigger=trigger,
        mode=mode,
        requested_mode=mode,
        status=next_status(None, Move.START),
        queued_at=utc_now(),
        counts=store.normalised_counts(None),
        errors=[],
        error_total=0,
        invocations=0,
        night=night_text,
        replay_of=None if replay_of is None else replay_of.run_id,
    )

    def write(_district, observed: ObservedLock) -> None:
        run.fence_token = _taken_token(observed)
        store.create_run_with_lock(
            run,
            lock_expires_at=expiry(QUEUED_LOCK_SECONDS),
            observed_holder=observed.holder,
            observed_expiry=observed.expires_at,
            stale_run_failure=observed.stale_failure,
            night=night_text,
            replay_of=replay_of,
            observed_token=observed.token,
        )

    _announce_taken_over(_take_lock(district_id, write, night=night_text), run.run_id)
    return run


def start_replay(failed_run: SyncRunModel) -> SyncRunModel | None:
    """replay: the one replay of a failed run, a new queued run with trigger replay (the failed
    run stays failed and records replayedBy). None when there is nothing to replay: it was
    replayed already, or a newer run exists (a replay syncs the whole district, so only a
    district's latest run is worth replaying; older failures are superseded by it)."""
    next_status(failed_run.status, Move.REPLAY)  # TransitionRefused unless failed
    if failed_run.replayed_by or is_superseded(failed_run):
        return None
    try:
        return start_run(
            failed_run.district_id,
            "replay",
            failed_run.requested_mode or failed_run.mode,
            replay_of=failed_run,
        )
    except RunInProgress:
        # Our transaction may have lost because a concurrent replay of the same run won.
        fresh = store.get_run(failed_run.district_id, failed_run.run_id)
        if fresh is not None and fresh.replayed_by:
            return None
        raise


def is_superseded(run: SyncRunModel) -> bool:
    """A newer run of the district exists (previews do not count: they change nothing)."""
    page, _ = store.list_runs(run.district_id, 25)
    for latest in page:
        if latest.run_id == run.run_id:
            return False
        if latest.mode != "preview":
            return True
    return False


def _decidable(district_id: str, run_id: str, move: Move, verb: str) -> SyncRunModel:
    run = store.get_run(district_id, run_id)
    if run is None:
        raise LookupError(run_id)
    try:
        next_status(run.status, move)
    except TransitionRefused:
        raise NotApprovable(
            run.status, f"Only a run waiting for review can be {verb}; this one is {run.status}."
        ) from None
    return run


def approve_run(district_id: str, run_id: str, review: dict | None = None) -> SyncRunModel:
    """approve: needs_review -> queued (taking the lock) so a worker applies the held deactivations.

    Raises NotApprovable for any other state, or when a newer run exists (its read of the
    SIS supersedes the held deactivations), RunInProgress while another run holds the lock.
    """
    run = _decidable(district_id, run_id, Move.APPROVE, "approved")
    if is_superseded(run):
        raise NotApprovable(
            run.status, "A newer sync has run since; its result replaces this review. Start a new sync instead."
        )
    approved_at = utc_now()
    target = next_status(run.status, Move.APPROVE)
    actions = [
        SyncRunModel.status.set(target),
        SyncRunModel.approved_at.set(approved_at),
        SyncRunModel.finished_at.remove(),
        SyncRunModel.lease_id.remove(),
        SyncRunModel.lease_until.remove(),
    ]
    if review is not None:  # who approved, when, and how much (sync/review.py)
        actions.append(SyncRunModel.review.set(review))

    def write(_district, observed: ObservedLock) -> None:
        run.fence_token = _taken_token(observed)
        store.relock_existing_run(
            run,
            lock_expires_at=expiry(QUEUED_LOCK_SECONDS),
            observed_holder=observed.holder,
            observed_expiry=observed.expires_at,
            stale_run_failure=observed.stale_failure,
            condition=_from(Move.APPROVE),
            actions=[*actions, SyncRunModel.fence_token.set(run.fence_token)],
            observed_token=observed.token,
            new_token=run.fence_token,
        )

    try:
        _announce_taken_over(_take_lock(district_id, write), run_id)
    except RunInProgress:
        fresh = store.get_run(district_id, run_id)
        if fresh is not None and fresh.status != NEEDS_REVIEW:
            raise NotApprovable(fresh.status, "This run was approved already.") from None
        raise
    run.status = target
    run.approved_at = approved_at
    run.finished_at = None
    return run


def reject_run(district_id: str, run_id: str, review: dict) -> SyncRunModel:
    """reject: needs_review -> rejected, nothing it held is deactivated. NotApprovable otherwise."""
    run = _decidable(district_id, run_id, Move.REJECT, "rejected")
    if is_superseded(run):
        raise NotApprovable(run.status, "A newer sync has run since; its result replaces this review.")
    target = next_status(run.status, Move.REJECT)
    # Fence first: whatever still worked for the run can no longer write once it is rejected
    # (only while no other run holds the lock, whose token must stay good).
    store.move_token(district_id, only_when_free=True)
    if not store.update_run(
        run, [SyncRunModel.status.set(target), SyncRunModel.review.set(review)], _from(Move.REJECT)
    ):
        fresh = store.get_run(district_id, run_id)
        raise NotApprovable(fresh.status if fresh else "unknown", "This run was decided already.")
    run.status, run.review = target, review
    return run


def undo_approval(run: SyncRunModel) -> bool:
    """undo_approval: the approve message could not be sent; back to needs_review with the lock
    released, so the admin can simply approve again. False when no worker-free approval was there."""
    actions = [
        SyncRunModel.status.set(TRANSITIONS[Move.UNDO_APPROVAL][1]),
        SyncRunModel.approved_at.remove(),
        SyncRunModel.finished_at.set(utc_now()),
        SyncRunModel.review.remove(),
    ]
    condition = _from(Move.UNDO_APPROVAL) & SyncRunModel.approved_at.exists() & SyncRunModel.lease_id.does_not_exist()
    if not store.update_run(run, actions, condition):
        return False
    store.release_lock(run.district_id, run.run_id)
    return True


# ---------------------------------------------------------------- worker side


def claim(run: SyncRunModel, lease_id: str, invocation_seconds: float | None = None) -> bool:
    """claim: mark the run running for this delivery (invocations + 1) and heart-beat its lock.
    `invocation_seconds`, what is left of the claiming invocation, bounds when its last write
    can land (writesEndAt; without it, the lease's end). False when the run is finished or
    another delivery is working on it right now; LockLost when it no longer holds the lock."""
    now = clock()
    writes_end_at = None if invocation_seconds is None else int(now + invocation_seconds) + 1
    claimed = store.claim_run(
        run,
        lease_id,
        now,
        int(now) + LEASE_SECONDS,
        utc_now(),
        status=TRANSITIONS[Move.CLAIM][1],
        condition=_from(Move.CLAIM),
        writes_end_at=writes_end_at,
    )
    if not claimed:
        return False
    _heartbeat_lock(run.district_id, run.run_id)
    return True


def heartbeat(run: SyncRunModel, lease_id: str, counts: dict | None) -> None:
    """Extend lock and lease, and show the live counts. Raises LockLost when taken over."""
    actions = [SyncRunModel.lease_until.set(int(clock()) + LEASE_SECONDS)]
    if counts is not None:
        actions.append(SyncRunModel.counts.set(store.normalised_counts(counts)))
    if not store.update_run(run, actions, store.held_by(lease_id)):
        raise LockLost(run.run_id)
    _heartbeat_lock(run.district_id, run.run_id)


def record_outcome(run: SyncRunModel, lease_id: str, result) -> str | None:
    """Record what the engine returned: `continue` (progress kept, lease given back, lock kept
    for a queued run's time) or the run's end (succeeded, needs_review, failed; lock released).
    Returns the status written (`continue` for a continuation), None when the run was taken
    over before it could finish (nothing is written then). LockLost for a lost continuation."""
    move = OUTCOME_MOVES[str(result.outcome)]
    if move == Move.CONTINUE:
        record_continuation(run, lease_id, result)
        return Move.CONTINUE.value
    status = TRANSITIONS[move][1]
    return status if finish(run, lease_id, status, result) else None


def record_continuation(run: SyncRunModel, lease_id: str, result) -> None:
    """continue: between two invocations, keep the progress, give the lease back (the next
    message takes it), and keep the lock for as long as a queued run's."""
    actions = [*_result_actions(run, result), SyncRunModel.lease_id.remove(), SyncRunModel.lease_until.remove()]
    if not store.update_run(run, actions, _from(Move.CONTINUE) & store.held_by(lease_id)):
        raise LockLost(run.run_id)
    _heartbeat_lock(run.district_id, run.run_id, QUEUED_LOCK_SECONDS)


def release_lease(run: SyncRunModel, lease_id: str) -> None:
    """After a failed attempt: let the retried delivery (or a duplicate) take the run at once."""
    store.update_run(run, [SyncRunModel.lease_id.remove(), SyncRunModel.lease_until.remove()], store.held_by(lease_id))


_END_MOVES = {SUCCEEDED: Move.SUCCEED, NEEDS_REVIEW: Move.HOLD, FAILED: Move.FAIL}


def finish(run: SyncRunModel, lease_id: str, status: str, result) -> bool:
    """succeed, hold or fail from the engine's result, releasing the lock. False if this
    delivery no longer held the run (taken over): nothing is written then."""
    if status not in _END_MOVES:
        raise TransitionRefused(f"a run's worker does not end it as {status}")
    move = _END_MOVES[status]
    actions = _result_actions(run, result) + _ending(status)
    failure = getattr(result, "failure", None)
    actions.append(SyncRunModel.failure.set(failure) if failure else SyncRunModel.failure.remove())
    held = getattr(result, "held_deactivations", None)
    if status == NEEDS_REVIEW and held:
        actions.append(SyncRunModel.held_deactivations.set(dict(held)))
    elif status != NEEDS_REVIEW:
        actions.append(SyncRunModel.held_deactivations.remove())
    if not store.update_run(run, actions, _from(move) & store.held_by(lease_id)):
        return False
    store.release_lock(run.district_id, run.run_id)
    return True


def fail(run: SyncRunModel, failure: str, *, dead_lettered: bool = False) -> bool:
    """fail: a queued or running run, whoever holds its lease (the last delivery gave up, its
    message could not be queued, it stalled, it lost its lock, its district is being purged),
    and release the lock. False when the run was not active any more."""
    actions = [*_ending(TRANSITIONS[Move.FAIL][1]), SyncRunModel.failure.set(failure)]
    if dead_lettered:
        actions.append(SyncRunModel.dead_lettered_at.set(utc_now()))
    changed = store.update_run(run, actions, _from(Move.FAIL))
    if changed:
        store.release_lock(run.district_id, run.run_id)
        announce.run_failed(run, failure)  # events and the contacts' message (never raises)
    return changed


def record_failed_attempt(run: SyncRunModel, lease_id: str, failure: str, *, last_attempt: bool) -> bool:
    """A delivery's attempt raised. On the queue's last attempt the message is about to be
    dead-lettered: fail the run now (dead-lettered, so it may be replayed) and return True.
    Otherwise give the lease back so the retry (or a duplicate) may start at once."""
    if last_attempt:
        fail(run, failure, dead_lettered=True)
        return True
    release_lease(run, lease_id)
    return False


class Stall(StrEnum):
    SEND_AGAIN = "send_again"  # the caller may pass the run on once more
    FAILED = "failed"  # once too often: the run was failed now, saying why
    ENDED = "ended"  # once too often, but the run had ended already


def record_stall(run: SyncRunModel, stalls: int, why: str) -> Stall:
    """A delivery is passing the run on without moving it forward, for the `stalls`-th time
    in a row (stall detection): may it be passed on again, or is the run failed?"""
    if stalls < MAX_STALLS:
        return Stall.SEND_AGAIN
    failure = f"{why} The run was passed on {stalls} times without progress and was stopped."
    return Stall.FAILED if fail(run, failure[:1000]) else Stall.ENDED


def mark_dead_lettered(run: SyncRunModel, failure: str) -> SyncRunModel:
    """dead_letter: a message for `run` sits in the dead-letter queue; make sure the run says
    failed (a worker killed on its last attempt left it running) and may be replayed once."""
    if run.status in TRANSITIONS[Move.FAIL][0]:
        fail(run, failure, dead_lettered=True)
    elif run.dead_lettered_at is None:
        dead_letter(run)
    return store.get_run(run.district_id, run.run_id) or run


def dead_letter(run: SyncRunModel) -> bool:
    """dead_letter: mark a failed run as dead-lettered (replayable once). False otherwise."""
    return store.update_run(run, [SyncRunModel.dead_lettered_at.set(utc_now())], _from(Move.DEAD_LETTER))


# ---------------------------------------------------------------- purge


def stop_for_purge(district) -> int | None:
    """The purge's first step: move the fencing token (no write of any run lands after this
    check of it), then fail the run holding the district's lock (or release a lock whose run
    finished without giving it back). Returns, when that run was running, the last moment its
    invocation may still be writing (epoch seconds: the invocation's end, or its lease's if
    sooner); None when no worker was on it."""
    store.move_token(district.district_id)
    holder = district.active_run_id
    if not holder:
        return None
    run = store.get_run(district.district_id, holder)
    if run is None or run.status not in TRANSITIONS[Move.FAIL][0]:
        store.release_lock(district.district_id, holder)
        return None
    writing_until = None
    if run.status == RUNNING:
        ends = [int(value) for value in (run.writes_end_at, run.lease_until) if value is not None]
        writing_until = min(ends) if ends else None
    fail(run, PURGING)
    return writing_until


# ---------------------------------------------------------------- fenced writes


@dataclass(frozen=True)
class Fence:
    """The check a run's writer makes before each write batch (store/batch.py BatchStore.fence):
    raises LockLost once the district's token is no longer the run's (taken over, purged,
    rejected) or a purge is confirmed. One consistent read of the district item per check (write
    attempts that ask at once share one: store/batch_requests.py SharedCheck). A value, not a
    closure, so a writer process can be handed it (store/write_processes.py)."""

    district_id: str
    run_id: str
    token: int | None

    def __call__(self) -> None:
        exists, current, purging = store.lock_token(self.district_id)
        if not exists or purging or current != self.token:
            raise LockLost(self.run_id)


def fence(run: SyncRunModel) -> Fence:
    return Fence(run.district_id, run.run_id, None if run.fence_token is None else int(run.fence_token))


# ---------------------------------------------------------------- what a move writes


def _ending(status: str) -> list:
    """The actions every end of a run takes: its final status, when, and no lease any more."""
    return [
        SyncRunModel.status.set(status),
        SyncRunModel.finished_at.set(utc_now()),
        SyncRunModel.lease_id.remove(),
        SyncRunModel.lease_until.remove(),
    ]


def _result_actions(run: SyncRunModel, result) -> list:
    """Counts, bounded errors and the effective mode from an engine result."""
    actions = [SyncRunModel.counts.set(store.normalised_counts(result.counts))]
    new_errors = list(result.errors or [])
    if new_errors:
        # Read-modify-write is safe: only the lease holder writes a run's errors.
        actions.append(SyncRunModel.errors.set(store.bounded_errors(run.errors or [], new_errors)))
    new_notices = list(getattr(result, "notices", None) or [])
    if new_notices:  # as errors: only the lease holder writes them
        actions.append(SyncRunModel.notices.set(store.bounded_notices(run.notices, new_notices)))
    error_total = max(int(result.error_total or 0), int(run.error_total or 0), len(new_errors))
    actions.append(SyncRunModel.error_total.set(error_total))
    if getattr(result, "mode", None) in MODES:
        actions.append(SyncRunModel.mode.set(result.mode))
    if getattr(result, "plan", None) and run.plan is None:
        actions.append(SyncRunModel.plan.set(result.plan))
    return actions
