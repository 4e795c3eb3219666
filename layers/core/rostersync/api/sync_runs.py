"""Sync routes: start a sync now, the run history, one run, and approving a held-back run.

At most one sync per district is queued or running (sync/run_lifecycle.py takes the district
lock with the run); a second request gets 409 sync_in_progress with the runId it waits for.
"""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync.api import audit_trail
from rostersync.api.access import district_for_admin, reviewer
from rostersync.api.errors import ApiError, bad_request, conflict, not_found, unprocessable
from rostersync.api.http_io import json_object, parse, respond
from rostersync.api.list_queries import limit_of
from rostersync.api.route_docs import documented, page_parameters
from rostersync.api.schemas.review import ApproveRequest
from rostersync.api.schemas.sync_runs import (
    RunResponse,
    RunsResponse,
    StartSyncRequest,
    StartSyncResponse,
    run_response,
)
from rostersync.observability import logger
from rostersync.store import sync_runs as run_store
from rostersync.store.roster_queries import InvalidCursor, decode_cursor, encode_cursor
from rostersync.sync import launch, run_lifecycle

router = APIGatewayHttpRouter()

TAG = "Syncs"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_CURSOR_QUERY = "syncs"


# ---------------------------------------------------------------- helpers


def _optional_body(event: dict) -> dict:
    """POST syncs may come without a body (a "sync now" button): that is {}."""
    if event.get("body") in (None, ""):
        return {}
    return json_object(event)


def _busy(run_id: str) -> ApiError:
    return conflict(
        "sync_in_progress", "A sync of this district is already queued or running; wait for it to finish.", runId=run_id
    )


def _unavailable() -> ApiError:
    return ApiError(
        HTTPStatus.SERVICE_UNAVAILABLE, "unavailable", "The sync could not be queued. Try again in a minute."
    )


# ---------------------------------------------------------------- routes


@router.post(
    "/districts/<district_id>/syncs",
    **documented(
        "Start a sync now",
        tag=TAG,
        body=StartSyncRequest,
        response=StartSyncResponse,
        status=202,
        errors=(400, 401, 403, 404, 409, 422),
        description="409 sync_in_progress (with the runId) while another sync is queued or running; "
        "409 not_connected / not_configured before setup steps 2 and 4.",
    ),
)
def start_sync(district_id: str):
    event = router.current_event.raw_event
    district = district_for_admin(event, district_id)
    request = parse(StartSyncRequest, _optional_body(event))
    if district.connection is None:
        raise conflict("not_connected", "Connect the district's SIS first (step 2: PUT sis/connection).")
    if district.sync_config is None:
        raise conflict("not_configured", "Configure what to sync first (step 4: PUT sync-config).")
    try:
        run = launch.start_sync(district_id, request.mode or "full")
    except run_lifecycle.RunInProgress as busy:
        raise _busy(busy.run_id) from None
    except run_lifecycle.DistrictNotFound:
        raise not_found("district") from None
    except launch.NotQueued:
        raise _unavailable() from None
    audit_trail.record_event(
        event, district_id, "sync.start", target=run.run_id, after={"mode": request.mode or "full"}
    )
    logger.info("manual sync queued", extra={"districtId": district_id, "runId": run.run_id, "mode": run.mode})
    return respond(StartSyncResponse(run_id=run.run_id), status=202)


@router.get(
    "/districts/<district_id>/syncs",
    **documented(
        "The district's syncs, newest first",
        tag=TAG,
        operation_id="listSyncs",
        response=RunsResponse,
        errors=(400, 401, 403, 404, 422),
        query=page_parameters(DEFAULT_LIMIT, MAX_LIMIT),
    ),
)
def list_syncs(district_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    limit = limit_of(event, DEFAULT_LIMIT, MAX_LIMIT)
    cursor = (event.get("queryStringParameters") or {}).get("cursor")
    after = None
    if cursor is not None:
        try:
            after = decode_cursor(cursor, district_id, _CURSOR_QUERY, {"districtId": district_id, "runId": None})[
                "runId"
            ]
        except InvalidCursor:
            raise bad_request(
                "invalid_cursor", "The cursor is not one this list gave out; start from the first page."
            ) from None
    page, next_after = run_store.list_runs(district_id, limit, after)
    next_cursor = None
    if next_after is not None:
        next_cursor = encode_cursor(district_id, _CURSOR_QUERY, {"districtId": district_id, "runId": next_after})
    return respond(RunsResponse(syncs=[run_response(run) for run in page], next_cursor=next_cursor))


@router.get(
    "/districts/<district_id>/syncs/<run_id>",
    **documented("One sync", tag=TAG, response=RunResponse, errors=(401, 403, 404)),
)
def get_sync(district_id: str, run_id: str):
    district_for_admin(router.current_event.raw_event, district_id)
    run = run_store.get_run(district_id, run_id)
    if run is None:
        raise not_found("sync")
    return respond(run_response(run))


@router.post(
    "/districts/<district_id>/syncs/<run_id>/approve",
    **documented(
        "Apply the deactivations a needs_review sync held back",
        tag=TAG,
        response=StartSyncResponse,
        status=202,
        body=ApproveRequest,
        body_required=False,
        errors=(400, 401, 403, 404, 409, 422),
        description="No body (or {}): everything held. {recordIds: [...]} (from GET held): only those; the rest "
        "stay active and the next sync re-evaluates them. 409 run_not_in_review for a sync in any other state "
        "(or superseded by a newer one); 409 sync_in_progress while another sync is queued or running; 422 "
        "unknown_record for an id the sync does not hold.",
    ),
)
def approve_sync(district_id: str, run_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    request = parse(ApproveRequest, _optional_body(event))
    review = reviewer(event)
    chosen = None
    try:
        if request.record_ids is not None:
            chosen = sorted(set(request.record_ids))
            if not chosen:
                raise unprocessable("invalid_request", "recordIds: name at least one held record (or leave it out).")
            unknown = launch.unknown_held_records(district_id, run_id, chosen)
            if unknown:
                raise unprocessable(
                    "unknown_record",
                    "recordIds: this sync holds no record "
                    + ", ".join(unknown[:5])
                    + (" ..." if len(unknown) > 5 else "")
                    + ".",
                )
            review |= {"decision": "approved_in_part", "records": len(chosen)}
        else:
            review["decision"] = "approved"
        run = launch.approve(district_id, run_id, review, chosen)
    except LookupError:
        raise not_found("sync") from None
    except run_lifecycle.NotApprovable as refused:
        raise conflict("run_not_in_review", refused.reason, runStatus=refused.status) from None
    except run_lifecycle.RunInProgress as busy:
        raise _busy(busy.run_id) from None
    audit_trail.record_event(
        event, district_id, "sync.approve", target=run_id, after={"decision": review["decision"], "recordIds": chosen}
    )
    try:
        launch.queue_approval(run)
    except launch.NotQueued:
        raise _unavailable() from None
    logger.info("approval queued", extra={"districtId": district_id, "runId": run.run_id})
    return respond(StartSyncResponse(run_id=run.run_id), status=202)
