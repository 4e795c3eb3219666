"""The nightly dispatcher: every tick (rate 30 minutes), enqueue the districts whose night has come.

Once per night per district, whatever happens: the run is created in ONE transaction with
marking the night on the district and taking its lock (rostersync.sync.run_lifecycle.start_run with a
night), conditional on no equal-or-later night being marked. A retried or concurrent
dispatcher loses that condition and creates nothing. A district whose lock a manual sync
holds is left for a later tick of the same night (its night is not marked).

A dispatcher that crashed after the transaction but before its message went out is healed
by a later tick (or EventBridge's retry) in the night: a nightly run for tonight still queued,
with no worker pick-up, RESEND_AFTER_SECONDS after it was queued, is sent again. A duplicate
message is harmless (the worker leases the run and ignores finished runs), so re-sending is
always safe; the wait only keeps two dispatchers running at the same moment from doubling
every message.
"""

from collections import Counter
from datetime import UTC, date, datetime

from aws_lambda_powertools.metrics import MetricUnit

from rostersync.observability import flush_metrics, logger, metrics
from rostersync.store import sync_runs as run_store
from rostersync.store.districts import DistrictModel
from rostersync.sync import messages, run_lifecycle
from rostersync.sync.schedule import is_due, night_at

RESEND_AFTER_SECONDS = 5 * 60
# Once a UTC day, the tick that falls in this window (the schedule ticks every 30 minutes) also
# queues the sweep of purged districts (sync/purge.py sweep_purged): a duplicate is harmless.
SWEEP_WINDOW_MINUTES = 30


class DispatchIncomplete(RuntimeError):
    """Some districts could not be looked at (a store error): raised after the rest are done,
    so EventBridge retries the tick; the retry is idempotent."""


def parse_instant(time_iso: str) -> datetime:
    value = datetime.fromisoformat(time_iso.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def choose_mode(district: DistrictModel, now: datetime) -> str:
    # Imported here: the engine pulls in the OneRoster client, which the dispatcher needs only for this.
    from rostersync.sync.engine import choose_mode as engine_choose_mode

    return engine_choose_mode(district, now)


def scheduled_districts():
    """Districts with a SIS connection and an enabled sync configuration (scan, all pages)."""
    condition = DistrictModel.connection.exists() & (DistrictModel.sync_config.enabled == True)  # noqa: E712
    return DistrictModel.scan(filter_condition=condition, consistent_read=True)


def dispatch_due_districts(time_iso: str) -> dict:
    """Create tonight's run for every due district and send their messages in batches.

    Returns {checked, due, enqueued, resent, skipped, invalid, failed, unsent}.
    """
    now = parse_instant(time_iso)
    summary = Counter(
        {key: 0 for key in ("checked", "due", "enqueued", "resent", "skipped", "invalid", "failed", "unsent")}
    )
    outbox: list[messages.RunMessage] = []
    resent_ids: set[str] = set()

    def flush() -> None:
        unsent = messages.send_run_messages(outbox) if outbox else []
        # Unsent runs stay queued with no pick-up: the next tick of the night sends them again.
        summary["unsent"] += len(unsent)
        summary["enqueued"] += sum(1 for m in outbox if m not in unsent and m.run_id not in resent_ids)
        summary["resent"] += sum(1 for m in outbox if m not in unsent and m.run_id in resent_ids)
        outbox.clear()

    for district in scheduled_districts():
        summary["checked"] += 1
        try:
            outcome, message = _dispatch_one(district, now)
        except ValueError as error:  # a bad zone or start date: this district only
            summary["invalid"] += 1
            logger.warning(
                "district sync config unusable", extra={"districtId": district.district_id, "reason": str(error)}
            )
            continue
        except Exception:
            summary["failed"] += 1
            logger.exception("could not dispatch a district", extra={"districtId": district.district_id})
            continue
        if outcome in ("due", "skipped"):
            summary["due"] += 1
        if outcome == "skipped":
            summary["skipped"] += 1
        if message is not None:
            if outcome == "resend":
                resent_ids.add(message.run_id)
            outbox.append(message)
            if len(outbox) >= messages.BATCH_SIZE:
                flush()
    flush()
    _send_daily_sweep(now)

    result = dict(summary)
    logger.info("nightly dispatch", extra={"at": now.isoformat(), **result})
    metrics.add_metric(name="NightlyRunsEnqueued", unit=MetricUnit.Count, value=result["enqueued"])
    flush_metrics()
    if result["failed"]:
        raise DispatchIncomplete(f"{result['failed']} districts could not be dispatched: {result}")
    return result


def _send_daily_sweep(now: datetime) -> bool:
    """On the day's first tick (00:00-00:30 UTC), queue the sweep of purged districts. Never
    raises: a sweep not sent today is sent tomorrow."""
    at = now.astimezone(UTC)
    if at.hour != 0 or at.minute >= SWEEP_WINDOW_MINUTES:
        return False
    try:
        messages.send_run_message(messages.SWEEP_ALL, at.date().isoformat(), "sweep")
    except Exception:
        logger.exception("could not queue the sweep of purged districts; tomorrow's tick will")
        return False
    return True


def _dispatch_one(district: DistrictModel, now: datetime) -> tuple[str, messages.RunMessage | None]:
    """("due", message) for a new nightly run, ("skipped", None) when due but not started,
    ("resend", message) for tonight's stranded run, ("idle", None) otherwise."""
    config = district.sync_config
    start_date = date.fromisoformat(config.start_date)
    night = is_due(district.timezone, start_date, now, district.last_nightly_night)
    if night is not None:
        try:
            run = run_lifecycle.start_run(
                district.district_id, "nightly", choose_mode(district, now), night=night.isoformat()
            )
        except run_lifecycle.NightAlreadyDispatched:
            return "skipped", None  # another dispatcher (or this one's earlier try) made tonight's run
        except run_lifecycle.RunInProgress as busy:
            logger.info(
                "district busy; a later tick tonight will try again",
                extra={"districtId": district.district_id, "runId": busy.run_id},
            )
            return "skipped", None
        logger.info(
            "nightly run created", extra={"districtId": district.district_id, "runId": run.run_id, "night": run.night}
        )
        return "due", messages.RunMessage(district.district_id, run.run_id, "run")
    stranded = _stranded_run_for_tonight(district, now)
    if stranded is not None:
        logger.info(
            "re-sending tonight's queued run", extra={"districtId": district.district_id, "runId": stranded.run_id}
        )
        return "resend", messages.RunMessage(district.district_id, stranded.run_id, "run")
    return "idle", None


def _stranded_run_for_tonight(district: DistrictModel, now: datetime):
    """Tonight's nightly run, if it is still queued and no worker ever picked it up."""
    tonight = night_at(district.timezone, now)
    if tonight is None or district.last_nightly_night != tonight.isoformat() or not district.active_run_id:
        return None
    run = run_store.get_run(district.district_id, district.active_run_id)
    if run is None or run.trigger != "nightly" or run.night != tonight.isoformat():
        return None
    if run.status != run_store.QUEUED or int(run.invocations or 0) > 0:
        return None
    if run_lifecycle.clock() - run.queued_at.timestamp() < RESEND_AFTER_SECONDS:
        return None  # just queued (by a dispatcher running alongside): its message is on the way
    return run
