"""Sync runs and the district run lock, as stored.

One SyncRunModel item per run (runIds are time ordered, so a reverse query lists newest
first). The run lock lives on the district item (activeRunId, lockExpiresAt): every write
that takes or gives it back is here, as conditional writes, so the rules in
rostersync.sync.run_lifecycle can rely on "exactly one writer wins". Only that module calls the
writes here (tests/unit/test_lifecycle_writes.py); the statuses below are its states.
"""

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from rostersync.settings import aws_endpoint_url, get_settings
from rostersync.store.attributes import raw_map, table_meta
from rostersync.store.districts import DistrictModel

RECORD_TYPES = ("schools", "teachers", "students", "classes", "enrollments")
COUNT_KINDS = ("created", "updated", "unchanged", "deactivated", "skipped")
MAX_STORED_ERRORS = 200  # per run; errorTotal keeps counting past it
MAX_STORED_NOTICES = 100  # per run: notices are not errors and never count in errorTotal
SKIPPED_BY = "skippedBy"  # per type: {reason: n} of the skipped (sync/skip_counts.py)

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
NEEDS_REVIEW = "needs_review"
REJECTED = "rejected"  # a needs_review run an admin refused: nothing it held is deactivated
ACTIVE_STATUSES = (QUEUED, RUNNING)
FINISHED_STATUSES = (SUCCEEDED, FAILED, NEEDS_REVIEW, REJECTED)


class RunError(MapAttribute):
    type = UnicodeAttribute()
    sis_sourced_id = UnicodeAttribute(attr_name="sisSourcedId", null=True)
    code = UnicodeAttribute()
    message = UnicodeAttribute()


class SyncRunModel(Model):
    Meta = table_meta(get_settings().sync_runs_table)

    district_id = UnicodeAttribute(hash_key=True, attr_name="districtId")
    run_id = UnicodeAttribute(range_key=True, attr_name="runId")
    trigger = UnicodeAttribute()  # nightly | manual | replay | csv_arrival
    mode = UnicodeAttribute()  # full | delta: requested until the engine reports the effective mode
    requested_mode = UnicodeAttribute(attr_name="requestedMode", null=True)
    status = (
        UnicodeAttribute()
    )  # queued | running | succeeded | failed | needs_review | rejected (sync/run_lifecycle.py)
    queued_at = UTCDateTimeAttribute(attr_name="queuedAt")
    started_at = UTCDateTimeAttribute(attr_name="startedAt", null=True)
    finished_at = UTCDateTimeAttribute(attr_name="finishedAt", null=True)
    # {type: {created, updated, unchanged, deactivated, skipped, skippedBy: {reason: n}}}
    counts = raw_map(default=dict)
    errors = ListAttribute(of=RunError, default=list)
    # What a person should know that is not an error: [{code, severity, message, counts, type,
    # sisSourcedId}] (sync/notices.py); never counted in errorTotal.
    notices = JSONAttribute(null=True)
    error_total = NumberAttribute(attr_name="errorTotal", default=0)
    invocations = NumberAttribute(default=0)  # how many worker invocations the run took
    night = UnicodeAttribute(null=True)  # nightly runs: the district-local date of the night
    failure = UnicodeAttribute(null=True)  # why a failed run failed, for people
    # Deactivations held back by the guard: {type: n}, applied on approval.
    held_deactivations: MapAttribute[str, Any] = MapAttribute(attr_name="heldDeactivations", null=True)
    approved_at = UTCDateTimeAttribute(attr_name="approvedAt", null=True)
    # The worker lease: which SQS message is working on the run right now, and until when
    # (epoch seconds). Two deliveries of one message never work on a run at the same time.
    lease_id = UnicodeAttribute(attr_name="leaseId", null=True)
    lease_until = NumberAttribute(attr_name="leaseUntil", null=True)
    # Dead-letter bookkeeping: set when the run's message gave up (last receive) or was found
    # in the dead-letter queue; a redriven message for such a run becomes one replay run.
    dead_lettered_at = UTCDateTimeAttribute(attr_name="deadLetteredAt", null=True)
    replay_of = UnicodeAttribute(attr_name="replayOf", null=True)
    # The district's lockToken this run took the lock with: its writes are fenced by it.
    fence_token = NumberAttribute(attr_name="fenceToken", null=True)
    # When the invocation that holds the lease ends at the latest (epoch seconds): after it no
    # write of that invocation can land (a purge waits for it before it says done).
    writes_end_at = NumberAttribute(attr_name="writesEndAt", null=True)
    replayed_by = UnicodeAttribute(attr_name="replayedBy", null=True)
    # What the run syncs, fixed at its start: {selection, guardMaxShare, guardMinRecords,
    # connection: {hostUrl, clientId, authMethod, ...}} (never the secret).
    plan = JSONAttribute(null=True)
    # The admin's answer to a needs_review run: {decision: approved|approved_in_part|rejected,
    # by, role, at, records}; the chosen records themselves are in RunRecordsTable.
    review = JSONAttribute(null=True)


class LockTaken(Exception):
    """A conditional write on the lock (or the night mark) lost: someone else holds or made it."""


# ---------------------------------------------------------------- reads


def get_run(district_id: str, run_id: str) -> SyncRunModel | None:
    try:
        return SyncRunModel.get(district_id, run_id, consistent_read=True)
    except SyncRunModel.DoesNotExist:
        return None


def get_district(district_id: str) -> DistrictModel | None:
    try:
        return DistrictModel.get(district_id, consistent_read=True)
    except DistrictModel.DoesNotExist:
        return None


def list_runs(district_id: str, limit: int, start_run_id: str | None = None) -> tuple[list[SyncRunModel], str | None]:
    """Up to `limit` runs newest first, after `start_run_id`; and the runId to continue after."""
    start_key = None
    if start_run_id is not None:
        start_key = {"districtId": {"S": district_id}, "runId": {"S": start_run_id}}
    # One more than asked tells whether another page exists without returning an empty one.
    found = list(
        SyncRunModel.query(
            district_id,
            scan_index_forward=False,
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=start_key,
        )
    )
    page = found[:limit]
    next_after = page[-1].run_id if len(found) > limit else None
    return page, next_after


def latest_run(district_id: str) -> SyncRunModel | None:
    page, _ = list_runs(district_id, 1)
    return page[0] if page else None


# ---------------------------------------------------------------- lock + run creation


@lru_cache(maxsize=4)
def _connection(region: str, endpoint: str | None) -> Connection:
    # One per process (creating a botocore client costs ~100 ms); keyed on the endpoint
    # because tests and the local stack point AWS_ENDPOINT_URL at moto.
    return Connection(region=region)


def _transaction() -> TransactWrite:
    return TransactWrite(connection=_connection(get_settings().region, aws_endpoint_url()))


def _lock_condition(observed_holder: str | None, observed_expiry: float | None, observed_token: int | None):
    """The lock (and its token) is still as we read it: free, or held by the same (stale) holder."""
    token_unchanged: Condition
    if observed_token is None:
        token_unchanged = DistrictModel.lock_token.does_not_exist()
    else:
        token_unchanged = DistrictModel.lock_token == observed_token
    if observed_holder is None:
        return DistrictModel.active_run_id.does_not_exist() & token_unchanged
    return (
        (DistrictModel.active_run_id == observed_holder)
        & (DistrictModel.lock_expires_at == observed_expiry)
        & token_unchanged
    )


def create_run_with_lock(
    run: SyncRunModel,
    lock_expires_at: float,
    observed_holder: str | None,
    observed_expiry: float | None,
    stale_run_failure: str | None = None,
    night: str | None = None,
    replay_of: SyncRunModel | None = None,
    observed_token: int | None = None,
) -> None:
    """Atomically: put the new run, point the district lock at it, and optionally
    - fail the stale holder (`stale_run_failure`) when the lock is taken over,
    - mark `night` as dispatched (only if no later-or-equal night was marked),
    - mark `replay_of` as replayed by the new run (only once).
    Raises LockTaken when any condition no longer holds (nothing is written then)."""
    district = DistrictModel(run.district_id)
    district_actions: list[Action] = [
        DistrictModel.active_run_id.set(run.run_id),
        DistrictModel.lock_expires_at.set(lock_expires_at),
        DistrictModel.lock_token.set(run.fence_token),
    ]
    district_condition = DistrictModel.district_id.exists() & _lock_condition(
        observed_holder, observed_expiry, observed_token
    )
    if night is not None:
        district_actions.append(DistrictModel.last_nightly_night.set(night))
        district_condition &= DistrictModel.last_nightly_night.does_not_exist() | (
            DistrictModel.last_nightly_night < night
        )
    try:
        with _transaction() as transaction:
            transaction.save(run, condition=SyncRunModel.run_id.does_not_exist())
            transaction.update(district, actions=district_actions, condition=district_condition)
            if observed_holder is not None and stale_run_failure is not None:
                stale = SyncRunModel(run.district_id, observed_holder)
                transaction.update(
                    stale,
                    actions=[
                        SyncRunModel.status.set(FAILED),
                        SyncRunModel.failure.set(stale_run_failure),
                        SyncRunModel.finished_at.set(run.queued_at),
                        SyncRunModel.lease_id.remove(),
                        SyncRunModel.lease_until.remove(),
                    ],
                    condition=SyncRunModel.status.is_in(*ACTIVE_STATUSES),
                )
            if replay_of is not None:
                transaction.update(
                    replay_of,
                    actions=[SyncRunModel.replayed_by.set(run.run_id)],
                    condition=(SyncRunModel.status == FAILED) & SyncRunModel.replayed_by.does_not_exist(),
                )
    except TransactWriteError as error:
        if _cancelled_by_condition(error):
            raise LockTaken(run.district_id) from error
        raise


def _cancelled_by_condition(error: TransactWriteError) -> bool:
    reasons = [reason for reason in (error.cancellation_reasons or []) if reason is not None]
    return any(reason.code == "ConditionalCheckFailed" for reason in reasons)


def relock_existing_run(
    run: SyncRunModel,
    lock_expires_at: float,
    observed_holder: str | None,
    observed_expiry: float | None,
    stale_run_failure: str | None,
    condition,
    actions: list,
    observed_token: int | None = None,
    new_token: int | None = None,
) -> None:
    """Atomically point the lock at an existing run (approval of a needs_review run) and
    update that run, provided `condition` still holds on it. Raises LockTaken otherwise."""
    district = DistrictModel(run.district_id)
    try:
        with _transaction() as transaction:
            transaction.update(
                district,
                actions=[
                    DistrictModel.active_run_id.set(run.run_id),
                    DistrictModel.lock_expires_at.set(lock_expires_at),
                    # set(None) is a remove; said as one, since set's type takes no None
                    DistrictModel.lock_token.set(new_token)
                    if new_token is not None
                    else DistrictModel.lock_token.remove(),
                ],
                condition=DistrictModel.district_id.exists()
                & _lock_condition(observed_holder, observed_expiry, observed_token),
            )
            transaction.update(run, actions=actions, condition=condition)
            if observed_holder is not None and stale_run_failure is not None and observed_holder != run.run_id:
                stale = SyncRunModel(run.district_id, observed_holder)
                transaction.update(
                    stale,
                    actions=[
                        SyncRunModel.status.set(FAILED),
                        SyncRunModel.failure.set(stale_run_failure),
                        SyncRunModel.finished_at.set(datetime.now(UTC)),
                        SyncRunModel.lease_id.remove(),
                        SyncRunModel.lease_until.remove(),
                    ],
                    condition=SyncRunModel.status.is_in(*ACTIVE_STATUSES),
                )
    except TransactWriteError as error:
        if _cancelled_by_condition(error):
            raise LockTaken(run.district_id) from error
        raise


def extend_lock(district_id: str, run_id: str, lock_expires_at: float) -> bool:
    """Heart-beat: move the lock's expiry, only while `run_id` holds it. False if it does not."""
    return _update_while_holding(district_id, run_id, [DistrictModel.lock_expires_at.set(lock_expires_at)])


def release_lock(district_id: str, run_id: str) -> bool:
    """Give the lock back, only if `run_id` still holds it. False if it did not."""
    return _update_while_holding(
        district_id, run_id, [DistrictModel.active_run_id.remove(), DistrictModel.lock_expires_at.remove()]
    )


def move_token(district_id: str, only_when_free: bool = False) -> bool:
    """Make every run's fencing token stale (a purge, a rejection): the lock's token grows by
    one. False when the district is gone (or, `only_when_free`, a run holds the lock)."""
    condition = DistrictModel.district_id.exists()
    if only_when_free:
        condition &= DistrictModel.active_run_id.does_not_exist()
    try:
        DistrictModel(district_id).update(actions=[DistrictModel.lock_token.add(1)], condition=condition)
        return True
    except UpdateError as error:
        if _condition_failed(error):
            return False
        raise


def lock_token(district_id: str) -> tuple[bool, int | None, bool]:
    """(the district exists, its lock token, a purge of it is confirmed): one consistent read
    of two attributes, what a fenced write checks before each batch."""
    try:
        district = DistrictModel.get(
            district_id, consistent_read=True, attributes_to_get=["districtId", "lockToken", "purge"]
        )
    except DistrictModel.DoesNotExist:
        return False, None, False
    token = None if district.lock_token is None else int(district.lock_token)
    return True, token, purge_confirmed(district)


def purge_confirmed(district: DistrictModel) -> bool:
    """A platform admin confirmed the district's purge (sync/purge.py's states queued, running)."""
    return (district.purge or {}).get("state") in ("queued", "running")


def _update_while_holding(district_id: str, run_id: str, actions: list) -> bool:
    try:
        DistrictModel(district_id).update(
            actions=actions,
            condition=DistrictModel.district_id.exists() & (DistrictModel.active_run_id == run_id),
        )
        return True
    except UpdateError as error:
        if _condition_failed(error):
            return False
        raise


def _condition_failed(error: Exception) -> bool:
    cause = getattr(error, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"


# ---------------------------------------------------------------- run updates


def update_run(run: SyncRunModel, actions: list, condition=None) -> bool:
    """Conditional update of a run; False when the condition does not hold (the item
    is then unchanged and `run` keeps its old values)."""
    try:
        run.update(actions=actions, condition=condition)
        return True
    except UpdateError as error:
        if _condition_failed(error):
            return False
        raise


def claim_run(
    run: SyncRunModel,
    lease_id: str,
    now: float,
    lease_until: float,
    started_at: datetime,
    status: str,
    condition,
    writes_end_at: int | None = None,
) -> bool:
    """Take the worker lease on a run (while `condition` holds on it) and set its `status` (one
    more invocation). Fails (False) while another message holds a live lease, or when the
    condition does not hold."""
    lease_free = (
        SyncRunModel.lease_until.does_not_exist()
        | (SyncRunModel.lease_until < now)
        | (SyncRunModel.lease_id == lease_id)
    )
    actions = [
        SyncRunModel.status.set(status),
        SyncRunModel.started_at.set(SyncRunModel.started_at | started_at),
        SyncRunModel.invocations.add(1),
        SyncRunModel.lease_id.set(lease_id),
        SyncRunModel.lease_until.set(lease_until),
        SyncRunModel.writes_end_at.set(lease_until if writes_end_at is None else writes_end_at),
    ]
    return update_run(run, actions, condition & lease_free)


def held_by(lease_id: str):
    """Condition: the run is still active and this message holds its lease."""
    return SyncRunModel.status.is_in(*ACTIVE_STATUSES) & (SyncRunModel.lease_id == lease_id)


def bounded_errors(stored: Iterable[RunError], new: Iterable[dict]) -> list[RunError]:
    """Stored errors plus new ones, keeping at most MAX_STORED_ERRORS (the first ones)."""
    kept = list(stored)[:MAX_STORED_ERRORS]
    for error in new:
        if len(kept) >= MAX_STORED_ERRORS:
            break
        kept.append(
            RunError(
                type=str(error.get("type") or "unknown"),
                sis_sourced_id=(None if error.get("sisSourcedId") is None else str(error.get("sisSourcedId"))),
                code=str(error.get("code") or "error"),
                message=str(error.get("message") or "")[:1000],
            )
        )
    return kept


def normalised_counts(counts: dict | None) -> dict:
    """{type: {kind: int, skippedBy: {reason: int}}} for every type and kind, zeros where the
    engine said nothing (skippedBy: why the skipped were left out, sync/skip_counts.py)."""
    counts = counts or {}
    normalised: dict[str, dict[str, Any]] = {}
    for record_type in RECORD_TYPES:
        of_type = counts.get(record_type) or {}
        if hasattr(of_type, "as_dict"):
            of_type = of_type.as_dict()
        by = of_type.get(SKIPPED_BY) or {}
        if hasattr(by, "as_dict"):
            by = by.as_dict()
        normalised[record_type] = {kind: int(of_type.get(kind, 0) or 0) for kind in COUNT_KINDS}
        normalised[record_type][SKIPPED_BY] = {str(r): int(n) for r, n in sorted(by.items()) if int(n or 0) > 0}
    return normalised


def bounded_notices(stored: Iterable[dict] | None, new: Iterable[dict]) -> list[dict]:
    """Stored notices plus new ones, keeping at most MAX_STORED_NOTICES (the first ones); one said
    again (an approval's sweep repeats the held run's) is kept once."""
    kept = list(stored or [])
    for notice in new:
        if notice not in kept:
            kept.append(notice)
    return kept[:MAX_STORED_NOTICES]
