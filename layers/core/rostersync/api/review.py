"""See before it happens: a held run record by record (and rejecting it), previews of a
configuration, and the district's audit log.

- GET  /districts/{id}/syncs/{runId}/held: every record a needs_review run would deactivate, paged;
- POST /districts/{id}/syncs/{runId}/approve (api/sync_runs.py) takes an optional {recordIds};
- POST /districts/{id}/syncs/{runId}/reject: the run ends rejected, nothing it held is
  deactivated, and the district holds every deactivation until an admin approves a held run;
- POST /districts/{id}/sync-config/preview: a read-only run of a proposed configuration;
  GET .../syncs/{runId}/preview and .../preview/records show what it found;
- GET  /districts/{id}/audit: who changed what, newest first.
The engine's side of this is sync/review.py.
"""

from __future__ import annotations

import json
import re
from typing import Literal, get_args

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync import audit, aws_clients
from rostersync.api import audit_trail
from rostersync.api.access import district_for_admin, reviewer
from rostersync.api.errors import ApiError, bad_request, conflict, not_found, unprocessable
from rostersync.api.http_io import query_flag, read_body, respond
from rostersync.api.list_queries import limit_of, query_of
from rostersync.api.route_docs import QueryParameter, documented, flag_parameter, page_parameters
from rostersync.api.schemas.review import (
    AuditEntryResponse,
    AuditResponse,
    HeldRecordResponse,
    HeldRecordsResponse,
    PreviewCountsResponse,
    PreviewRecordResponse,
    PreviewRecordsResponse,
    PreviewResponse,
    StartedResponse,
    review_response,
)
from rostersync.api.schemas.sync_config import SyncConfigRequest, class_terms_response
from rostersync.api.schemas.sync_runs import RunResponse, notice_responses, run_response
from rostersync.api.sis_reads import check_selected_schools, require_connection
from rostersync.observability import logger
from rostersync.store import audit as audit_store
from rostersync.store import run_records
from rostersync.store import sync_runs as run_store
from rostersync.store.attributes import map_value
from rostersync.store.districts import DistrictModel
from rostersync.sync import launch, run_lifecycle

router = APIGatewayHttpRouter()

TAG = "Review, preview and audit"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
RECORD_TYPES = run_store.RECORD_TYPES
CHANGES = ("created", "updated", "unchanged", "deactivated")
PAGE = page_parameters(DEFAULT_LIMIT, MAX_LIMIT)


def _choice(event: dict, name: str, allowed: tuple[str, ...]) -> str | None:
    value = (event.get("queryStringParameters") or {}).get(name)
    if value is not None and value not in allowed:
        raise unprocessable("invalid_request", f"{name} must be one of {', '.join(allowed)}.")
    return value


HELD_REASONS = get_args(HeldRecordResponse.model_fields["reason"].annotation)
ACTION_PATTERN = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)?")
MAX_FILTER_CHARS = 255


def _filter_choice(event: dict, name: str, allowed: tuple[str, ...]) -> str | None:
    """A filter of a list (?reason=): one of `allowed`, else 422 invalid_request naming them."""
    value = query_of(event).get(name)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise unprocessable("invalid_request", f"{name} must be one of {', '.join(allowed)}.")
    return value


def _audit_filters(event: dict) -> tuple[str | None, str | None, str | None]:
    """(action, action family, person) of GET audit's ?action= and ?by=; 422 invalid_request."""
    query = query_of(event)
    action, by = query.get("action") or None, query.get("by") or None
    if action is not None and (len(action) > 64 or not ACTION_PATTERN.fullmatch(action)):
        raise unprocessable(
            "invalid_request", "action must be an action such as sync.approve, or a family of them such as sync."
        )
    if by is not None and (len(by) > MAX_FILTER_CHARS or not by.isprintable()):
        raise unprocessable(
            "invalid_request", f"by must be a person's id (sub), at most {MAX_FILTER_CHARS} characters."
        )
    if action is None:
        return None, None, by
    return (action, None, by) if "." in action else (None, action, by)


def _invalid_cursor() -> ApiError:
    return bad_request("invalid_cursor", "The cursor is not one this list gave out; start from the first page.")


# ---------------------------------------------------------------- held records


def _run(district_id: str, run_id: str) -> run_store.SyncRunModel:
    run = run_store.get_run(district_id, run_id)
    if run is None:
        raise not_found("sync")
    return run


def _record_decision(run, record_id: str, chosen: set[str] | None) -> Literal["pending", "approved", "kept"]:
    review = run.review or {}
    if not review:
        return "pending"
    if review.get("decision") == "rejected":
        return "kept"
    if chosen is None:
        return "approved"
    return "approved" if record_id in chosen else "kept"


@router.get(
    "/districts/<district_id>/syncs/<run_id>/held",
    **documented(
        "Every record a held sync would deactivate, with why",
        tag=TAG,
        operation_id="listHeldRecords",
        response=HeldRecordsResponse,
        errors=(400, 401, 403, 404, 409, 422),
        description="409 run_not_held for a sync that held nothing back. Filtered by reason, a page may hold fewer "
        "than limit records (even none) and still carry a nextCursor: follow it until it is null. 400 "
        "invalid_request (422) for a reason not listed.",
        query=(
            QueryParameter("type", "Only records of this type (default every type)", enum=RECORD_TYPES),
            QueryParameter("reason", "Only records held for this reason (default every reason)", enum=HELD_REASONS),
            *PAGE,
        ),
    ),
)
def list_held(district_id: str, run_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    limit = limit_of(event, DEFAULT_LIMIT, MAX_LIMIT)
    record_type = _choice(event, "type", RECORD_TYPES)
    reason = _filter_choice(event, "reason", HELD_REASONS)
    run = _run(district_id, run_id)
    held = run.held_deactivations.as_dict() if run.held_deactivations is not None else None
    if not held and not run.review:
        raise conflict("run_not_held", "This sync held nothing back for review.", runStatus=run.status)
    prefix = f"{run_records.HELD}#" + (f"{record_type}#" if record_type else "")
    cursor = (event.get("queryStringParameters") or {}).get("cursor")
    try:
        items, next_cursor = run_records.list_records(
            aws_clients.dynamodb(), district_id, run_id, prefix, limit, cursor, reason=reason
        )
    except run_records.InvalidCursor:
        raise _invalid_cursor() from None
    chosen = None
    if run.review and run.review.get("decision") == "approved_in_part":
        decision = run_records.get_decision(aws_clients.dynamodb(), district_id, run_id) or {}
        chosen = set(decision.get("recordIds") or [])
    records = [
        HeldRecordResponse(
            record_id=item["recordId"],
            type=item["type"],
            name=item.get("name"),
            role=item.get("role"),
            sis_sourced_id=item.get("sisSourcedId"),
            school_ids=item.get("schoolIds"),
            class_id=item.get("classId"),
            class_title=item.get("classTitle"),
            user_id=item.get("userId"),
            reason=item["reason"],
            decision=_record_decision(run, item["recordId"], chosen),
        )
        for item in items
    ]
    return respond(
        HeldRecordsResponse(
            run_id=run_id,
            status=run.status,
            held={k: int(v) for k, v in (held or {}).items()},
            review=review_response(run),
            records=records,
            next_cursor=next_cursor,
        )
    )


@router.post(
    "/districts/<district_id>/syncs/<run_id>/reject",
    **documented(
        "Reject a held sync: nothing it held is deactivated",
        tag=TAG,
        operation_id="rejectSync",
        response=RunResponse,
        status=200,
        errors=(401, 403, 404, 409),
        description="The sync ends rejected. From now on every deactivation of the district is held for review "
        "(creations and updates go on) until an admin approves a held sync; the next sync is a full one. "
        "409 run_not_in_review for a sync in any other state or superseded by a newer one.",
    ),
)
def reject(district_id: str, run_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    review = reviewer(event) | {"decision": "rejected"}
    try:
        run = run_lifecycle.reject_run(district_id, run_id, review)
    except LookupError:
        raise not_found("sync") from None
    except run_lifecycle.NotApprovable as refused:
        raise conflict("run_not_in_review", refused.reason, runStatus=refused.status) from None
    DistrictModel(district_id).update(
        actions=[
            DistrictModel.deactivation_hold.set({"runId": run_id, **review}),
            DistrictModel.full_sync_due.set(True),
        ],
        condition=DistrictModel.district_id.exists(),
    )
    run_records.put_decision(aws_clients.dynamodb(), district_id, run_id, review)
    audit_trail.record_event(event, district_id, "sync.reject", target=run_id, after={"decision": "rejected"})
    logger.info("held sync rejected", extra={"districtId": district_id, "runId": run_id})
    return respond(run_response(run))


# ---------------------------------------------------------------- previews


@router.post(
    "/districts/<district_id>/sync-config/preview",
    **documented(
        "Preview a configuration: what a sync of it would create, update, keep and deactivate",
        tag=TAG,
        operation_id="previewSyncConfig",
        query=(flag_parameter("complete", "true: list every record, not a sample (default false)"),),
        body=SyncConfigRequest,
        response=StartedResponse,
        status=202,
        errors=(400, 401, 403, 404, 409, 422),
        description="Same body as PUT sync-config; nothing is saved. Starts a read-only sync (mode preview): it "
        "reads the SIS as a full sync does and writes no roster record. Follow it with GET syncs/{runId} and GET "
        "syncs/{runId}/preview. 409 sync_in_progress while "
        "another sync is queued or running (one run per district).",
    ),
)
def preview(district_id: str):
    event = router.current_event.raw_event
    district = district_for_admin(event, district_id)
    every = query_flag("complete", query_of(event).get("complete"))
    request = read_body(event, SyncConfigRequest)
    require_connection(district)
    if request.schools is not None:
        check_selected_schools(district, request.schools)
    proposal = {
        **json.loads(json.dumps(request.model_dump(by_alias=True, warnings=False), default=str)),
        "complete": every,
    }
    try:
        run = launch.start_preview(district_id, proposal)
    except run_lifecycle.RunInProgress as busy:
        raise conflict(
            "sync_in_progress",
            "A sync of this district is already queued or running; wait for it to finish.",
            runId=busy.run_id,
        ) from None
    except run_lifecycle.DistrictNotFound:
        raise not_found("district") from None
    except launch.NotQueued:
        raise ApiError(503, "unavailable", "The preview could not be queued. Try again in a minute.") from None
    audit_trail.record_event(event, district_id, "sync.preview", target=run.run_id, after=proposal)
    return respond(StartedResponse(run_id=run.run_id), status=202)


@router.get(
    "/districts/<district_id>/syncs/<run_id>/preview",
    **documented(
        "What a preview found, per record type",
        tag=TAG,
        response=PreviewResponse,
        errors=(401, 403, 404, 409),
        description="409 not_a_preview for a sync that is not one.",
    ),
)
def get_preview(district_id: str, run_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    run = _run(district_id, run_id)
    if run.mode != "preview":
        raise conflict("not_a_preview", "This sync is not a preview.")
    proposal = run_records.get_proposal(aws_clients.dynamodb(), district_id, run_id) or {}
    counts = None
    if run.status == run_store.SUCCEEDED:
        stored = run_store.normalised_counts(map_value(run.counts))
        counts = {
            t: PreviewCountsResponse(
                created=c["created"], updated=c["updated"], kept=c["unchanged"], deactivated=c["deactivated"]
            )
            for t, c in stored.items()
        }
    class_terms = None
    if run.status == run_store.SUCCEEDED:
        classes = stored["classes"]
        class_terms = class_terms_response(
            {
                "current": classes["created"] + classes["updated"] + classes["unchanged"],
                "ended": classes["skippedBy"].get("term_ended", 0),
                "lastEnded": None,  # the run's no_current_term notice (notices) says the date
            }
        )
    would = run_records.get_summary(aws_clients.dynamodb(), district_id, run_id).get("wouldHold")
    return respond(
        PreviewResponse(
            run_id=run_id,
            status=run.status,
            proposal=proposal,
            counts=counts,
            would_need_review=would,
            failure=run.failure,
            class_terms=class_terms,
            notices=notice_responses(run.notices),
        )
    )


@router.get(
    "/districts/<district_id>/syncs/<run_id>/preview/records",
    **documented(
        "The records of a preview, by type and change",
        tag=TAG,
        operation_id="listPreviewRecords",
        response=PreviewRecordsResponse,
        errors=(400, 401, 403, 404, 409, 422),
        description=f"A sample of {50} per type and change unless the preview was started with ?complete=true. "
        "409 not_a_preview for a sync that is not one.",
        query=(
            QueryParameter("type", "The record type (required)", enum=RECORD_TYPES, required=True),
            QueryParameter("change", "Only records of this change (default every change)", enum=CHANGES),
            *PAGE,
        ),
    ),
)
def list_preview_records(district_id: str, run_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    limit = limit_of(event, DEFAULT_LIMIT, MAX_LIMIT)
    record_type = _choice(event, "type", RECORD_TYPES)
    change = _choice(event, "change", CHANGES)
    if record_type is None:
        raise unprocessable("invalid_request", f"type is required: one of {', '.join(RECORD_TYPES)}.")
    run = _run(district_id, run_id)
    if run.mode != "preview":
        raise conflict("not_a_preview", "This sync is not a preview.")
    prefix = f"{run_records.PREVIEW}#{record_type}#" + (f"{change}#" if change else "")
    cursor = (event.get("queryStringParameters") or {}).get("cursor")
    try:
        items, next_cursor = run_records.list_records(
            aws_clients.dynamodb(), district_id, run_id, prefix, limit, cursor
        )
    except run_records.InvalidCursor:
        raise _invalid_cursor() from None
    records = [
        PreviewRecordResponse(
            record_id=i["recordId"],
            type=i["type"],
            change=i["change"],
            name=i.get("name"),
            role=i.get("role"),
            sis_sourced_id=i.get("sisSourcedId"),
            school_ids=i.get("schoolIds"),
            class_id=i.get("classId"),
            class_title=i.get("classTitle"),
        )
        for i in items
    ]
    return respond(PreviewRecordsResponse(records=records, next_cursor=next_cursor))


# ---------------------------------------------------------------- audit


@router.get(
    "/districts/<district_id>/audit",
    **documented(
        "Who changed what in the district, newest first",
        tag=TAG,
        operation_id="listAudit",
        response=AuditResponse,
        errors=(400, 401, 403, 404, 422),
        description="Entries never carry a secret. Filtered by action or person, a page may hold fewer than limit "
        "entries (even none) and still carry a nextCursor: follow it until it is null. 422 invalid_request for an "
        "action or person that cannot be one.",
        query=(
            QueryParameter(
                "action",
                "Only entries of this action (sync.approve), or of a family of actions (sync: every sync.* action)",
            ),
            QueryParameter("by", "Only entries by this person: their id (by.sub of an entry)"),
            *PAGE,
        ),
    ),
)
def list_audit(district_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    limit = limit_of(event, DEFAULT_LIMIT, MAX_LIMIT)
    action, family, by = _audit_filters(event)
    cursor = (event.get("queryStringParameters") or {}).get("cursor")
    try:
        items, next_cursor = audit_store.list_entries(
            aws_clients.dynamodb(), district_id, limit, cursor, action=action, action_family=family, by_sub=by
        )
    except audit_store.InvalidCursor:
        raise _invalid_cursor() from None
    return respond(
        AuditResponse(entries=[AuditEntryResponse(**audit.entry_out(item)) for item in items], next_cursor=next_cursor)
    )
