"""The sync worker: one SQS batch, each message one district's run (or a slice of it).

Per message: load the run; ignore it when it is unknown or finished (duplicates are
harmless), except a dead-lettered failed run, whose redriven message becomes one new run
with trigger replay; take the run's lease (another delivery of the same run working right
now -> ignore this one); run the engine for this message's share of the invocation's time;
then hand the outcome to the run's lifecycle (sync/run_lifecycle.py, which owns every status and
the lock). CONTINUE re-sends the run's message (the engine's checkpoint says where to resume);
when the slice ended because its SIS host had no slot for it (oneroster/hosts.py), the message
goes out with a delay instead, and that delivery succeeds: a busy host costs no receive.
An exception fails only this message (partial batch response) and SQS retries it; on its last
receive the lifecycle fails the run before the message goes to the dead-letter queue, so no run
stays "running" forever. What stays here is SQS's: batches, time slices, receive counts, sends.
"""

import hashlib
import json
import random
import time
from collections.abc import Callable
from functools import lru_cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from rostersync.notify import announce
from rostersync.observability import flush_metrics, logger, metrics, redact
from rostersync.oneroster.hosts import HostBusy, gated
from rostersync.settings import SyncTuning, host_busy_delay_seconds, sync_max_receive_count
from rostersync.store import sync_runs as store
from rostersync.store.host_leases import DynamoHostGate
from rostersync.sync import messages, run_lifecycle
from rostersync.sync.run_lifecycle import LockLost

# Kept back from the invocation's time for what follows the engine (finishing the run,
# re-sending a continuation) and for Lambda itself.
SAFETY_SECONDS = 15.0
# A message whose share of the time is smaller than this is passed on to a fresh
# invocation instead of starting a slice too short to read a page.
MIN_SLICE_SECONDS = 10.0
# The heartbeat (lock, lease and live counts) is written at most this often.
HEARTBEAT_EVERY_SECONDS = 10.0
DEFAULT_MAX_RECEIVE_COUNT = 5  # template.yaml's SyncQueue RedrivePolicy, when the queue cannot be asked
_KEYS = ["districtId", "runId"]


def engine():
    # Imported when a message is handled, so this module loads (and its tests run) on its own.
    from rostersync.sync import engine as sync_engine

    return sync_engine


def handle_batch(event: dict, context) -> PartialItemFailureResponse:
    """The Lambda handler's body: {"batchItemFailures": [...]} for the messages to retry."""
    records = event.get("Records") or []
    budget = TimeBudget(context, len(records))
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def handle(record: SQSRecord) -> None:
        handle_record(record, budget.next_slice())

    try:
        return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    finally:
        flush_metrics()


class TimeBudget:
    """Splits what is left of the invocation over the messages still to handle: each message
    gets (time left - safety) / (messages left), recomputed as each one starts, so a message
    that finishes early leaves its time to the next ones; a share too short to read a page is
    raised to a minimal slice while the invocation has one left (later messages are then
    passed on, which costs them no receive)."""

    def __init__(self, context, messages_in_batch: int):
        self.context = context
        self.messages_left = max(1, messages_in_batch)

    def seconds_left(self) -> float:
        if self.context is None:
            return 60.0
        return self.context.get_remaining_time_in_millis() / 1000.0

    def next_slice(self) -> "Slice":
        usable = self.seconds_left() - SAFETY_SECONDS
        share = max(usable / self.messages_left, min(MIN_SLICE_SECONDS, usable))
        self.messages_left = max(1, self.messages_left - 1)
        memory = getattr(self.context, "memory_limit_in_mb", None)  # a string on Lambda
        return Slice(share, self.seconds_left(), int(memory) if memory else None)


class Slice:
    """One message's share of the invocation: callable as the engine's time_left."""

    def __init__(self, seconds: float, invocation_left: float, memory_mb: int | None = None):
        self.seconds = seconds
        self.invocation_left = invocation_left  # what the whole invocation had when this slice began
        self.memory_mb = memory_mb  # the function's, which sets the sync's writer processes
        self.deadline = time.monotonic() + seconds

    def __call__(self) -> float:
        return self.deadline - time.monotonic()


def handle_record(record: SQSRecord, time_left: Slice) -> None:
    try:
        message = messages.parse(record.body)
    except messages.MalformedMessage as error:
        # Not ours, and no retry can make it so: acknowledge it rather than feed the dead-letter queue.
        logger.error("ignoring a malformed sync message", extra={"messageId": record.message_id, "reason": str(error)})
        metrics.add_metric(name="MalformedMessages", unit=MetricUnit.Count, value=1)
        return
    logger.thread_safe_append_keys(districtId=message.district_id, runId=message.run_id)
    try:
        _handle(message, record, time_left)
    finally:
        logger.thread_safe_remove_keys(_KEYS)


def _handle(message: messages.RunMessage, record: SQSRecord, time_left: "Slice") -> None:
    if message.action == "purge":  # a district's erasure, not a run (sync/purge.py)
        from rostersync.sync import purge

        purge.handle(message, time_left)
        return
    if message.action == "sweep":  # items of purged districts found later are erased (sync/purge.py)
        from rostersync.sync import purge

        purge.sweep_purged()
        return
    run = store.get_run(message.district_id, message.run_id)
    if run is None:
        logger.warning("ignoring a message for an unknown run")
        return
    if run.status in store.FINISHED_STATUSES:
        _handle_finished(run)
        return
    if time_left() < MIN_SLICE_SECONDS:
        why = (
            f"The sync worker had {time_left.invocation_left:.0f} s left in its invocation when this run's turn "
            f"came; a sync slice needs at least {SAFETY_SECONDS + MIN_SLICE_SECONDS:.0f} s "
            f"({SAFETY_SECONDS:.0f} s kept in reserve and a {MIN_SLICE_SECONDS:.0f} s slice). Raise the "
            "SyncWorkerFunction Timeout (template.yaml sets 900 s) or lower the event source's BatchSize."
        )
        _pass_on(run, message, why)
        return

    lease_id = lease_id_of(record)
    try:
        if not run_lifecycle.claim(run, lease_id, getattr(time_left, "invocation_left", None)):
            logger.info("another delivery is working on this run, or it just finished; ignoring this one")
            return
    except LockLost:
        # Queued or running without the lock: nobody can finish it cleanly any more.
        run_lifecycle.fail(run, "The run lost its district lock before a worker could start it.")
        logger.warning("run had lost its lock; marked failed")
        return
    metrics.add_metric(name="SyncInvocations", unit=MetricUnit.Count, value=1)
    logger.info("sync slice starting", extra={"invocation": int(run.invocations or 0), "trigger": run.trigger})

    sync_engine = engine()
    # Approval is a property of the run (set by the approve route), not of the message: a late
    # plain "run" duplicate must not turn an approved run back into needs_review.
    request = sync_engine.SyncRequest(
        district_id=run.district_id,
        run_id=run.run_id,
        mode=run.requested_mode or run.mode,
        approve=run.approved_at is not None,
        fence=run_lifecycle.fence(run),
    )
    try:
        with gated(host_gate()) as clients:
            tuning = SyncTuning.from_env(getattr(time_left, "memory_mb", None))  # writer processes by memory
            result = sync_engine.run_sync(request, time_left, _progress_writer(run, lease_id), tuning=tuning)
        busy = next((c.refused for c in clients if c.refused is not None), None)
        if busy is not None and result.outcome == sync_engine.Outcome.CONTINUE:
            _come_back_later(run, lease_id, message, result, busy)
            return
        _record_outcome(run, lease_id, message, result)
    except LockLost:
        logger.warning("another run took over the district while this one ran; its result is dropped")
    except Exception as error:
        # Also when recording the outcome failed: the lease must not outlive this delivery,
        # or the retry would find it held and step aside.
        _after_failure(run, lease_id, record, error)
        raise


def lease_id_of(record: SQSRecord) -> str:
    """One per delivery: SQS may deliver copies of one message (same MessageId) at the same
    time, each with its own receipt handle, and only one of them may work on the run."""
    digest = hashlib.sha256((record.receipt_handle or "").encode()).hexdigest()[:16]
    return f"{record.message_id}:{digest}"


def _handle_finished(run) -> None:
    """Finished runs ignore their messages, except a dead-lettered failure: the redriven
    message of such a run (SQS message move task) becomes its one replay run."""
    if run.status == store.FAILED and run.dead_lettered_at is not None and not run.replayed_by:
        replay = run_lifecycle.start_replay(run)  # RunInProgress -> this message fails and is retried later
        if replay is not None:
            messages.send_run_message(replay.district_id, replay.run_id, "run")
            metrics.add_metric(name="SyncReplays", unit=MetricUnit.Count, value=1)
            logger.info("replaying a dead-lettered run", extra={"replayRunId": replay.run_id})
            return
    logger.info("ignoring a message for a finished run", extra={"status": run.status})


def _progress_writer(run, lease_id: str) -> Callable[[dict], None]:
    """on_progress for the engine: heart-beat lock and lease, show live counts (throttled).
    Raises LockLost when another run took the district over, which stops the engine."""
    last = time.monotonic()

    def on_progress(counts: dict) -> None:
        nonlocal last
        if time.monotonic() - last < HEARTBEAT_EVERY_SECONDS:
            return
        run_lifecycle.heartbeat(run, lease_id, counts)
        last = time.monotonic()

    return on_progress


def _pass_on(run, message: messages.RunMessage, why: str) -> None:
    """Re-send the run's message for a fresh invocation (no receive is spent), or fail the run
    once it has been passed on run_lifecycle.MAX_STALLS times in a row without moving forward."""
    stalls = message.stalls + 1
    verdict = run_lifecycle.record_stall(run, stalls, why)
    if verdict != run_lifecycle.Stall.SEND_AGAIN:
        if verdict == run_lifecycle.Stall.FAILED:
            metrics.add_metric(name="SyncFailures", unit=MetricUnit.Count, value=1)
        logger.error("run stalled; marked failed", extra={"stalls": stalls})
        return
    messages.send_run_message(run.district_id, run.run_id, message.action, stalls=stalls)
    logger.info("passed the run on without progress", extra={"stalls": stalls, "reason": why})


def host_gate() -> DynamoHostGate:
    """The slots of SIS hosts every worker shares (store/host_leases.py)."""
    return DynamoHostGate()


def _come_back_later(run, lease_id: str, message: messages.RunMessage, result, busy: HostBusy) -> None:
    """The SIS host had no slot for this run (or asked everyone to wait): keep its progress,
    and send its message again with a delay. This delivery succeeds (it is deleted), so a busy
    host never counts toward the dead-letter queue, nor as a stall."""
    run_lifecycle.record_continuation(run, lease_id, result)
    base = host_busy_delay_seconds()
    delay = base * (1 + random.random())  # noqa: S311  (jitter: busy runs do not all come back at once)
    if busy.retry_at:
        delay = max(delay, busy.retry_at - time.time())
    delay = int(min(messages.MAX_DELAY_SECONDS, max(1, round(delay))))
    messages.send_run_message(run.district_id, run.run_id, message.action, delay_seconds=delay)
    metrics.add_metric(name="SyncHostBusy", unit=MetricUnit.Count, value=1)
    logger.info("SIS host busy; the run comes back later", extra={"delaySeconds": delay, "reason": str(busy)})


def _record_outcome(run, lease_id: str, message: messages.RunMessage, result) -> None:
    status = run_lifecycle.record_outcome(run, lease_id, result)
    if status == run_lifecycle.Move.CONTINUE:
        if not getattr(result, "progressed", True):
            _pass_on(run, message, "The SIS did not answer a single page within the worker's time slice.")
            return
        messages.send_run_message(run.district_id, run.run_id, message.action)
        metrics.add_metric(name="SyncContinuations", unit=MetricUnit.Count, value=1)
        logger.info("sync slice saved its checkpoint; continuing in a new message")
        return
    if status is None:
        logger.warning("the run was taken over before it could finish; its result is dropped")
        return
    counts = store.normalised_counts(result.counts)
    written = sum(counts[t][k] for t in counts for k in ("created", "updated", "deactivated"))
    metrics.add_metric(name="SyncRuns", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="RecordsWritten", unit=MetricUnit.Count, value=written)
    metrics.add_metric(name="RecordErrors", unit=MetricUnit.Count, value=int(result.error_total or 0))
    if status == store.FAILED:
        metrics.add_metric(name="SyncFailures", unit=MetricUnit.Count, value=1)
    if status == store.NEEDS_REVIEW:
        metrics.add_metric(name="SyncNeedsReview", unit=MetricUnit.Count, value=1)
    announce.run_finished(run, status, result)  # events, connection health, contacts (never raises)
    logger.info(
        "sync finished",
        extra={
            "status": status,
            "mode": result.mode,
            "written": written,
            "errorTotal": int(result.error_total or 0),
            "invocations": int(run.invocations or 0),
        },
    )


def _after_failure(run, lease_id: str, record: SQSRecord, error: Exception) -> None:
    """The engine raised (store or SIS trouble that may pass): SQS retries the message. On
    its last receive, fail the run now: the message is about to go to the dead-letter queue."""
    receive_count = _receive_count(record)
    limit = max_receive_count()
    logger.exception("sync slice failed", extra={"receiveCount": receive_count, "maxReceiveCount": limit})
    try:
        failure = (
            f"{failure_text(error)} (gave up after {receive_count} attempts; the message is in the dead-letter queue)"
        )
        if run_lifecycle.record_failed_attempt(run, lease_id, failure, last_attempt=receive_count >= limit):
            metrics.add_metric(name="SyncFailures", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="SyncDeadLettered", unit=MetricUnit.Count, value=1)
    except Exception:
        logger.exception("could not record the failed attempt on the run")


def failure_text(error: Exception) -> str:
    """What people see as the run's failure: the error's own words (the engine's and the
    OneRoster client's never carry a secret), redacted once more to be sure, and short."""
    text = redact(str(error)).strip() or "no detail"
    return f"{type(error).__name__}: {text}"[:500]


def _receive_count(record: SQSRecord) -> int:
    try:
        return int(record.attributes.approximate_receive_count)
    except (TypeError, ValueError):
        return 1


def max_receive_count() -> int:
    """The sync queue's own maxReceiveCount (its RedrivePolicy), so template.yaml stays the one
    source; SYNC_MAX_RECEIVE_COUNT overrides it."""
    configured = sync_max_receive_count()
    if configured is not None:
        return configured
    return _queue_max_receive_count(messages.queue_url())


@lru_cache(maxsize=8)
def _queue_max_receive_count(queue_url: str) -> int:
    try:
        attributes = messages.sqs_client().get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
        return int(json.loads(attributes["Attributes"]["RedrivePolicy"])["maxReceiveCount"])
    except Exception:
        logger.warning("could not read the sync queue's maxReceiveCount; assuming the template's")
        return DEFAULT_MAX_RECEIVE_COUNT
