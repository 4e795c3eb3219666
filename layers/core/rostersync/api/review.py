"""See before it happens: a held run record by record (and rejecting it), previews of a
configuration, and the district's audit log.

- GET  /districts/{id}/syncs/{runId}/held: every record a needs_review run would deactivate, paged;
- POST /districts/{id}/syncs/{runId}/approve (api/syncs.py) takes an optional {recordIds};
- POST /districts/{id}/syncs/{runId}/reject: the run ends rejected, nothing it held is
  deactivated, and the district holds every deactivation until an admin approves a held run;
- POST /districts/{id}/sync-config/preview: a read-only run of a proposed configuration;
  GET .../syncs/{runId}/preview and .../preview/records show what it found;
- GET  /districts/{id}/audit: who changed what, newest first.
The engine's side of this is sync/review.py.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import Field

from rostersync import audit
from rostersync.api.auth import district_for_admin, principal_from_event
from rostersync.api.connection import require_connection
from rostersync.api.errors import ApiError, bad_request, conflict, not_found, unprocessable
from rostersync.api.models import RequestModel, ResponseModel, SyncConfigRequest
from rostersync.api.openapi import documented
from rostersync.api.validation import query_flag, query_limit, read_body, respond
from rostersync.observability import logger
from rostersync.store import audit as audit_store
from rostersync.store import run_records
from rostersync.store import runs as run_store
from rostersync.store.batch import BatchStore, dynamodb_client
from rostersync.store.districts import DistrictModel
from rostersync.sync import messages, runs

router = APIGatewayHttpRouter()

TAG = "Review, preview and audit"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CHOSEN = 1000  # records one partial approval may name
RECORD_TYPES = run_store.RECORD_TYPES
CHANGES = ("created", "updated", "unchanged", "deactivated")

_clients: dict = {}


def client():
    # One per endpoint: tests and the local stack point AWS_ENDPOINT_URL at moto.
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint not in _clients:
        _clients[endpoint] = dynamodb_client()
    return _clients[endpoint]


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def limit_of(event: dict) -> int:
    return query_limit((event.get("queryStringParameters") or {}).get("limit"), DEFAULT_LIMIT, MAX_LIMIT)


def _choice(event: dict, name: str, allowed: tuple[str, ...]) -> str | None:
    value = (event.get("queryStringParameters") or {}).get(name)
    if value is not None and value not in allowed:
        raise unprocessable("invalid_request", f"{name} must be one of {', '.join(allowed)}.")
    return value


def _invalid_cursor() -> ApiError:
    return bad_request("invalid_cursor", "The cursor is not one this list gave out; start from the first page.")


def reviewer(event: dict) -> dict:
    principal = principal_from_event(event)
    return {"by": principal.sub, "role": principal.role, "at": _now_iso()}


# ---------------------------------------------------------------- bodies


class ReviewOut(ResponseModel):
    decision: Literal["approved", "approved_in_part", "rejected"]
    by: str
    role: str
    at: str
    records: int | None = Field(default=None, description="approved_in_part: how many records were approved")


class HeldRecordOut(ResponseModel):
    record_id: str = Field(description="What POST approve's recordIds name")
    type: Literal["schools", "teachers", "students", "classes", "enrollments"]
    name: str | None = Field(description="A person's name, a class's title, a school's name; an enrollment's person")
    role: str | None = None
    sis_sourced_id: str | None = None
    school_ids: list[str] | None = None
    class_id: str | None = None
    class_title: str | None = None
    user_id: str | None = None
    reason: Literal["gone_from_sis", "disabled", "out_of_selection", "no_class_in_selection", "class_leaving",
                    "user_leaving", "rekeyed", "term_ended"] = Field(
        description="gone_from_sis: the SIS no longer lists it; disabled: the SIS lists the user inactive or "
        "tobedeleted, or no longer as teacher or student; out_of_selection: inactive or tobedeleted in the SIS, or "
        "outside the selected schools, grades and subjects; no_class_in_selection: no active enrollment in a class "
        "that is synced; class_leaving / user_leaving: an enrollment whose class or person goes; rekeyed: a school "
        "the sync created, replaced by a match to an app school; term_ended: a class every term of which is over "
        "(the school year's end)")
    decision: Literal["pending", "approved", "kept"] = Field(
        description="pending until the run is decided; kept: left active (not chosen, or the run was rejected)")


class HeldRecordsOut(ResponseModel):
    run_id: str
    status: str
    held: dict[str, int] = Field(description="Held deactivations per type")
    review: ReviewOut | None
    records: list[HeldRecordOut]
    next_cursor: str | None


class ApproveRequest(RequestModel):
    record_ids: list[Annotated[str, Field(min_length=3, max_length=200)]] | None = Field(
        default=None, max_length=MAX_CHOSEN,
        description="Approve only these held records (recordId from GET held); the rest stay active and are "
        "re-evaluated by the next sync. Absent: approve everything held.")


class PreviewCountsOut(ResponseModel):
    created: int
    updated: int
    kept: int = Field(description="Unchanged records that stay as they are")
    deactivated: int


class PreviewOut(ResponseModel):
    run_id: str
    status: str
    proposal: dict = Field(description="The configuration previewed (as sent)")
    counts: dict[str, PreviewCountsOut] | None = Field(description="Per record type; null until the preview succeeded")
    would_need_review: dict[str, int] | None = Field(
        description="The deactivations per type a sync of this configuration would hold for review; null when "
        "it would not stop")
    failure: str | None = None


class PreviewRecordOut(ResponseModel):
    record_id: str
    type: str
    change: Literal["created", "updated", "unchanged", "deactivated"]
    name: str | None
    role: str | None = None
    sis_sourced_id: str | None = None
    school_ids: list[str] | None = None
    class_id: str | None = None
    class_title: str | None = None


class PreviewRecordsOut(ResponseModel):
    records: list[PreviewRecordOut]
    next_cursor: str | None


class StartedOut(ResponseModel):
    run_id: str


class ActorOut(ResponseModel):
    sub: str | None
    role: str | None


class AuditEntryOut(ResponseModel):
    entry_id: str
    at: str
    action: str = Field(description="connection.update, connection.delete, school_matches.update, "
                        "sync_config.update, sync.start, sync.preview, sync.approve, sync.reject, purge.request, "
                        "purge.confirm, ...")
    by: ActorOut
    target: str | None
    before: object | None
    after: object | None


class AuditOut(ResponseModel):
    entries: list[AuditEntryOut]
    next_cursor: str | None


# ---------------------------------------------------------------- held records


def _run(district_id: str, run_id: str) -> run_store.SyncRunModel:
    run = run_store.get_run(district_id, run_id)
    if run is None:
        raise not_found("sync")
    return run


def review_out(run) -> ReviewOut | None:
    return ReviewOut(**run.review) if run.review else None


def _record_decision(run, record_id: str, chosen: set[str] | None) -> str:
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
        tag=TAG, response=HeldRecordsOut, errors=(400, 401, 403, 404, 409, 422),
        description=f"?type= one record type; ?limit=1..{MAX_LIMIT} (default {DEFAULT_LIMIT}); ?cursor= the "
        "nextCursor of the previous page. 409 run_not_held for a sync that held nothing back.",
    ),
)
def list_held(district_id: str, run_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    limit = limit_of(event)
    record_type = _choice(event, "type", RECORD_TYPES)
    run = _run(district_id, run_id)
    held = run.held_deactivations.as_dict() if run.held_deactivations is not None else None
    if not held and not run.review:
        raise conflict("run_not_held", "This sync held nothing back for review.", runStatus=run.status)
    prefix = f"{run_records.HELD}#" + (f"{record_type}#" if record_type else "")
    cursor = (event.get("queryStringParameters") or {}).get("cursor")
    try:
        items, next_cursor = run_records.list_records(client(), district_id, run_id, prefix, limit, cursor)
    except run_records.InvalidCursor:
        raise _invalid_cursor() from None
    chosen = None
    if run.review and run.review.get("decision") == "approved_in_part":
        decision = run_records.get_decision(client(), district_id, run_id) or {}
        chosen = set(decision.get("recordIds") or [])
    records = [HeldRecordOut(record_id=item["recordId"], type=item["type"], name=item.get("name"),
                             role=item.get("role"), sis_sourced_id=item.get("sisSourcedId"),
                             school_ids=item.get("schoolIds"), class_id=item.get("classId"),
                             class_title=item.get("classTitle"), user_id=item.get("userId"), reason=item["reason"],
                             decision=_record_decision(run, item["recordId"], chosen)) for item in items]
    return respond(HeldRecordsOut(run_id=run_id, status=run.status, held={k: int(v) for k, v in (held or {}).items()},
                                  review=review_out(run), records=records, next_cursor=next_cursor))


def approve(event: dict, district_id: str, run_id: str, body: dict) -> run_store.SyncRunModel:
    """POST approve's work (api/syncs.py routes it): all, or the chosen records only."""
    from rostersync.api.validation import parse

    request = parse(ApproveRequest, body)
    review = reviewer(event)
    chosen = None
    if request.record_ids is not None:
        chosen = sorted(set(request.record_ids))
        if not chosen:
            raise unprocessable("invalid_request", "recordIds: name at least one held record (or leave it out).")
        if _run(district_id, run_id).status == run_store.NEEDS_REVIEW:
            found = run_records.held_records_exist(BatchStore(client=client(), max_in_flight=2), district_id, run_id,
                                                   chosen)
            unknown = [record_id for record_id in chosen if record_id not in found]
            if unknown:
                raise unprocessable("unknown_record", "recordIds: this sync holds no record "
                                    + ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "") + ".")
        review |= {"decision": "approved_in_part", "records": len(chosen)}
    else:
        review["decision"] = "approved"
    run = runs.approve_run(district_id, run_id, review=review)
    try:
        run_records.put_decision(client(), district_id, run_id, {**review, "recordIds": chosen})
    except Exception:
        runs.undo_approval(run)
        raise
    audit.record_event(event, district_id, "sync.approve", target=run_id,
                       after={"decision": review["decision"], "recordIds": chosen})
    return run


@router.post(
    "/districts/<district_id>/syncs/<run_id>/reject",
    **documented(
        "Reject a held sync: nothing it held is deactivated",
        tag=TAG, status=200, errors=(401, 403, 404, 409),
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
        run = runs.reject_run(district_id, run_id, review)
    except LookupError:
        raise not_found("sync") from None
    except runs.NotApprovable as refused:
        raise conflict("run_not_in_review", refused.reason, runStatus=refused.status) from None
    DistrictModel(district_id).update(actions=[
        DistrictModel.deactivation_hold.set({"runId": run_id, **review}), DistrictModel.full_sync_due.set(True)],
        condition=DistrictModel.district_id.exists())
    run_records.put_decision(client(), district_id, run_id, review)
    audit.record_event(event, district_id, "sync.reject", target=run_id, after={"decision": "rejected"})
    logger.info("held sync rejected", extra={"districtId": district_id, "runId": run_id})
    from rostersync.api.syncs import run_out

    return respond(run_out(run))


# ---------------------------------------------------------------- previews


@router.post(
    "/districts/<district_id>/sync-config/preview",
    **documented(
        "Preview a configuration: what a sync of it would create, update, keep and deactivate",
        tag=TAG, body=SyncConfigRequest, response=StartedOut, status=202, errors=(400, 401, 403, 404, 409, 422),
        description="Same body as PUT sync-config; nothing is saved. Starts a read-only sync (mode preview): it "
        "reads the SIS as a full sync does and writes no roster record. Follow it with GET syncs/{runId} and GET "
        "syncs/{runId}/preview. ?complete=true lists every record, not a sample. 409 sync_in_progress while "
        "another sync is queued or running (one run per district).",
    ),
)
def preview(district_id: str, complete: Annotated[str | None, Query(description="true: list every record")] = None):
    event = router.current_event.raw_event
    district = district_for_admin(event, district_id)
    every = query_flag("complete", complete)
    request = read_body(event, SyncConfigRequest)
    require_connection(district)
    if request.schools is not None:
        from rostersync.api.sync_setup import _check_schools

        _check_schools(district, request.schools)
    proposal = {**json.loads(json.dumps(request.model_dump(by_alias=True, warnings=False), default=str)), "complete": every}
    try:
        run = runs.start_run(district_id, "manual", "preview")
    except runs.RunInProgress as busy:
        raise conflict("sync_in_progress", "A sync of this district is already queued or running; wait for it "
                       "to finish.", runId=busy.run_id) from None
    except runs.DistrictNotFound:
        raise not_found("district") from None
    try:
        run_records.put_proposal(client(), district_id, run.run_id, proposal)
        messages.send_run_message(district_id, run.run_id, "run")
    except Exception:
        logger.exception("could not queue a preview", extra={"districtId": district_id, "runId": run.run_id})
        runs.fail(run, "The preview could not be queued; start it again.")
        raise ApiError(503, "unavailable", "The preview could not be queued. Try again in a minute.") from None
    audit.record_event(event, district_id, "sync.preview", target=run.run_id, after=proposal)
    return respond(StartedOut(run_id=run.run_id), status=202)


@router.get(
    "/districts/<district_id>/syncs/<run_id>/preview",
    **documented("What a preview found, per record type", tag=TAG, response=PreviewOut, errors=(401, 403, 404, 409),
                 description="409 not_a_preview for a sync that is not one."),
)
def get_preview(district_id: str, run_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    run = _run(district_id, run_id)
    if run.mode != "preview":
        raise conflict("not_a_preview", "This sync is not a preview.")
    proposal = run_records.get_proposal(client(), district_id, run_id) or {}
    counts = None
    if run.status == run_store.SUCCEEDED:
        stored = run_store.normalised_counts(run.counts.as_dict() if hasattr(run.counts, "as_dict") else run.counts)
        counts = {t: PreviewCountsOut(created=c["created"], updated=c["updated"], kept=c["unchanged"],
                                      deactivated=c["deactivated"]) for t, c in stored.items()}
    would = run_records.get_summary(client(), district_id, run_id).get("wouldHold")
    return respond(PreviewOut(run_id=run_id, status=run.status, proposal=proposal, counts=counts,
                              would_need_review=would, failure=run.failure))


@router.get(
    "/districts/<district_id>/syncs/<run_id>/preview/records",
    **documented(
        "The records of a preview, by type and change",
        tag=TAG, response=PreviewRecordsOut, errors=(400, 401, 403, 404, 409, 422),
        description=f"?type= (required) one record type; ?change= created, updated, unchanged or deactivated; "
        f"?limit=1..{MAX_LIMIT}; ?cursor=. A sample of {50} per type and change unless the preview was started "
        "with ?complete=true.",
    ),
)
def list_preview_records(district_id: str, run_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    limit = limit_of(event)
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
        items, next_cursor = run_records.list_records(client(), district_id, run_id, prefix, limit, cursor)
    except run_records.InvalidCursor:
        raise _invalid_cursor() from None
    records = [PreviewRecordOut(record_id=i["recordId"], type=i["type"], change=i["change"], name=i.get("name"),
                                role=i.get("role"), sis_sourced_id=i.get("sisSourcedId"),
                                school_ids=i.get("schoolIds"), class_id=i.get("classId"),
                                class_title=i.get("classTitle")) for i in items]
    return respond(PreviewRecordsOut(records=records, next_cursor=next_cursor))


# ---------------------------------------------------------------- audit


@router.get(
    "/districts/<district_id>/audit",
    **documented(
        "Who changed what in the district, newest first",
        tag=TAG, response=AuditOut, errors=(400, 401, 403, 404, 422),
        description=f"?limit=1..{MAX_LIMIT} (default {DEFAULT_LIMIT}); ?cursor= the nextCursor of the previous "
        "page. Entries never carry a secret.",
    ),
)
def list_audit(district_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    limit = limit_of(event)
    cursor = (event.get("queryStringParameters") or {}).get("cursor")
    try:
        items, next_cursor = audit_store.list_entries(client(), district_id, limit, cursor)
    except audit_store.InvalidCursor:
        raise _invalid_cursor() from None
    return respond(AuditOut(entries=[AuditEntryOut(**audit.entry_out(item)) for item in items],
                            next_cursor=next_cursor))
