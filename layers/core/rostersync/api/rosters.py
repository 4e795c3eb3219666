"""Roster routes: what the app's front ends read (users, classes, a class's roster).

Lists show active records unless ?status=inactive or ?status=all, and page with ?limit=
(1..200, default 50) and the opaque ?cursor= of the previous answer's nextCursor. A cursor
works only for the district and the query (role, schoolId, status) it came from: anything
else is 400 invalid_cursor (rostersync.store.roster_queries checks it).
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync.api.auth import district_for_admin
from rostersync.api.errors import bad_request, not_found, unprocessable
from rostersync.api.models import ResponseModel
from rostersync.api.openapi import documented
from rostersync.api.validation import query_limit, respond
from rostersync.store import roster_queries as queries
from rostersync.store.roster import ClassModel, UserModel

router = APIGatewayHttpRouter()

TAG = "Rosters"
_PAGING = (
    f"?status=active (default)|inactive|all; ?limit=1..{queries.MAX_LIMIT} (default {queries.DEFAULT_LIMIT}); "
    "?cursor= the nextCursor of the previous page (400 invalid_cursor for any other)."
)


class UserOut(ResponseModel):
    user_id: str
    sis_sourced_id: str
    role: str
    given_name: str | None
    family_name: str | None
    email: str | None
    username: str | None
    grades: list[str]
    school_ids: list[str]
    status: str


class UsersOut(ResponseModel):
    users: list[UserOut]
    next_cursor: str | None


class ClassOut(ResponseModel):
    class_id: str
    sis_sourced_id: str
    title: str | None
    class_code: str | None
    school_id: str
    grades: list[str]
    subjects: list[str]
    status: str


class ClassesOut(ResponseModel):
    classes: list[ClassOut]
    next_cursor: str | None


class RosterOut(ResponseModel):
    teachers: list[UserOut]
    students: list[UserOut]


def user_out(user: UserModel) -> UserOut:
    return UserOut(
        user_id=user.user_id,
        sis_sourced_id=user.sis_sourced_id,
        role=user.role,
        given_name=user.given_name,
        family_name=user.family_name,
        email=user.email,
        username=user.username,
        grades=list(user.grades or []),
        school_ids=list(user.school_ids or []),
        status=user.status,
    )


def class_out(item: ClassModel) -> ClassOut:
    return ClassOut(
        class_id=item.class_id,
        sis_sourced_id=item.sis_sourced_id,
        title=item.title,
        class_code=item.class_code,
        school_id=item.school_id,
        grades=list(item.grades or []),
        subjects=list(item.subjects or []),
        status=item.status,
    )


# ---------------------------------------------------------------- query parameters


def _params(event: dict) -> dict:
    return event.get("queryStringParameters") or {}


def _choice(event: dict, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    value = _params(event).get(name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise unprocessable("invalid_request", f"{name} must be one of {', '.join(choices)}.")
    return value


def _limit(event: dict) -> int:
    return query_limit(_params(event).get("limit"), queries.DEFAULT_LIMIT, queries.MAX_LIMIT)


def _school_id(event: dict) -> str | None:
    value = _params(event).get("schoolId")
    if value is None or value == "":
        return None
    if len(value) > 255:
        raise unprocessable("invalid_request", "schoolId is too long.")
    return value


def _cursor(event: dict) -> str | None:
    value = _params(event).get("cursor")
    return None if value in (None, "") else value


def _invalid_cursor():
    return bad_request("invalid_cursor", "The cursor is not one this list gave out for this query; start from the first page.")


# ---------------------------------------------------------------- routes


@router.get(
    "/districts/<district_id>/users",
    **documented("Teachers and students", tag=TAG, response=UsersOut, errors=(400, 401, 403, 404, 422),
                 description="?role=teacher|student (both without it); ?schoolId= an app school id; " + _PAGING),
)
def list_users(district_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    role = _choice(event, "role", queries.ROLES, None)
    status = _choice(event, "status", queries.STATUSES, "active")
    limit, school_id = _limit(event), _school_id(event)
    try:
        page = queries.list_users(district_id, role=role, school_id=school_id, status=status, limit=limit,
                                  cursor=_cursor(event))
    except queries.InvalidCursor:
        raise _invalid_cursor() from None
    return respond(UsersOut(users=[user_out(u) for u in page.items], next_cursor=page.next_cursor))


@router.get(
    "/districts/<district_id>/classes",
    **documented("Classes", tag=TAG, response=ClassesOut, errors=(400, 401, 403, 404, 422),
                 description="?schoolId= an app school id; " + _PAGING),
)
def list_classes(district_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    status = _choice(event, "status", queries.STATUSES, "active")
    limit, school_id = _limit(event), _school_id(event)
    try:
        page = queries.list_classes(district_id, school_id=school_id, status=status, limit=limit, cursor=_cursor(event))
    except queries.InvalidCursor:
        raise _invalid_cursor() from None
    return respond(ClassesOut(classes=[class_out(c) for c in page.items], next_cursor=page.next_cursor))


@router.get(
    "/districts/<district_id>/classes/<class_id>/roster",
    **documented("A class's teachers and students", tag=TAG, response=RosterOut, errors=(401, 403, 404, 422),
                 description="Active enrollments of active users unless ?status=inactive|all. 404 for an unknown class."),
)
def class_roster(district_id: str, class_id: str):
    event = router.current_event.raw_event
    district_for_admin(event, district_id)
    status = _choice(event, "status", queries.STATUSES, "active")
    if queries.get_class(district_id, class_id) is None:
        raise not_found("class")
    teachers, students = queries.class_roster(district_id, class_id, status)
    return respond(RosterOut(teachers=[user_out(u) for u in teachers], students=[user_out(u) for u in students]))
