"""The district overview: where a district stands, in one call, and the profile its admins keep
(name, time zone, contacts)."""

from __future__ import annotations

from datetime import date

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync.api import audit_trail
from rostersync.api.access import district_for_admin
from rostersync.api.errors import not_found
from rostersync.api.http_io import read_body, respond
from rostersync.api.route_docs import documented
from rostersync.api.schemas.districts import (
    ConnectionOverviewResponse,
    DistrictOverviewResponse,
    RunSummaryResponse,
    SetupStepResponse,
    UpdateDistrictRequest,
)
from rostersync.api.schemas.sis_connection import health_response
from rostersync.api.schemas.sync_runs import CountsResponse, RunCountsResponse, notice_responses
from rostersync.notify import health as connection_health
from rostersync.observability import logger
from rostersync.store import sync_runs as run_store
from rostersync.store.attributes import map_value
from rostersync.store.districts import DistrictModel, get_district, is_csv, update_profile
from rostersync.store.schools import ORIGIN_APP, active_schools
from rostersync.sync.schedule import next_sync_at
from rostersync.times import iso_z_or_none, utc_now

router = APIGatewayHttpRouter()

TAG = "District"
PATH = "/districts/<district_id>"


def _run_summary(run) -> RunSummaryResponse:
    counts = run_store.normalised_counts(map_value(run.counts))
    held = run.held_deactivations.as_dict() if run.held_deactivations is not None else None
    return RunSummaryResponse(
        run_id=run.run_id,
        trigger=run.trigger,
        mode=run.mode,
        status=run.status,
        queued_at=iso_z_or_none(run.queued_at),
        started_at=iso_z_or_none(run.started_at),
        finished_at=iso_z_or_none(run.finished_at),
        counts=RunCountsResponse(**{t: CountsResponse(**c) for t, c in counts.items()}),
        failure=run.failure,
        held_deactivations={k: int(v) for k, v in held.items()} if held else None,
        notices=notice_responses(run.notices),
    )


def _setup_steps(district: DistrictModel) -> list[SetupStepResponse]:
    app_schools = [s for s in active_schools(district.district_id) if s.origin == ORIGIN_APP]
    matched = sum(1 for s in app_schools if s.sis_sourced_id)
    config = district.sync_config
    return [
        SetupStepResponse(
            step="connection",
            done=district.connection is not None,
            detail="SIS connection saved" if district.connection else "Connect the SIS (PUT sis/connection)",
        ),
        SetupStepResponse(
            step="school_matching",
            done=district.connection is not None and matched == len(app_schools),
            detail=f"{matched} of {len(app_schools)} existing schools matched to SIS schools "
            "(unmatched SIS schools become new schools)",
        ),
        SetupStepResponse(
            step="sync_config",
            done=config is not None,
            detail="Sync configured"
            if config
            else "Choose schools, grades, subjects and a start date (PUT sync-config)",
        ),
        SetupStepResponse(
            step="first_sync",
            done=district.last_success_started_at is not None,
            detail="A sync has succeeded" if district.last_success_started_at else "No sync has succeeded yet",
        ),
    ]


def overview(district: DistrictModel) -> DistrictOverviewResponse:
    config = district.sync_config
    enabled = bool(config is not None and config.enabled and district.connection is not None)
    next_at = None
    if enabled:
        next_at = iso_z_or_none(
            next_sync_at(
                district.timezone, date.fromisoformat(config.start_date), utc_now(), district.last_nightly_night
            )
        )
    latest = run_store.latest_run(district.district_id)
    connection = None
    if district.connection is not None:
        c = district.connection
        connection = ConnectionOverviewResponse(
            kind="oneroster_csv" if is_csv(c) else "oneroster_api",
            host_url=c.host_url,
            auth_method=c.auth_method,
            connected_at=iso_z_or_none(c.connected_at),
            health=health_response(c, connection_health.calendar_note(district.district_id, district.timezone)),
        )
    return DistrictOverviewResponse(
        district_id=district.district_id,
        name=district.name,
        timezone=district.timezone,
        contacts=list(district.contacts or []),
        setup=_setup_steps(district),
        connection=connection,
        sync_enabled=enabled,
        next_sync_at=next_at,
        last_run=_run_summary(latest) if latest is not None else None,
        # Only the latest run can be approved (a newer run supersedes a held one).
        held_run=_run_summary(latest) if latest is not None and latest.status == run_store.NEEDS_REVIEW else None,
    )


@router.get(
    PATH,
    **documented(
        "Where the district stands: setup, connection health, last and held syncs, next sync, contacts",
        operation_id="getDistrict",
        tag=TAG,
        response=DistrictOverviewResponse,
        errors=(401, 403, 404),
    ),
)
def get_district_overview(district_id: str):
    district = district_for_admin(router.current_event.raw_event, district_id)
    return respond(overview(district))


@router.patch(
    PATH,
    **documented(
        "Change the district's name, time zone or contacts",
        operation_id="updateDistrict",
        tag=TAG,
        body=UpdateDistrictRequest,
        response=DistrictOverviewResponse,
        errors=(400, 401, 403, 404, 422),
        description="Fields left out stay as they are. 422 codes: invalid_timezone, invalid_email, invalid_request. "
        "A new time zone moves the nightly window from the next night on.",
    ),
)
def patch_district(district_id: str):
    event = router.current_event.raw_event
    district = district_for_admin(event, district_id)
    request = read_body(event, UpdateDistrictRequest)
    before = {"name": district.name, "timezone": district.timezone, "contacts": district.contacts}
    update_profile(district, request.name, request.timezone, request.contacts)
    changed = get_district(district_id)
    if changed is None:  # erased between the update and this read
        raise not_found("district")
    audit_trail.record_event(
        event,
        district_id,
        "district.update",
        before=before,
        after={"name": changed.name, "timezone": changed.timezone, "contacts": changed.contacts},
    )
    logger.info(
        "District updated", extra={"districtId": district_id, "fields": sorted(request.model_dump(exclude_none=True))}
    )
    return respond(overview(changed))
