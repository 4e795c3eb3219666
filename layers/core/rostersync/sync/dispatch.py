"""The nightly dispatcher: every tick (rate 30 minutes), enqueue the districts whose night has come.

Which districts it looks at: those whose nextSyncAt has come, by a query of the districts
table's ByNextSync index per shard (store/districts.py), never a scan: a tick reads the due
districts only. Saving a sync configuration or a zone sets nextSyncAt to 0 (look at the next
tick); after each look the dispatcher moves it on: tomorrow's night window opening plus a
jitter of up to dispatch_spread_seconds() (two hours) (hashed from the district and the night, so the night's runs of
one zone do not all start in one tick), or, right after it queued a run, RESEND_AFTER_SECONDS
later, to look once more for a lost message (below). A district no longer configured leaves the
index. The messages of one tick are sent in batches, interleaved by SIS host, so one vendor's
districts do not all start together (per-host slots bound them anyway: oneroster/hosts.py).

Once per night per district, whatever happens: the run is created in ONE transaction with
marking the night on the district and taking its lock (rostersync.sync.run_lifecycle.start_run with a
night), conditional on no equal-or-later night being marked. A retried or concurrent
dispatcher loses that condition and creates nothing. A district whose lock a manual sync
holds is left for a later tick of the same night (its night is not marked, nextSyncAt stays).

A dispatcher that crashed after the transaction but before its message went out is healed
by a later tick (or EventBridge's retry) in the night: a nightly run for tonight still queued,
with no worker pick-up, RESEND_AFTER_SECONDS after it was queued, is sent again. A duplicate
message is harmless (the worker leases the run and ignores finished runs), so re-sending is
always safe; the wait only keeps two dispatchers running at the same moment from doubling
every message.
"""

import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from rostersync.observability import flush_metrics, logger, metrics
from rostersync.oneroster.hosts import host_key
from rostersync.settings import dispatch_spread_seconds
from rostersync.store import sync_runs as run_store
from rostersync.store.districts import DUE_SHARDS, DistrictModel, look_again_asap
from rostersync.sync import messages, run_lifecycle
from rostersync.sync.schedule import is_due, next_sync_at, night_at

RESEND_AFTER_SECONDS = 5 * 60
# Once a UTC day, the tick that falls in this window (the schedule ticks every 30 minutes) also
# queues the sweep of purged districts (sync/purge.py sweep_purged): a duplicate is harmless.
SWEEP_WINDOW_MINUTES = 30
INVALID_RETRY_SECONDS = 24 * 60 * 60  # an unusable zone or start date: looked at again a day later


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


def due_districts(now: datetime) -> Iterator[DistrictModel]:
    """Districts whose nextSyncAt has come: one query per shard of ByNextSync, all pages."""
    for shard in range(DUE_SHARDS):
        yield from DistrictModel.by_next_sync.query(str(shard), DistrictModel.next_sync_at <= now.timestamp())


def jitter_seconds(district_id: str, night: date) -> int:
    """Where in the first dispatch_spread_seconds() of its night a district is due (stable per
    night). The default, two hours, spreads a zone's districts over four ticks and starts every
    run by 03:00 local, two hours before its window closes."""
    spread = dispatch_spread_seconds()
    return zlib.crc32(f"{district_id}/{night.isoformat()}".encode()) % spread if spread > 0 else 0


def next_look(district: DistrictModel, now: datetime) -> float:
    """When the dispatcher should look at `district` again: its next night's opening, jittered."""
    config = district.sync_config
    at = next_sync_at(district.timezone, date.fromisoformat(config.start_date), now, district.last_nightly_night)
    if at <= now:  # due now (a manual run held the lock): the next tick tries again
        return now.timestamp()
    night = night_at(district.timezone, at + timedelta(seconds=1)) or at.date()
    return at.timestamp() + jitter_seconds(district.district_id, night)


def _schedule(district: DistrictModel, at: float | None) -> None:
    """Move the district's nextSyncAt (None: out of the index, nothing to dispatch), unless it
    changed since it was read: a configuration saved meanwhile (0: look at once) wins."""
    action: Action = DistrictModel.next_sync_at.set(at) if at is not None else DistrictModel.next_sync_at.remove()
    read = district.next_sync_at
    unchanged = DistrictModel.next_sync_at == read if read is not None else DistrictModel.next_sync_at.does_not_exist()
    try:
        district.update(actions=[action], condition=DistrictModel.district_id.exists() & unchanged)
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise


def _is_scheduled(district: DistrictModel) -> bool:
    return district.connection is not None and district.sync_config is not None and bool(district.sync_config.enabled)


def interleaved_by_host(outbox: list[tuple[str, messages.RunMessage]]) -> list[messages.RunMessage]:
    """Messages ordered round-robin over their SIS hosts: one of each host, then the next round."""
    by_host: dict[str, list[messages.RunMessage]] = defaultdict(list)
    for host, message in outbox:
        by_host[host].append(message)
    queues = list(by_host.values())
    ordered: list[messages.RunMessage] = []
    for round_ in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[round_] for q in queues if round_ < len(q))
    return ordered


def dispatch_due_districts(time_iso: str) -> dict:
    """Create tonight's run for every due district and send their messages in batches.

    Returns {checked, due, enqueued, resent, skipped, invalid, failed, unsent}.
    """
    now = parse_instant(time_iso)
    summary = Counter(
        {key: 0 for key in ("checked", "due", "enqueued", "resent", "skipped", "invalid", "failed", "unsent")}
    )
    outbox: list[tuple[str, messages.RunMessage]] = []
    resent_ids: set[str] = set()

    for district in due_districts(now):
        summary["checked"] += 1
        try:
            if not _is_scheduled(district):
                _schedule(district, None)
                continue
            outcome, message = _dispatch_one(district, now)
        except ValueError as error:  # a bad zone or start date: this district only
            summary["invalid"] += 1
            logger.warning(
                "district sync config unusable", extra={"districtId": district.district_id, "reason": str(error)}
            )
            _schedule_quietly(district, now.timestamp() + INVALID_RETRY_SECONDS)
            continue
        except Exception:
            summary["failed"] += 1
            logger.exception("could not dispatch a district", extra={"districtId": district.district_id})
            continue
        if outcome in ("due", "skipped", "busy"):
            summary["due"] += 1
        if outcome in ("skipped", "busy"):
            summary["skipped"] += 1
        if message is not None:
            if outcome == "resend":
                resent_ids.add(message.run_id)
            outbox.append((_host_of(district), message))
        if outcome == "busy":
            continue  # a manual sync holds the lock: nextSyncAt stays, the next tick tries again
        # Tonight's run just queued (here or by a dispatcher alongside) or re-sent: look once more
        # after RESEND_AFTER_SECONDS for a lost message; otherwise at the next night.
        check_back = outcome in ("due", "skipped", "resend")
        looked = now.timestamp() + RESEND_AFTER_SECONDS if check_back else next_look(district, now)
        _schedule_quietly(district, looked)

    ordered = interleaved_by_host(outbox)
    unsent = messages.send_run_messages(ordered) if ordered else []
    # Unsent runs stay queued with no pick-up: the next look at the district sends them again.
    summary["unsent"] += len(unsent)
    summary["enqueued"] += sum(1 for m in ordered if m not in unsent and m.run_id not in resent_ids)
    summary["resent"] += sum(1 for m in ordered if m not in unsent and m.run_id in resent_ids)
    _send_daily_sweep(now)

    result = dict(summary)
    logger.info("nightly dispatch", extra={"at": now.isoformat(), **result})
    metrics.add_metric(name="NightlyRunsEnqueued", unit=MetricUnit.Count, value=result["enqueued"])
    flush_metrics()
    if result["failed"]:
        raise DispatchIncomplete(f"{result['failed']} districts could not be dispatched: {result}")
    return result


def backfill_next_sync(dry_run: bool = False) -> dict:
    """Once, after deploying the ByNextSync index: put every configured district that has no
    nextSyncAt in front of the next tick (a scan: a migration, never the dispatcher's way).
    Returns {scheduled}; safe to re-run (districts that have one are left alone)."""
    scheduled = 0
    condition = DistrictModel.sync_config.exists() & DistrictModel.next_sync_at.does_not_exist()
    for district in DistrictModel.scan(filter_condition=condition):
        if not dry_run:
            district.update(
                actions=look_again_asap(district.district_id),
                condition=DistrictModel.district_id.exists() & DistrictModel.next_sync_at.does_not_exist(),
            )
        scheduled += 1
    return {"scheduled": scheduled}


def _schedule_quietly(district: DistrictModel, at: float) -> None:
    try:
        _schedule(district, at)
    except Exception:  # the district stays due: the next tick looks at it again (idempotent)
        logger.exception("could not move a district's next look", extra={"districtId": district.district_id})


def _host_of(district: DistrictModel) -> str:
    try:
        return host_key(district.connection.host_url)
    except (AttributeError, ValueError):
        return ""


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
    """("due", message) for a new nightly run, ("skipped", None) when tonight's run exists
    already, ("busy", None) when a manual sync holds the lock, ("resend", message) for tonight's
    stranded run, ("idle", None) otherwise."""
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
            return "busy", None
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
