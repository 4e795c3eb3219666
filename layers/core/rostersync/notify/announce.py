"""The calls the rest of the domain makes to tell what happened. One entry point per moment:

- `sis_check(district_id, error)`: the sync engine read the SIS (error None) or stopped on the
  OneRoster client's typed error; moves the connection's health.
- `run_finished(run, status, result)`: the worker recorded a run's end (succeeded, failed,
  needs_review).
- `run_failed(run, failure)`: a run was failed outside the engine (last receive before the
  dead-letter queue, a lost lock, a message that could not be queued).
- `connection_saved(district_id, previous_health)`: the API tested and saved a connection.

Each one puts its events and sends its notifications, and never raises: telling must not
change what happened. A failure is logged and counted (metric AnnounceFailures, alarmed).
Runs reach their end once (a conditional write), so each event is put once per run; the
notifications are also deduplicated per kind, district and night (notifications.py).
"""

from __future__ import annotations

import functools

from aws_lambda_powertools.metrics import MetricUnit

from rostersync import aws_clients
from rostersync.notify import events, health, notifications, roster_changes
from rostersync.observability import logger, metrics, redact
from rostersync.store.attributes import map_value
from rostersync.store.districts import DistrictModel, get_district
from rostersync.times import iso_z_or_none, utc_now

SUCCEEDED, FAILED, NEEDS_REVIEW = "succeeded", "failed", "needs_review"


def _never_raises(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as error:
            logger.exception(
                "could not announce", extra={"announce": function.__name__, "errorType": type(error).__name__}
            )
            metrics.add_metric(name="AnnounceFailures", unit=MetricUnit.Count, value=1)
            return None

    return wrapper


# ---------------------------------------------------------------- connection health


@_never_raises
def sis_check(district_id: str, error=None, run_id: str | None = None) -> None:
    """What a use of the SIS found: error None for success, else the client's OneRosterError (its
    code says which health). From a run (`run_id`), the contacts hear when the run ends (one
    message for the night, run_failed); from a connection test, at once."""
    if error is None:
        transition = health.record_check(district_id, health.OK)
    else:
        transition = health.record_check(district_id, health.health_of_error(getattr(error, "code", None)), str(error))
    _announce_transition(transition, notify=run_id is None)


@_never_raises
def connection_saved(district_id: str, previous_health: str | None) -> None:
    """A connection test passed and the connection was saved (with health ok): if the one it
    replaced was unhealthy, it is restored."""
    if previous_health is None or previous_health == health.OK:
        return
    now = utc_now()
    _announce_transition(health.Transition(district_id, previous_health, health.OK, now, None))


def _announce_transition(transition: health.Transition | None, notify: bool = True) -> None:
    if transition is None:
        return
    district = get_district(transition.district_id)
    if district is None:
        return
    base = {
        "districtId": district.district_id,
        "health": transition.current,
        "previousHealth": transition.previous,
        "checkedAt": iso_z_or_none(transition.checked_at),
    }
    if transition.turned_unhealthy:
        advice = health.ADVICE[transition.current]
        events.put(
            events.CONNECTION_UNHEALTHY, {**base, "error": transition.error or transition.current, "whatToDo": advice}
        )
        metrics.add_metric(name="ConnectionsUnhealthy", unit=MetricUnit.Count, value=1)
        if notify and transition.current in health.NEEDS_ADMIN:
            message = notifications.connection_unhealthy(district, transition.current, transition.error, advice)
            notifications.send_once(district, notifications.night_of(district), message)
    elif transition.restored:
        events.put(events.CONNECTION_RESTORED, base)


# ---------------------------------------------------------------- runs


def _run_detail(run, status: str, counts: dict | None, failure: str | None = None) -> dict:
    detail = {
        "districtId": run.district_id,
        "runId": run.run_id,
        "trigger": run.trigger,
        "mode": run.mode,
        "status": status,
        "startedAt": iso_z_or_none(run.started_at),
        "finishedAt": iso_z_or_none(run.finished_at or utc_now()),
        "counts": counts or {},
        "notices": list(getattr(run, "notices", None) or []),
    }
    if failure is not None:
        detail["failure"] = redact(failure)
    return detail


def _step(name: str, function, *args) -> None:
    """One part of an announcement: its failure is logged and counted, and the other parts still
    go out (an EventBridge outage must not stop the email, nor the other way round)."""
    try:
        function(*args)
    except Exception as error:
        logger.exception("could not announce", extra={"announce": name, "errorType": type(error).__name__})
        metrics.add_metric(name="AnnounceFailures", unit=MetricUnit.Count, value=1)


@_never_raises
def run_finished(run, status: str, result) -> None:
    """The worker recorded the run's end: the run's event, the connection's health for a run that
    read the SIS, the district's message, and the run's Roster Changed events."""
    from rostersync.store import sync_runs as run_store

    if getattr(run, "mode", None) == "preview":  # a preview (sync/review.py) changes nothing and tells no one
        if status == SUCCEEDED:
            _step("health", lambda: _announce_transition(health.record_check(run.district_id, health.OK)))
        return
    counts = run_store.normalised_counts(getattr(result, "counts", None))
    fresh = run_store.get_run(run.district_id, run.run_id) or run
    district = get_district(run.district_id)
    if status in (SUCCEEDED, NEEDS_REVIEW):
        # The whole SIS was read: the connection works.
        _step("health", lambda: _announce_transition(health.record_check(run.district_id, health.OK)))
    if status == SUCCEEDED:
        _step("event", events.put, events.SYNC_SUCCEEDED, _run_detail(fresh, status, counts))
    elif status == NEEDS_REVIEW:
        held = dict(getattr(result, "held_deactivations", None) or {})
        _step(
            "event",
            events.put,
            events.SYNC_HELD,
            {
                **_run_detail(fresh, status, counts),
                "heldDeactivations": held,
                "approvePath": f"/districts/{run.district_id}/syncs/{run.run_id}/approve",
            },
        )
        if district is not None:
            _step(
                "notification",
                notifications.send_once,
                district,
                notifications.night_of(district, run.night),
                notifications.sync_held(district, fresh, held),
            )
    elif status == FAILED:
        _failed(fresh, district, getattr(result, "failure", None), counts, dead_lettered=False)
    _step("roster_changed", _roster_changed, fresh, counts)


@_never_raises
def run_failed(run, failure: str) -> None:
    from rostersync.store import sync_runs as run_store

    if getattr(run, "mode", None) == "preview":  # a preview's failure is shown on the preview only
        return
    fresh = run_store.get_run(run.district_id, run.run_id) or run
    counts = run_store.normalised_counts(map_value(fresh.counts))
    _failed(fresh, get_district(run.district_id), failure, counts, dead_lettered=fresh.dead_lettered_at is not None)
    _step("roster_changed", _roster_changed, fresh, counts)


def _failed(run, district: DistrictModel | None, failure: str | None, counts: dict, dead_lettered: bool) -> None:
    _step(
        "event",
        events.put,
        events.SYNC_FAILED,
        {**_run_detail(run, FAILED, counts, failure or "no detail"), "deadLettered": dead_lettered},
    )
    if district is None:
        return
    night = notifications.night_of(district, run.night)
    connection = district.connection
    if (
        connection is not None
        and connection.health in health.NEEDS_ADMIN
        and connection.last_checked_at is not None
        and run.started_at is not None
        and connection.last_checked_at >= run.started_at
    ):
        # The run failed on a connection only the admin can fix: that message says what to do (the
        # one sent when it turned unhealthy, tonight; or tonight's reminder while it stays so).
        message = notifications.connection_unhealthy(
            district, connection.health, connection.last_error, health.ADVICE[connection.health], run.run_id
        )
    else:
        message = notifications.sync_failed(district, run, failure)
    _step("notification", notifications.send_once, district, night, message)


def _roster_changed(run, counts: dict) -> None:
    if run.started_at is None:
        return
    roster_changes.announce(
        aws_clients.dynamodb(), run.district_id, run.run_id, counts, run.started_at, run.approved_at
    )
