"""Sync routes: start a sync now, the run history, one run, and approving a held-back run.

At most one sync per district is queued or running (rostersync.sync.runs takes the district
lock with the run); a second request gets 409 sync_in_progress with the runId it waits for.
"""

from __future__ import annotations

from datetime import datetime, timezone
from http import HTTPStatus
from typing import Literal

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import Field

from rostersync.api.auth import district_for_admin
from rostersync.api.errors import ApiError, bad_request, conflict, not_found, unprocessable
from rostersync.api.models import RequestModel, ResponseModel
from rostersync.api.openapi import documented
from rostersync.api.validation import json_object, parse, query_limit, respond
from rostersync.observability import logger
from rostersync.store import runs as run_store
from rostersync.store.roster_queries import InvalidCursor, decode_cursor, encode_cursor
from rostersync.sync import messages, runs

router = APIGatewayHttpRouter()

TAG = "Syncs"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_CURSOR_QUERY = "syncs"


# ---------------------------------------------------------------- bodies


class StartSyncRequest(RequestModel):
    mode: Literal["full", "delta"] | None = Field(
        default=None, description="full (default): read everything; delta: changes since the last successful sync"
    )


class StartSyncResponse(ResponseModel):
    run_id: str


class CountsOut(ResponseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    skipped: int = 0


class RunCountsOut(ResponseModel):
    schools: CountsOut
    teachers: CountsOut
    students: CountsOut
    classes: CountsOut
    enrollments: CountsOut


class RunErrorOut(ResponseModel):
    type: str
    sis_sourced_id: str | None
    code: str
    message: str


class RunOut(ResponseModel):
    run_id: str
    trigger: Literal["nightly", "manual", "replay"]
    mode: Literal["full", "delta"]
    status: Literal["queued", "running", "succeeded", "failed", "needs_review"]
    queued_at: str
    started_at: str | None
    finished_at: str | None
    counts: RunCountsOut
    errors: list[RunErrorOut] = Field(description=f"The first {run_store.MAX_STORED_ERRORS} record errors")
    error_total: int = Field(description="Every record error of the run, also those not listed")
    failure: str | None = Field(default=None, description="Why a failed run failed")
    held_deactivations: dict[str, int] | None = Field(
        default=None, description="needs_review: the deactivations held back per type, applied on approval"
    )
    replay_of: str | None = Field(default=None, description="replay runs: the failed run they replay")


class RunsOut(ResponseModel):
    syncs: list[RunOut]
    next_cursor: str | None


def _iso(instant: datetime | None) -> str | None:
    if instant is None:
        return None
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def run_out(run: run_store.SyncRunModel) -> RunOut:
    counts = run_store.normalised_counts(run.counts.as_dict() if hasattr(run.counts, "as_dict") else run.counts)
    held = run.held_deactivations.as_dict() if run.held_deactivations is not None else None
    return RunOut(
        run_id=run.run_id,
        trigger=run.trigger,
        mode=run.mode,
        status=run.status,
        queued_at=_iso(run.queued_at),
        started_at=_iso(run.started_at),
        finished_at=_iso(run.finished_at),
        counts=RunCountsOut(**{t: CountsOut(**c) for t, c in counts.items()}),
        errors=[
            RunErrorOut(type=e.type, sis_sourced_id=e.sis_sourced_id, code=e.code, message=e.message)
            for e in run.errors or []
        ],
        error_total=int(run.error_total or 0),
        failure=run.failure,
        held_deactivations={k: int(v) for k, v in held.items()} if held else None,
        replay_of=run.replay_of,
    )


# ---------------------------------------------------------------- helpers


def _optional_body(event: dict) -> dict:
    """POST syncs may come without a body (a "sync now" button): that is {}."""
    if event.get("body") in (None, ""):
        return {}
    return json_object(event)


def _busy(run_id: str) -> ApiError:
    return conflict("sync_in_progress", "A sync of this district is already queued or running; wait for it to finish.",
                    runId=run_id)


def _unavailable() -> ApiError:
    return ApiError(HTTPStatus.SERVICE_UNAVAILABLE, "unavailable", "The sync could not be queued. Try again in a minute.")


def _limit(event: dict) -> int:
    return query_limit((event.get("queryStringParameters") or {}).get("limit"), DEFAULT_LIMIT, MAX_LIMIT)


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
        run = runs.start_run(district_id, "manual", request.mode or "full")
    except runs.RunInProgress as busy:
        raise _busy(busy.run_id) from None
    except runs.DistrictNotFound:
        raise not_found("district") from None
    try:
        messages.send_run_message(district_id, run.run_id, "run")
    except Exception:
        logger.exception("could not queue a manual sync", extra={"districtId": district_id, "runId": run.run_id})
        runs.fail(run, "The sync could not be queued; start it again.")
        raise _unavailable() from None
    logger.info("manual sync queued", extra={"districtId": district_id, "runId": run.run_id, "mode": run.mode})
    return respond(StartSyncResponse(run_id=run.run_id), status=202)


@router.get(
    "/districts/<district_id>/syncs",
    **documented(
        "The district's syncs, newest first",
        tag=TAG,
        response=RunsOut,
        errors=(400, 401, 403, 404, 422),
        description=f"?limit=1..{MAX_LIMIT} (default {DEFAULT_LIMIT}); ?cursor= the nextCursor of the previous page.",
    ),
)
def list_syncs(district_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    limit = _limit(event)
    cursor = (event.get("queryStringParameters") or {}).get("cursor")
    after = None
    if cursor is not None:
        try:
            after = decode_cursor(cursor, district_id, _CURSOR_QUERY, {"districtId": district_id, "runId": None})["runId"]
        except InvalidCursor:
            raise bad_request("invalid_cursor", "The cursor is not one this list gave out; start from the first page.") from None
    page, next_after = run_store.list_runs(district_id, limit, after)
    next_cursor = None
    if next_after is not None:
        next_cursor = encode_cursor(district_id, _CURSOR_QUERY, {"districtId": district_id, "runId": next_after})
    return respond(RunsOut(syncs=[run_out(run) for run in page], next_cursor=next_cursor))


@router.get(
    "/districts/<district_id>/syncs/<run_id>",
    **documented("One sync", tag=TAG, response=RunOut, errors=(401, 403, 404)),
)
def get_sync(district_id: str, run_id: str):
    district_for_admin(router.current_event.raw_event, district_id)
    run = run_store.get_run(district_id, run_id)
    if run is None:
        raise not_found("sync")
    return respond(run_out(run))


@router.post(
    "/districts/<district_id>/syncs/<run_id>/approve",
    **documented(
        "Apply the deactivations a needs_review sync held back",
        tag=TAG,
        response=StartSyncResponse,
        status=202,
        errors=(401, 403, 404, 409),
        description="409 run_not_in_review for a sync in any other state (or superseded by a newer one); "
        "409 sync_in_progress while another sync is queued or running.",
    ),
)
def approve_sync(district_id: str, run_id: str):
    district_for_admin(router.current_event.raw_event, district_id)
    try:
        run = runs.approve_run(district_id, run_id)
    except LookupError:
        raise not_found("sync") from None
    except runs.NotApprovable as refused:
        raise conflict("run_not_in_review", refused.reason, runStatus=refused.status) from None
    except runs.RunInProgress as busy:
        raise _busy(busy.run_id) from None
    try:
        messages.send_run_message(district_id, run.run_id, "approve")
    except Exception:
        logger.exception("could not queue an approval", extra={"districtId": district_id, "runId": run.run_id})
        runs.undo_approval(run)
        raise _unavailable() from None
    logger.info("approval queued", extra={"districtId": district_id, "runId": run.run_id})
    return respond(StartSyncResponse(run_id=run.run_id), status=202)
