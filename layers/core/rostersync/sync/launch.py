"""Runs people ask for through the API: a sync now, a preview of a configuration, the approval
of a held run. Each creates the run (or moves it back to queued), queues its message, and when
the message cannot be sent undoes what it did, so nothing is left queued that no worker will
ever see: the run fails (or the approval is undone) and NotQueued says to try again.

The lifecycle rules themselves are sync/run_lifecycle.py's; this module is their API-side sequence.
"""

from __future__ import annotations

from rostersync import aws_clients
from rostersync.observability import logger
from rostersync.store import run_records
from rostersync.store.batch import BatchStore
from rostersync.store.sync_runs import NEEDS_REVIEW, SyncRunModel, get_run
from rostersync.sync import messages, run_lifecycle


class NotQueued(Exception):
    """The run's message could not be sent; what the request did was undone."""


def start_sync(district_id: str, mode: str, trigger: str = "manual") -> SyncRunModel:
    """A run of `mode`, queued: asked for (manual) or a CSV bundle's arrival (csv_arrival).
    RunInProgress, DistrictNotFound, NotQueued."""
    run = run_lifecycle.start_run(district_id, trigger, mode)
    _queue_or_fail(run, "manual sync", "sync")
    return run


def start_preview(district_id: str, proposal: dict) -> SyncRunModel:
    """A preview run of the proposed configuration, queued. RunInProgress, DistrictNotFound, NotQueued."""
    run = run_lifecycle.start_run(district_id, "manual", "preview")
    _queue_or_fail(
        run,
        "preview",
        "preview",
        before=lambda: run_records.put_proposal(aws_clients.dynamodb(), district_id, run.run_id, proposal),
    )
    return run


def _queue_or_fail(run: SyncRunModel, logged_as: str, told_as: str, before=None) -> None:
    """Send the new run's message (after `before()`, when given); when either fails, fail the
    run so its lock is released, and raise NotQueued."""
    try:
        if before is not None:
            before()
        messages.send_run_message(run.district_id, run.run_id, "run")
    except Exception:
        logger.exception(f"could not queue a {logged_as}", extra={"districtId": run.district_id, "runId": run.run_id})
        run_lifecycle.fail(run, f"The {told_as} could not be queued; start it again.")
        raise NotQueued() from None


def unknown_held_records(district_id: str, run_id: str, record_ids: list[str]) -> list[str]:
    """Those of `record_ids` the run does not hold (none once the run is no longer held)."""
    run = get_run(district_id, run_id)
    if run is None:
        raise LookupError(run_id)
    if run.status != NEEDS_REVIEW:
        return []
    found = run_records.held_records_exist(
        BatchStore(client=aws_clients.dynamodb(), max_in_flight=2), district_id, run_id, record_ids
    )
    return [record_id for record_id in record_ids if record_id not in found]


def approve(district_id: str, run_id: str, review: dict, chosen: list[str] | None) -> SyncRunModel:
    """needs_review -> queued with the admin's decision recorded (everything, or the chosen
    records). LookupError, NotApprovable, RunInProgress; queue it with queue_approval."""
    run = run_lifecycle.approve_run(district_id, run_id, review=review)
    try:
        run_records.put_decision(aws_clients.dynamodb(), district_id, run_id, {**review, "recordIds": chosen})
    except Exception:
        run_lifecycle.undo_approval(run)
        raise
    return run


def queue_approval(run: SyncRunModel) -> None:
    """Send the approved run's message; NotQueued (the approval undone) when it cannot be sent."""
    try:
        messages.send_run_message(run.district_id, run.run_id, "approve")
    except Exception:
        logger.exception("could not queue an approval", extra={"districtId": run.district_id, "runId": run.run_id})
        run_lifecycle.undo_approval(run)
        raise NotQueued() from None
