"""A sync run's life: queued (holding the district lock) -> running (a worker holds its lease)
-> succeeded | failed | needs_review (lock released). Approval puts a needs_review run back
to queued; a dead-lettered failed run can be replayed once, as a new run with trigger replay.

This is the one module callers (the API, the dispatcher, the worker, the ops CLI) use for a
run's lifecycle; the district lock's rules (sync/locks.py) and the stored items (store/runs.py)
sit below it and never call back up.

Every transition is a conditional write (store/runs.py), so concurrent API calls, retried
dispatchers and duplicate SQS deliveries cannot produce two runs or two results.
"""

from rostersync.ids import new_id
from rostersync.notify import announce
from rostersync.store import runs as store
from rostersync.store.runs import SyncRunModel
from rostersync.sync import locks
from rostersync.sync.locks import DistrictNotFound, LockLost, NightAlreadyDispatched, RunInProgress
from rostersync.times import utc_now

__all__ = [
    "DistrictNotFound",
    "LockLost",
    "NightAlreadyDispatched",
    "NotApprovable",
    "RunInProgress",
    "approve_run",
    "clock",
    "reject_run",
    "start_replay",
    "start_run",
]


def clock() -> float:
    """Wall-clock epoch seconds, as the lock rules see them (tests move locks.clock)."""
    return locks.clock()


TRIGGERS = ("nightly", "manual", "replay")
MODES = ("full", "delta", "preview")  # preview: reads as a full sync, writes no roster item (sync/review.py)
# How long one message may work on a run before another delivery may take over its lease:
# the same as the lock, which the worker extends together with the lease.
LEASE_SECONDS = locks.RUNNING_LOCK_SECONDS


class NotApprovable(Exception):
    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def start_run(
    district_id: str,
    trigger: str,
    mode: str,
    night=None,
    run_id: str | None = None,
    replay_of: SyncRunModel | None = None,
) -> SyncRunModel:
    """Create a queued run holding the district lock (one transaction).

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
        status=store.QUEUED,
        queued_at=utc_now(),
        counts=store.normalised_counts(None),
        errors=[],
        error_total=0,
        invocations=0,
        night=night_text,
        replay_of=None if replay_of is None else replay_of.run_id,
    )

    def write(_district, observed: locks.ObservedLock) -> None:
        store.create_run_with_lock(
            run,
            lock_expires_at=locks.expiry(locks.QUEUED_LOCK_SECONDS),
            observed_holder=observed.holder,
            observed_expiry=observed.expires_at,
            stale_run_failure=observed.stale_failure,
            night=night_text,
            replay_of=replay_of,
        )

    _announce_taken_over(locks.take(district_id, write, night=night_text), run.run_id)
    return run


def start_replay(failed_run: SyncRunModel) -> SyncRunModel | None:
    """The one replay of a failed run: a new queued run with trigger replay (the failed run
    stays failed and records replayedBy). None when there is nothing to replay: it was
    replayed already, or a newer run exists (a replay syncs the whole district, so only a
    district's latest run is worth replaying; older failures are superseded by it)."""
    if failed_run.status != store.FAILED:
        raise ValueError(f"only failed runs are replayed, not {failed_run.status}")
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


def approve_run(district_id: str, run_id: str, review: dict | None = None) -> SyncRunModel:
    """needs_review -> queued (taking the lock) so a worker applies the held deactivations.

    Raises NotApprovable for any other state, or when a newer run exists (its read of the
    SIS supersedes the held deactivations), RunInProgress while another run holds the lock.
    """
    run = store.get_run(district_id, run_id)
    if run is None:
        raise LookupError(run_id)
    if run.status != store.NEEDS_REVIEW:
        raise NotApprovable(run.status, f"Only a run waiting for review can be approved; this one is {run.status}.")
    if is_superseded(run):
        raise NotApprovable(
            run.status, "A newer sync has run since; its result replaces this review. Start a new sync instead."
        )
    approved_at = utc_now()
    actions = [
        SyncRunModel.status.set(store.QUEUED),
        SyncRunModel.approved_at.set(approved_at),
        SyncRunModel.finished_at.remove(),
        SyncRunModel.lease_id.remove(),
        SyncRunModel.lease_until.remove(),
    ]
    if review is not None:  # who approved, when, and how much (sync/review.py)
        actions.append(SyncRunModel.review.set(review))

    def write(_district, observed: locks.ObservedLock) -> None:
        store.relock_existing_run(
            run,
            lock_expires_at=locks.expiry(locks.QUEUED_LOCK_SECONDS),
            observed_holder=observed.holder,
            observed_expiry=observed.expires_at,
            stale_run_failure=observed.stale_failure,
            from_status=store.NEEDS_REVIEW,
            actions=actions,
        )

    try:
        _announce_taken_over(locks.take(district_id, write), run_id)
    except RunInProgress:
        fresh = store.get_run(district_id, run_id)
        if fresh is not None and fresh.status != store.NEEDS_REVIEW:
            raise NotApprovable(fresh.status, "This run was approved already.") from None
        raise
    run.status = store.QUEUED
    run.approved_at = approved_at
    run.finished_at = None
    return run


def reject_run(district_id: str, run_id: str, review: dict) -> SyncRunModel:
    """needs_review -> rejected: nothing it held is deactivated. NotApprovable otherwise."""
    run = store.get_run(district_id, run_id)
    if run is None:
        raise LookupError(run_id)
    if run.status != store.NEEDS_REVIEW:
        raise NotApprovable(run.status, f"Only a run waiting for review can be rejected; this one is {run.status}.")
    if is_superseded(run):
        raise NotApprovable(run.status, "A newer sync has run since; its result replaces this review.")
    if not store.update_run(
        run,
        [SyncRunModel.status.set(store.REJECTED), SyncRunModel.review.set(review)],
        SyncRunModel.status == store.NEEDS_REVIEW,
    ):
        fresh = store.get_run(district_id, run_id)
        raise NotApprovable(fresh.status if fresh else "unknown", "This run was decided already.")
    run.status, run.review = store.REJECTED, review
    return run


def undo_approval(run: SyncRunModel) -> None:
    """The approve message could not be sent: back to needs_review, lock released, so the
    admin can simply approve again."""
    actions = [
        SyncRunModel.status.set(store.NEEDS_REVIEW),
        SyncRunModel.approved_at.remove(),
        SyncRunModel.finished_at.set(utc_now()),
        SyncRunModel.review.remove(),
    ]
    if store.update_run(run, actions, (SyncRunModel.status == store.QUEUED) & SyncRunModel.lease_id.does_not_exist()):
        locks.release(run.district_id, run.run_id)


# ---------------------------------------------------------------- worker side


def claim(run: SyncRunModel, lease_id: str) -> bool:
    """Mark the run running for this message (invocations + 1) and heart-beat its lock.
    False when the run is finished or another delivery is working on it right now."""
    now = locks.clock()
    if not store.claim_run(run, lease_id, now, int(now) + LEASE_SECONDS, utc_now()):
        return False
    locks.heartbeat(run.district_id, run.run_id)
    return True


def heartbeat(run: SyncRunModel, lease_id: str, counts: dict | None) -> None:
    """Extend lock and lease, and show the live counts. Raises LockLost when taken over."""
    actions = [SyncRunModel.lease_until.set(int(locks.clock()) + LEASE_SECONDS)]
    if counts is not None:
        actions.append(SyncRunModel.counts.set(store.normalised_counts(counts)))
    if not store.update_run(run, actions, store.held_by(lease_id)):
        raise LockLost(run.run_id)
    locks.heartbeat(run.district_id, run.run_id)


def record_continuation(run: SyncRunModel, lease_id: str, result) -> None:
    """Between two invocations: keep the progress, give the lease back (the next message
    takes it), and keep the lock for as long as a queued run's."""
    actions = _result_actions(run, result) + [SyncRunModel.lease_id.remove(), SyncRunModel.lease_until.remove()]
    if not store.update_run(run, actions, store.held_by(lease_id)):
        raise LockLost(run.run_id)
    locks.heartbeat(run.district_id, run.run_id, locks.QUEUED_LOCK_SECONDS)


def release_lease(run: SyncRunModel, lease_id: str) -> None:
    """After a failed attempt: let the retried delivery (or a duplicate) take the run at once."""
    store.update_run(run, [SyncRunModel.lease_id.remove(), SyncRunModel.lease_until.remove()], store.held_by(lease_id))


def finish(run: SyncRunModel, lease_id: str, status: str, result) -> bool:
    """Record the end of a run (succeeded, failed, needs_review) and release the lock.
    False if this message no longer held the run (taken over): nothing is written then."""
    if status not in store.FINISHED_STATUSES:
        raise ValueError(status)
    actions = _result_actions(run, result) + _ending(status)
    failure = getattr(result, "failure", None)
    actions.append(SyncRunModel.failure.set(failure) if failure else SyncRunModel.failure.remove())
    held = getattr(result, "held_deactivations", None)
    if status == store.NEEDS_REVIEW and held:
        actions.append(SyncRunModel.held_deactivations.set(dict(held)))
    elif status != store.NEEDS_REVIEW:
        actions.append(SyncRunModel.held_deactivations.remove())
    if not store.update_run(run, actions, store.held_by(lease_id)):
        return False
    locks.release(run.district_id, run.run_id)
    return True


def _announce_taken_over(observed: locks.ObservedLock, taken_by: str) -> None:
    """A run whose worker stopped was failed by the transaction that took its lock: tell
    its contacts and the app as for any failed run (announce re-reads it; never raises)."""
    if observed.stale_failure is not None and observed.stale_run is not None and observed.holder != taken_by:
        announce.run_failed(observed.stale_run, observed.stale_failure)


def fail(run: SyncRunModel, failure: str, *, dead_lettered: bool = False) -> bool:
    """Fail a queued or running run whoever holds its lease (the last delivery gave up, or
    on-call found its message in the dead-letter queue), and release the lock."""
    actions = _ending(store.FAILED) + [SyncRunModel.failure.set(failure)]
    if dead_lettered:
        actions.append(SyncRunModel.dead_lettered_at.set(utc_now()))
    changed = store.update_run(run, actions, SyncRunModel.status.is_in(*store.ACTIVE_STATUSES))
    if changed:
        locks.release(run.district_id, run.run_id)
        announce.run_failed(run, failure)  # events and the contacts' message (never raises)
    return changed


def mark_dead_lettered(run: SyncRunModel, failure: str) -> SyncRunModel:
    """A message for `run` sits in the dead-letter queue: make sure the run says failed (a
    worker killed on its last attempt left it running) and may be replayed once."""
    if run.status in store.ACTIVE_STATUSES:
        fail(run, failure, dead_lettered=True)
    elif run.status == store.FAILED and run.dead_lettered_at is None:
        store.update_run(run, [SyncRunModel.dead_lettered_at.set(utc_now())], (SyncRunModel.status == store.FAILED))
    return store.get_run(run.district_id, run.run_id) or run


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
    error_total = max(int(result.error_total or 0), int(run.error_total or 0), len(new_errors))
    actions.append(SyncRunModel.error_total.set(error_total))
    if getattr(result, "mode", None) in MODES:
        actions.append(SyncRunModel.mode.set(result.mode))
    if getattr(result, "plan", None) and run.plan is None:
        actions.append(SyncRunModel.plan.set(result.plan))
    return actions
