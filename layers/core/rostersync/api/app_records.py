"""App-made records and account matching (issue 13): the app registers the users and classes it
already has for a district (origin `app`, one or a few thousand per call), and a district admin
sees and resolves the conflicts a sync's matching found (link to a named app record, or keep
the SIS record separate). The records are read back through the roster routes (api/rosters.py).

Who: the district's admins and platform admins; the registration routes also the app's backend
(an API client with scope roster/write, api/access.py). Conflicts and resolutions: admins only. What a sync does
with them: sync/account_matching.py, docs/design.md.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync.api import audit_trail
from rostersync.api.access import district_for_admin, district_for_app_writer
from rostersync.api.errors import (
    ApiError,
    bad_request,
    conflict,
    not_found,
    unprocessable,
)
from rostersync.api.http_io import query_limit, read_body, respond
from rostersync.api.route_docs import documented, page_parameters
from rostersync.api.schemas.app_records import (
    MAX_BULK,
    AppClassesRequest,
    AppClassRequest,
    AppRecordCountResponse,
    AppRecordCountsResponse,
    AppUserRequest,
    AppUsersRequest,
    ConflictsResponse,
    MatchingConflictResponse,
    MatchingCountsResponse,
    MatchingRecordResponse,
    RegisteredClassesResponse,
    RegisteredClassResponse,
    RegisteredUserResponse,
    RegisteredUsersResponse,
    ResolutionRequest,
    ResolutionResponse,
    RunMatchingResponse,
)
from rostersync.store import app_records, matching_conflicts
from rostersync.store.app_records import RegistrationRefused
from rostersync.store.attributes import map_value
from rostersync.store.schools import SchoolModel

DEFAULT_LIMIT, MAX_LIMIT = 50, 200  # conflicts and a run's matching records, a page

router = APIGatewayHttpRouter()

TAG = "App records and matching"
BULK_BODY_BYTES = 2 * 1024 * 1024


def _check_schools(district_id: str, school_ids: set[str]) -> None:
    known = {s.school_id for s in SchoolModel.query(district_id)}
    unknown = sorted(school_ids - known)
    if unknown:
        raise unprocessable(
            "unknown_school",
            f"No school of this district has the id {unknown[0]!r}"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
            + ".",
        )


def _check_distinct(ids: list[str | None], name: str) -> None:
    given = [i for i in ids if i]
    if len(given) != len(set(given)):
        raise unprocessable("duplicate_id", f"{name} appears twice in one request; send each record once.")


def _register_users(district_id: str, users: list[AppUserRequest]) -> list:
    _check_distinct([u.user_id for u in users], "A userId")
    _check_schools(district_id, {s for u in users for s in u.school_ids})
    records = [u.model_dump(by_alias=True) for u in users]
    for record in records:
        record["schoolIds"] = sorted(set(record["schoolIds"]))
    try:
        return app_records.register_users(district_id, records)
    except RegistrationRefused as refused:
        raise conflict(refused.code, refused.message) from None


def _check_teachers(district_id: str, teacher_ids: set[str]) -> None:
    problems = app_records.teacher_problems(district_id, teacher_ids)
    if problems:
        first = sorted(problems)[0]
        raise unprocessable(
            "invalid_teacher",
            f"teacherId {first!r} {problems[first]}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
            + "; name an active teacher of this district by their app userId, or leave teacherId out.",
        )


def _register_classes(district_id: str, classes: list[AppClassRequest]) -> list:
    _check_distinct([c.class_id for c in classes], "A classId")
    _check_schools(district_id, {c.school_id for c in classes})
    _check_teachers(district_id, {c.teacher_id for c in classes if c.teacher_id})
    try:
        return app_records.register_classes(district_id, [c.model_dump(by_alias=True) for c in classes])
    except RegistrationRefused as refused:
        raise conflict(refused.code, refused.message) from None


_REGISTER_NOTE = (
    "Matching (docs/design.md): before a sync creates an SIS user it looks for the same person "
    "among app users by identifier, then email (ignoring case and spaces), then username, within "
    "the same role; a class by its class code in the same school, or by its title in the same school when "
    "it names its teacher (teacherId) and the SIS class has that teacher. 409 linked_to_sis for a record "
    "a sync has linked (the sync keeps it now), not_an_app_record for a synced record's id; 422 "
    "unknown_school, invalid_teacher."
)


@router.post(
    "/districts/<district_id>/app-users",
    **documented(
        "Register one user the app already has",
        operation_id="registerAppUser",
        tag=TAG,
        body=AppUserRequest,
        response=RegisteredUserResponse,
        errors=(400, 401, 403, 404, 409, 422),
        description=_REGISTER_NOTE,
    ),
)
def post_app_user(district_id: str):
    event = router.current_event.raw_event
    district_for_app_writer(event, district_id)
    user = read_body(event, AppUserRequest)
    result = _register_users(district_id, [user])[0]
    return respond(RegisteredUserResponse(user_id=result.item_id, change=result.change))


@router.post(
    "/districts/<district_id>/app-users/bulk",
    **documented(
        f"Register up to {MAX_BULK} users the app already has",
        operation_id="registerAppUsers",
        tag=TAG,
        body=AppUsersRequest,
        response=RegisteredUsersResponse,
        errors=(400, 401, 403, 404, 409, 422),
        description=f"At most {MAX_BULK} users and {BULK_BODY_BYTES // 1024 // 1024} MB a call; all or nothing on "
        "validation, and safe to send again. " + _REGISTER_NOTE,
    ),
)
def post_app_users(district_id: str):
    event = router.current_event.raw_event
    district_for_app_writer(event, district_id)
    body = read_body(event, AppUsersRequest, max_bytes=BULK_BODY_BYTES)
    results = _register_users(district_id, body.users)
    return respond(
        RegisteredUsersResponse(users=[RegisteredUserResponse(user_id=r.item_id, change=r.change) for r in results])
    )


@router.post(
    "/districts/<district_id>/app-classes",
    **documented(
        "Register one class the app already has",
        operation_id="registerAppClass",
        tag=TAG,
        body=AppClassRequest,
        response=RegisteredClassResponse,
        errors=(400, 401, 403, 404, 409, 422),
        description=_REGISTER_NOTE,
    ),
)
def post_app_class(district_id: str):
    event = router.current_event.raw_event
    district_for_app_writer(event, district_id)
    item = read_body(event, AppClassRequest)
    result = _register_classes(district_id, [item])[0]
    return respond(RegisteredClassResponse(class_id=result.item_id, change=result.change))


@router.post(
    "/districts/<district_id>/app-classes/bulk",
    **documented(
        f"Register up to {MAX_BULK} classes the app already has",
        operation_id="registerAppClasses",
        tag=TAG,
        body=AppClassesRequest,
        response=RegisteredClassesResponse,
        errors=(400, 401, 403, 404, 409, 422),
        description=f"At most {MAX_BULK} classes a call. " + _REGISTER_NOTE,
    ),
)
def post_app_classes(district_id: str):
    event = router.current_event.raw_event
    district_for_app_writer(event, district_id)
    body = read_body(event, AppClassesRequest, max_bytes=BULK_BODY_BYTES)
    results = _register_classes(district_id, body.classes)
    return respond(
        RegisteredClassesResponse(
            classes=[RegisteredClassResponse(class_id=r.item_id, change=r.change) for r in results]
        )
    )


@router.get(
    "/districts/<district_id>/app-records",
    **documented(
        "How many users and classes the app registered, how many are linked to SIS records, and how many the sync made",
        operation_id="getAppRecordCounts",
        tag=TAG,
        response=AppRecordCountsResponse,
        errors=(401, 403, 404),
        description="Per type (teachers, students, classes): the app's own records (origin app) and those the "
        "SIS sync created (origin sis). Counted from the district's records on each call; list them with GET "
        "users and GET classes (each record says its origin).",
    ),
)
def get_app_record_counts(district_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    counts = app_records.counts_by_origin(district_id)
    return respond(
        AppRecordCountsResponse(
            **{
                kind: AppRecordCountResponse(
                    registered=c["registered"],
                    linked=c["linked"],
                    unlinked=c["registered"] - c["linked"],
                    inactive=c["inactive"],
                    from_sis=c["fromSis"],
                )
                for kind, c in counts.items()
            }
        )
    )


@router.get(
    "/districts/<district_id>/matching/conflicts",
    **documented(
        "Open matching conflicts: SIS records a sync created separately because their match was not clear",
        operation_id="listMatchingConflicts",
        tag=TAG,
        response=ConflictsResponse,
        errors=(400, 401, 403, 404, 422),
        query=page_parameters(DEFAULT_LIMIT, MAX_LIMIT),
        description="Resolve each with POST matching/resolutions.",
    ),
)
def get_conflicts(district_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    query = event.get("queryStringParameters") or {}
    limit = query_limit(query.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)
    try:
        items, next_cursor = matching_conflicts.list_conflicts(district_id, limit, query.get("cursor"))
    except matching_conflicts.InvalidCursor:
        raise bad_request(
            "invalid_cursor", "The cursor is not one this list gave out; start from the first page."
        ) from None
    return respond(
        ConflictsResponse(
            conflicts=[MatchingConflictResponse(**_conflict_fields(i)) for i in items], next_cursor=next_cursor
        )
    )


def _conflict_fields(item: dict) -> dict:
    return {
        "type": item["type"],
        "sis_sourced_id": item["sisSourcedId"],
        "reason": item["reason"],
        "message": item["message"],
        "sis_record": item.get("sisRecord") or {},
        "candidates": item.get("candidates") or [],
        "sis_item_id": item.get("sisItemId") or "",
        "run_id": item.get("runId"),
        "found_at": item.get("at"),
    }


@router.post(
    "/districts/<district_id>/matching/resolutions",
    **documented(
        "Resolve a matching conflict: link the SIS record to a named app record, or keep it separate",
        operation_id="resolveMatchingConflict",
        tag=TAG,
        body=ResolutionRequest,
        response=ResolutionResponse,
        errors=(400, 401, 403, 404, 409, 422),
        description="Takes effect at the next sync: link makes the app record take the SIS record's place (the app "
        "record keeps its id; the copy the sync had made is deactivated, its enrollments move over); "
        "separate keeps the SIS record apart and matching never asks again. 404 for an app record that "
        "does not exist; 409 already_linked when the app record is linked to another SIS record; 422 "
        "role_mismatch, not_an_app_record.",
    ),
)
def post_resolution(district_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    request = read_body(event, ResolutionRequest)
    if request.action == "link" and not request.app_id:
        raise unprocessable("invalid_request", "appId names the app record to link to (action link).")
    try:
        result = matching_conflicts.resolve(
            district_id, request.type, request.sis_sourced_id, request.action, request.app_id
        )
    except matching_conflicts.ResolutionRefused as refused:
        raise ApiError(refused.status, refused.code, refused.message) from None
    audit_trail.record_event(
        event,
        district_id,
        "matching.resolve",
        before=result.get("before"),
        after={"action": request.action, "itemId": result["itemId"]},
        target=f"{request.type}:{request.sis_sourced_id}",
    )
    return respond(
        ResolutionResponse(
            type=request.type,
            sis_sourced_id=request.sis_sourced_id,
            action=request.action,
            item_id=result["itemId"],
            message=result["message"],
        )
    )


@router.get(
    "/districts/<district_id>/syncs/<run_id>/matching",
    **documented(
        "What a sync's account and class matching and its SIS id changes did, or a preview's would do",
        operation_id="getSyncMatching",
        tag=TAG,
        response=RunMatchingResponse,
        errors=(400, 401, 403, 404, 422),
        query=page_parameters(DEFAULT_LIMIT, MAX_LIMIT),
        description="Before the first sync, POST sync-config/preview and read this for the preview's run: how many "
        "SIS records would link to app records, how many would be created, and each conflict with both "
        "sides. Saving the same configuration, the sync does exactly that.",
    ),
)
def get_run_matching(district_id: str, run_id: str):
    import base64
    import binascii

    from rostersync.store import sync_runs as run_store

    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    run = run_store.get_run(district_id, run_id)
    if run is None:
        raise not_found("run")
    query = event.get("queryStringParameters") or {}
    limit = query_limit(query.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)
    after = None
    if query.get("cursor"):
        cursor = query["cursor"]
        try:
            after = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            after = None
        if not after or not after.startswith("match#"):
            raise bad_request("invalid_cursor", "The cursor is not one this list gave out; start from the first page.")
    counts, page, next_key = matching_conflicts.run_matching(district_id, run_id, limit, after)
    run_counts = run_store.normalised_counts(map_value(run.counts))
    out_counts = {
        t: MatchingCountsResponse(
            linked=counts.get(t, {}).get("linked", 0),
            conflicts=counts.get(t, {}).get("conflicts", 0),
            rekeyed=counts.get(t, {}).get("rekeyed", 0),
            created=run_counts[t]["created"],
        )
        for t in ("teachers", "students", "classes", "enrollments")
    }
    records = [
        MatchingRecordResponse(
            type=r["type"],
            result=r["result"],
            sis_sourced_id=r["sisSourcedId"],
            item_id=r["itemId"],
            name=r.get("name"),
            criterion=r.get("criterion"),
            reason=r.get("reason"),
            message=r.get("message"),
            sis_record=r.get("sisRecord"),
            candidates=r.get("candidates"),
        )
        for r in page
    ]
    next_cursor = base64.urlsafe_b64encode(next_key.encode()).decode().rstrip("=") if next_key else None
    return respond(
        RunMatchingResponse(
            run_id=run_id, mode=run.mode, status=run.status, counts=out_counts, records=records, next_cursor=next_cursor
        )
    )
