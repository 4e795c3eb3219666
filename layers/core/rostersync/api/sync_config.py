"""Setup step 4: what to sync and from when.

GET sync-options lists what the SIS offers to filter on (a CSV district's: its latest bundle's,
read by the same rules, sync/options.py). Computing it streams the SIS's
classes and courses (a large district has tens of thousands), keeping only the sets, so the
result is cached on the district and served from there; ?refresh=true reads the SIS again
(the sync engine also refreshes it after each full sync). A refresh is bounded by the request's
deadline (API Gateway's 29 s): when the SIS cannot be read in time, the cached options are served
with `stale: true`; with no cache at all, 503 `sis_too_slow`.

PUT sync-config saves the filters and the start date, which must be today or later in the
district's own time zone and at most MAX_START_AHEAD_YEARS ahead. Selected schools, grades and
subjects must be ones the SIS offers (the cached options; read now if there are none): a typo would
select nothing, and the next night would deactivate everything that was in scope.
"""

from __future__ import annotations

import time
from datetime import date
from http import HTTPStatus

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync import audit
from rostersync.api import audit_trail
from rostersync.api.access import district_for_admin
from rostersync.api.deadline import sis_deadline
from rostersync.api.errors import ApiError, conflict, unprocessable
from rostersync.api.http_io import query_flag, read_body, respond
from rostersync.api.list_queries import query_of
from rostersync.api.route_docs import documented, flag_parameter
from rostersync.api.schemas.sync_config import (
    DeactivationGuardResponse,
    SyncConfigRequest,
    SyncConfigResponse,
    SyncOptionSchoolResponse,
    SyncOptionsResponse,
    class_terms_response,
)
from rostersync.api.sis_reads import (
    check_selected_schools,
    require_connection,
    saved_sis_client,
    shown,
    staged_bundle,
)
from rostersync.observability import logger
from rostersync.oneroster import OutOfTime
from rostersync.store.districts import (
    DEFAULT_FULL_SYNC_EVERY_DAYS,
    DEFAULT_GUARD_MAX_SHARE,
    DEFAULT_GUARD_MIN_RECORDS,
    DistrictModel,
    SyncConfig,
    SyncOptions,
    is_csv,
    save_sync_config,
    save_sync_options,
)
from rostersync.store.sync_runs import latest_run
from rostersync.sync.options import collect_source_options, collect_sync_options, grade_sort_key
from rostersync.sync.schedule import local_today, next_sync_at
from rostersync.times import iso_z, iso_z_or_none, local_date, utc_now

router = APIGatewayHttpRouter()

TAG = "Setup step 4: sync configuration"
MAX_START_AHEAD_YEARS = 2


def _options_response(options: SyncOptions) -> SyncOptionsResponse:
    """The cached options, in the page's order whoever wrote the cache (this route or a sync)."""
    schools = sorted(options.schools or [], key=lambda s: (s.name.casefold(), s.sis_sourced_id))
    return SyncOptionsResponse(
        schools=[SyncOptionSchoolResponse(sis_sourced_id=s.sis_sourced_id, name=s.name) for s in schools],
        grades=sorted(options.grades or [], key=grade_sort_key),
        subjects=sorted(options.subjects or [], key=lambda s: (s.casefold(), s)),
        refreshed_at=iso_z_or_none(options.refreshed_at),
        class_terms=class_terms_response(options.class_terms),
    )


@router.get(
    "/districts/<district_id>/sync-options",
    **documented(
        "The schools, grades and subjects the SIS offers to sync",
        operation_id="getSyncOptions",
        tag=TAG,
        response=SyncOptionsResponse,
        errors=(401, 403, 404, 409, 422, 503),
        description="Served from a cache refreshed after each full sync; ?refresh=true reads the SIS now, within "
        "the request's time (about 25 s): if the SIS cannot be read in time, the cached options come back with "
        "stale: true. A CSV district's are read from its latest staged bundle (classes, courses, orgs, sessions): "
        "409 no_bundle_yet before one is staged, delta_bundle when the latest holds delta files, bundle_expired past "
        "its retention. 409 not_connected without a connection; 503 sis_too_slow when nothing is cached and the SIS "
        "cannot be read in time.",
        query=(flag_parameter("refresh", "true: read the SIS now instead of the cache (default false)"),),
    ),
)
def get_sync_options(district_id: str):
    event = router.current_event.raw_event
    district = district_for_admin(event, district_id)
    read_sis_now = query_flag("refresh", query_of(event).get("refresh"))
    require_connection(district)
    if district.sync_options is not None and not read_sis_now:
        return respond(_options_response(district.sync_options))
    options = refresh_sync_options(district)
    if options is None:
        if district.sync_options is None:
            raise _too_slow(district)
        logger.warning("Sync options refresh ran out of time; serving the cache", extra={"districtId": district_id})
        return respond(_options_response(district.sync_options).model_copy(update={"stale": True}))
    return respond(_options_response(options))


def refresh_sync_options(district: DistrictModel) -> SyncOptions | None:
    """Read the options from the SIS and cache them; None when the request's time ran out first."""
    now = utc_now()
    today = local_date(now, district.timezone).isoformat()
    # OutOfTime is caught inside each read's context: the context turns other read errors into 409s
    if is_csv(district.connection):
        with staged_bundle(district) as bundle:
            if bundle.bundle.is_delta:
                raise conflict(
                    "delta_bundle",
                    "The latest bundle holds delta files (only what changed): the options are read from a "
                    "bundle whose files are all bulk. Its last full sync's options are served without refresh.",
                )
            try:
                options = collect_source_options(bundle, now, today, time_left=time_left_of_request)
            except OutOfTime:
                return None
    else:
        with saved_sis_client(district) as client:
            try:
                options = collect_sync_options(client, now, today=today)
            except OutOfTime:
                return None
    save_sync_options(district.district_id, options)
    district.sync_options = options
    logger.info(
        "Sync options refreshed",
        extra={
            "districtId": district.district_id,
            "schools": len(options.schools),
            "grades": len(options.grades),
            "subjects": len(options.subjects),
        },
    )
    return options


def time_left_of_request() -> float:
    return sis_deadline() - time.monotonic()


def _too_slow(district: DistrictModel) -> ApiError:
    source = "The latest CSV bundle's" if is_csv(district.connection) else "The SIS's"
    return ApiError(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "sis_too_slow",
        f"{source} classes and courses could not be read within the time a request has (about 25 s). Try again "
        "later; or save a sync configuration with grades and subjects null (everything): the first full sync "
        "reads the options, and you can narrow the selection after it.",
    )


def _check_grades_and_subjects(district: DistrictModel, grades: list[str] | None, subjects: list[str] | None) -> None:
    """Every selected grade and subject must be one the SIS offers (exactly as it writes it)."""
    if grades is None and subjects is None:
        return
    options = district.sync_options
    if options is None:
        options = refresh_sync_options(district)
        if options is None:
            raise _too_slow(district)
    unknown_grades = [g for g in dict.fromkeys(grades or []) if g not in set(options.grades or [])]
    unknown_subjects = [s for s in dict.fromkeys(subjects or []) if s not in set(options.subjects or [])]
    problems = []
    if unknown_grades:
        problems.append(f"grades: the SIS offers no grade {shown([repr(g) for g in unknown_grades])}")
    if unknown_subjects:
        problems.append(f"subjects: the SIS offers no subject {shown([repr(s) for s in unknown_subjects])}")
    if problems:
        raise unprocessable(
            "unknown_grade" if unknown_grades else "unknown_subject",
            "; ".join(problems) + f" (sync options of {iso_z(options.refreshed_at)}; "
            "GET sync-options?refresh=true if the SIS changed since).",
        )


def _check_start_date(district: DistrictModel, start: date) -> None:
    today = local_today(district.timezone, utc_now())
    previously_saved = district.sync_config.start_date if district.sync_config else None
    # A start date already saved may stay as it is once it has passed (re-saving the form to
    # change a filter must not fail); a new one must be today or later.
    if start < today and start.isoformat() != previously_saved:
        raise unprocessable(
            "start_date_in_past",
            f"startDate must be today ({today.isoformat()} in {district.timezone}) or later.",
        )
    latest = _years_after(today, MAX_START_AHEAD_YEARS)
    if start > latest:
        raise unprocessable(
            "start_date_too_far",
            f"startDate must be at most {MAX_START_AHEAD_YEARS} years ahead ({latest.isoformat()} at the latest).",
        )


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _config_response(district: DistrictModel, config: SyncConfig) -> SyncConfigResponse:
    next_at = None
    if config.enabled and district.connection is not None:
        next_at = iso_z(
            next_sync_at(
                district.timezone, date.fromisoformat(config.start_date), utc_now(), district.last_nightly_night
            )
        )
    return SyncConfigResponse(
        schools=list(config.schools) if config.schools is not None else None,
        grades=list(config.grades) if config.grades is not None else None,
        subjects=list(config.subjects) if config.subjects is not None else None,
        start_date=config.start_date,
        enabled=config.enabled,
        full_sync_every_days=int(config.full_sync_every_days),
        deactivation_guard=DeactivationGuardResponse(
            max_share=float(config.guard_max_share), min_records=int(config.guard_min_records)
        ),
        next_sync_at=next_at,
    )


@router.put(
    "/districts/<district_id>/sync-config",
    **documented(
        "Save what to sync and from when",
        operation_id="putSyncConfig",
        tag=TAG,
        body=SyncConfigRequest,
        response=SyncConfigResponse,
        errors=(400, 401, 403, 404, 409, 422, 503),
        description="Lists null select everything. Schools, grades and subjects must be ones GET sync-options "
        "lists. 422 codes: start_date_in_past, start_date_too_far (more than 2 years ahead), invalid_date, "
        "unknown_school, unknown_grade, unknown_subject, invalid_request. 409 not_connected without a connection. "
        "503 sis_too_slow when no options are cached and the SIS cannot list them in time.",
    ),
)
def put_sync_config(district_id: str):
    event = router.current_event.raw_event
    district = district_for_admin(event, district_id)
    request = read_body(event, SyncConfigRequest)
    require_connection(district)
    start_date = date.fromisoformat(request.start_date)
    _check_start_date(district, start_date)
    if request.schools is not None:
        check_selected_schools(district, request.schools)
    _check_grades_and_subjects(district, request.grades, request.subjects)
    previous = district.sync_config
    guard = request.deactivation_guard
    config = SyncConfig(
        schools=request.schools,
        grades=request.grades,
        subjects=request.subjects,
        start_date=start_date.isoformat(),
        enabled=request.enabled,
        # Settings the request leaves out keep their saved (or default) values.
        guard_max_share=guard.max_share
        if guard
        else (previous.guard_max_share if previous else DEFAULT_GUARD_MAX_SHARE),
        guard_min_records=guard.min_records
        if guard
        else (previous.guard_min_records if previous else DEFAULT_GUARD_MIN_RECORDS),
        full_sync_every_days=request.full_sync_every_days
        or (previous.full_sync_every_days if previous else DEFAULT_FULL_SYNC_EVERY_DAYS),
        updated_at=utc_now(),
    )
    save_sync_config(district, config)
    audit_trail.record_event(
        event,
        district_id,
        "sync_config.update",
        before=audit.sync_config_view(previous),
        after=audit.sync_config_view(config),
    )
    logger.info("Sync configuration saved", extra={"districtId": district_id, "enabled": config.enabled})
    response = _config_response(district, config)
    response.warnings = _runs_keeping_their_configuration(district)
    return respond(response)


def _runs_keeping_their_configuration(district: DistrictModel) -> list[str]:
    """A run fixes its selection when it starts (sync/run_state.py): say so when one is under way."""
    latest = latest_run(district.district_id)
    if latest is None:
        return []
    if latest.status in ("queued", "running"):
        return [
            f"Sync {latest.run_id} is {latest.status} with the previous configuration; this configuration "
            "applies from the next run."
        ]
    if latest.status == "needs_review":
        return [
            f"Sync {latest.run_id} is held for review; approving it applies what it found with the previous "
            "configuration. This configuration applies from the next run."
        ]
    return []


@router.get(
    "/districts/<district_id>/sync-config",
    **documented(
        "The saved sync configuration, with when the next nightly sync is due",
        operation_id="getSyncConfig",
        tag=TAG,
        response=SyncConfigResponse,
        description="404 not_configured when step 4 was never saved.",
    ),
)
def get_sync_config(district_id: str):
    district = district_for_admin(router.current_event.raw_event, district_id)
    if district.sync_config is None:
        raise ApiError(404, "not_configured", "This district's sync is not configured yet (step 4: PUT sync-config).")
    return respond(_config_response(district, district.sync_config))
