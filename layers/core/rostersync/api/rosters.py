"""Roster routes: what the app's front ends and its backend read (users, classes, enrollments,
a class's roster, teachers and students, a user's classes).

Lists show active records unless ?status=inactive or ?status=all, and page with ?limit=
(1..200, default 50) and the opaque ?cursor= of the previous answer's nextCursor. A cursor
works only for the district and the query (role, schoolId, status, ...) it came from: anything
else is 400 invalid_cursor (rostersync.store.roster_queries checks it).

Changes since: users, classes and enrollments take ?updatedSince= (an ISO 8601 time with a
zone). The list is then in change order (oldest write first), every status unless ?status=
says otherwise (a deactivation is a change), and each answer carries `changesCursor`: pass it
as ?cursor= later to read what changed after this answer (store/change_keys.py has the
guarantee). Readers: the district's admins, platform admins, and API clients granted the
district (api/auth.py).
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from datetime import datetime, timezone

from rostersync.api.auth import district_for_reader
from rostersync.api.errors import bad_request, not_found, unprocessable
from rostersync.api.models import ResponseModel
from rostersync.api.openapi import QueryParameter, documented
from rostersync.api.validation import query_limit, respond
from rostersync.store import change_keys
from rostersync.store import roster_queries as queries
from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel

router = APIGatewayHttpRouter()

TAG = "Rosters"


class UserOut(ResponseModel):
    user_id: str
    sis_sourced_id: str | None  # None: an app-made user no sync has linked (api/app_records.py)
    role: str
    given_name: str | None
    family_name: str | None
    email: str | None
    username: str | None
    grades: list[str]
    school_ids: list[str]
    status: str
    updated_at: datetime | None = None
    origin: str = "sis"  # app: registered by the app (issue 13), linked to the SIS when sisSourcedId is set


class UsersOut(ResponseModel):
    users: list[UserOut]
    next_cursor: str | None
    changes_cursor: str | None = None


class ClassOut(ResponseModel):
    class_id: str
    sis_sourced_id: str | None
    title: str | None
    class_code: str | None
    school_id: str
    grades: list[str]
    subjects: list[str]
    status: str
    updated_at: datetime | None = None
    origin: str = "sis"


class ClassesOut(ResponseModel):
    classes: list[ClassOut]
    next_cursor: str | None
    changes_cursor: str | None = None


class EnrollmentOut(ResponseModel):
    enrollment_id: str
    sis_sourced_id: str
    class_id: str
    user_id: str
    role: str
    primary: bool | None
    begin_date: str | None
    end_date: str | None
    status: str
    updated_at: datetime | None = None


class EnrollmentsOut(ResponseModel):
    enrollments: list[EnrollmentOut]
    next_cursor: str | None
    changes_cursor: str | None = None


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
        updated_at=user.updated_at,
        origin=user.origin or "sis",
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
        updated_at=item.updated_at,
        origin=item.origin or "sis",
    )


def enrollment_out(item: EnrollmentModel) -> EnrollmentOut:
    return EnrollmentOut(
        enrollment_id=item.enrollment_id,
        sis_sourced_id=item.sis_sourced_id,
        class_id=item.class_id,
        user_id=item.user_id,
        role=item.role,
        primary=item.primary,
        begin_date=item.begin_date,
        end_date=item.end_date,
        status=item.status,
        updated_at=item.updated_at,
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


def _id(event: dict, name: str) -> str | None:
    value = _params(event).get(name)
    if value is None or value == "":
        return None
    if len(value) > 255:
        raise unprocessable("invalid_request", f"{name} is too long.")
    return value


def _school_id(event: dict) -> str | None:
    return _id(event, "schoolId")


def _cursor(event: dict) -> str | None:
    value = _params(event).get("cursor")
    return None if value in (None, "") else value


def _updated_since(event: dict) -> str | None:
    """?updatedSince= as stored time text, or None."""
    value = _params(event).get("updatedSince")
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value) if len(value) <= 64 else None
    except ValueError:
        moment = None
    message = "updatedSince must be an ISO 8601 time with a zone, such as 2026-12-01T08:00:00Z."
    if moment is None or moment.tzinfo is None:
        raise unprocessable("invalid_request", message)
    try:
        # Nothing was written before 1970: earlier times read from the beginning (and stay fixed-width text).
        return change_keys.time_text(max(moment.astimezone(timezone.utc), _EPOCH))
    except (OverflowError, ValueError):  # a year 1 or 9999 moved out of range by its offset
        raise unprocessable("invalid_request", message) from None


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _change_read(event: dict) -> tuple[bool, str | None]:
    """(whether this is a change read, its updatedSince): ?updatedSince= or a change cursor."""
    since = _updated_since(event)
    return since is not None or queries.is_change_cursor(_cursor(event)), since


def _invalid_cursor():
    return bad_request("invalid_cursor", "The cursor is not one this list gave out for this query; start from the first page.")


def _paged(read):
    try:
        return read()
    except queries.InvalidCursor:
        raise _invalid_cursor() from None


def _path_id(value: str, what: str) -> str:
    if len(value) > 255:
        raise not_found(what)
    return value


# ---------------------------------------------------------------- documented parameters

_STATUS = QueryParameter("status", "active (default; `all` on a change read) | inactive | all",
                         enum=queries.STATUSES)
_LIMIT = QueryParameter("limit", f"Items a page, 1..{queries.MAX_LIMIT} (default {queries.DEFAULT_LIMIT})",
                        type="integer", minimum=1, maximum=queries.MAX_LIMIT)
_CURSOR = QueryParameter("cursor", "The nextCursor (or, for a change read, changesCursor) of a previous answer "
                         "to this same query; 400 invalid_cursor for any other")
_SINCE = QueryParameter(
    "updatedSince", "ISO 8601 time with a zone: answer only records created, changed or deactivated at or after "
    "it, oldest change first, with a changesCursor to resume from. Changes show once they are "
    f"{change_keys.DEFAULT_CHANGE_LAG_S // 60} minutes old (the change horizon)", format="date-time")
_SCHOOL = QueryParameter("schoolId", "An app school id")
_PAGING = (_STATUS, _LIMIT, _CURSOR)
_ERRORS = (400, 401, 403, 404, 422)


# ---------------------------------------------------------------- routes


@router.get(
    "/districts/<district_id>/users",
    **documented("Teachers and students", operation_id="listUsers", tag=TAG, response=UsersOut, errors=_ERRORS,
                 query=(QueryParameter("role", "teacher | student (both without it)", enum=queries.ROLES), _SCHOOL,
                        *_PAGING, _SINCE),
                 description="By userId; with updatedSince (or a change cursor), in change order."),
)
def list_users(district_id: str):
    event = router.current_event.raw_event
    district_for_reader(event, district_id)
    changes, since = _change_read(event)
    role = _choice(event, "role", queries.ROLES, None)
    status = _choice(event, "status", queries.STATUSES, "all" if changes else "active")
    limit, school_id, cursor = _limit(event), _school_id(event), _cursor(event)
    if changes:
        query = queries.user_changes(role, school_id, status)
        page = _paged(lambda: queries.change_page(district_id, query, since, limit, cursor))
    else:
        page = _paged(lambda: queries.list_users(district_id, role=role, school_id=school_id, status=status,
                                                 limit=limit, cursor=cursor))
    return respond(UsersOut(users=[user_out(u) for u in page.items], next_cursor=page.next_cursor,
                            changes_cursor=page.changes_cursor))


@router.get(
    "/districts/<district_id>/users/<user_id>",
    **documented("One teacher or student", operation_id="getUser", tag=TAG, response=UserOut,
                 description="Any status. 404 for an unknown user."),
)
def get_user(district_id: str, user_id: str):
    district_for_reader(router.current_event.raw_event, district_id)
    user = queries.get_user(district_id, _path_id(user_id, "user"))
    if user is None:
        raise not_found("user")
    return respond(user_out(user))


@router.get(
    "/districts/<district_id>/users/<user_id>/classes",
    **documented("The classes a teacher or student is enrolled in", operation_id="listUserClasses", tag=TAG,
                 response=ClassesOut, errors=_ERRORS,
                 query=(QueryParameter("role", "Only enrollments with this role", enum=queries.ROLES), *_PAGING),
                 description="A page of the user's enrollments at a time (a page may hold fewer than limit classes); "
                             "status applies to the enrollment and the class. 404 for an unknown user."),
)
def list_user_classes(district_id: str, user_id: str):
    event = router.current_event.raw_event
    district_for_reader(event, district_id)
    role = _choice(event, "role", queries.ROLES, None)
    status = _choice(event, "status", queries.STATUSES, "active")
    limit, cursor = _limit(event), _cursor(event)
    if queries.get_user(district_id, _path_id(user_id, "user")) is None:
        raise not_found("user")
    page = _paged(lambda: queries.classes_of_user(district_id, user_id, role=role, status=status, limit=limit,
                                                  cursor=cursor))
    return respond(ClassesOut(classes=[class_out(c) for c in page.items], next_cursor=page.next_cursor))


@router.get(
    "/districts/<district_id>/classes",
    **documented("Classes", operation_id="listClasses", tag=TAG, response=ClassesOut, errors=_ERRORS,
                 query=(_SCHOOL, QueryParameter("teacherId", "Only the classes this teacher (a userId) teaches"),
                        *_PAGING, _SINCE),
                 description="By classId; with updatedSince (or a change cursor), in change order. teacherId "
                             "cannot be combined with schoolId or updatedSince (422)."),
)
def list_classes(district_id: str):
    event = router.current_event.raw_event
    district_for_reader(event, district_id)
    changes, since = _change_read(event)
    status = _choice(event, "status", queries.STATUSES, "all" if changes else "active")
    limit, school_id, cursor, teacher_id = _limit(event), _school_id(event), _cursor(event), _id(event, "teacherId")
    if teacher_id is not None:
        if changes or school_id is not None:
            raise unprocessable("invalid_request", "teacherId cannot be combined with schoolId or updatedSince.")
        page = _paged(lambda: queries.classes_of_user(district_id, teacher_id, role="teacher", status=status,
                                                      limit=limit, cursor=cursor))
    elif changes:
        query = queries.class_changes(school_id, status)
        page = _paged(lambda: queries.change_page(district_id, query, since, limit, cursor))
    else:
        page = _paged(lambda: queries.list_classes(district_id, school_id=school_id, status=status, limit=limit,
                                                   cursor=cursor))
    return respond(ClassesOut(classes=[class_out(c) for c in page.items], next_cursor=page.next_cursor,
                              changes_cursor=page.changes_cursor))


@router.get(
    "/districts/<district_id>/classes/<class_id>",
    **documented("One class", operation_id="getClass", tag=TAG, response=ClassOut,
                 description="Any status. 404 for an unknown class."),
)
def get_class(district_id: str, class_id: str):
    district_for_reader(router.current_event.raw_event, district_id)
    item = queries.get_class(district_id, _path_id(class_id, "class"))
    if item is None:
        raise not_found("class")
    return respond(class_out(item))


@router.get(
    "/districts/<district_id>/classes/<class_id>/roster",
    **documented("A class's teachers and students", operation_id="getClassRoster", tag=TAG, response=RosterOut,
                 errors=(401, 403, 404, 422), query=(_STATUS,),
                 description="Active enrollments of active users unless ?status=inactive|all, unpaged (a class's "
                             "roster is tens of people; the paged /teachers and /students read any size). "
                             "404 for an unknown class."),
)
def class_roster(district_id: str, class_id: str):
    event = router.current_event.raw_event
    district_for_reader(event, district_id)
    status = _choice(event, "status", queries.STATUSES, "active")
    if queries.get_class(district_id, _path_id(class_id, "class")) is None:
        raise not_found("class")
    teachers, students = queries.class_roster(district_id, class_id, status)
    return respond(RosterOut(teachers=[user_out(u) for u in teachers], students=[user_out(u) for u in students]))


def _members(district_id: str, class_id: str, role: str):
    event = router.current_event.raw_event
    district_for_reader(event, district_id)
    status = _choice(event, "status", queries.STATUSES, "active")
    limit, cursor = _limit(event), _cursor(event)
    if queries.get_class(district_id, _path_id(class_id, "class")) is None:
        raise not_found("class")
    page = _paged(lambda: queries.class_members(district_id, class_id, role, status=status, limit=limit,
                                                cursor=cursor))
    return respond(UsersOut(users=[user_out(u) for u in page.items], next_cursor=page.next_cursor))


_MEMBERS = ("A page of the class's enrollments at a time, by enrollmentId (a page may hold fewer than limit "
            "users); status applies to the enrollment and the user. 404 for an unknown class.")


@router.get(
    "/districts/<district_id>/classes/<class_id>/teachers",
    **documented("A class's teachers, paged", operation_id="listClassTeachers", tag=TAG, response=UsersOut,
                 errors=_ERRORS, query=_PAGING, description=_MEMBERS),
)
def class_teachers(district_id: str, class_id: str):
    return _members(district_id, class_id, "teacher")


@router.get(
    "/districts/<district_id>/classes/<class_id>/students",
    **documented("A class's students, paged", operation_id="listClassStudents", tag=TAG, response=UsersOut,
                 errors=_ERRORS, query=_PAGING, description=_MEMBERS),
)
def class_students(district_id: str, class_id: str):
    return _members(district_id, class_id, "student")


@router.get(
    "/districts/<district_id>/enrollments",
    **documented("Enrollments", operation_id="listEnrollments", tag=TAG, response=EnrollmentsOut, errors=_ERRORS,
                 query=(QueryParameter("classId", "Only this class's enrollments"),
                        QueryParameter("userId", "Only this user's enrollments"),
                        QueryParameter("role", "teacher | student", enum=queries.ROLES), *_PAGING, _SINCE),
                 description="By enrollmentId; with updatedSince (or a change cursor), in change order. "
                             "beginDate and endDate are the SIS's (YYYY-MM-DD or null)."),
)
def list_enrollments(district_id: str):
    event = router.current_event.raw_event
    district_for_reader(event, district_id)
    changes, since = _change_read(event)
    role = _choice(event, "role", queries.ROLES, None)
    status = _choice(event, "status", queries.STATUSES, "all" if changes else "active")
    limit, cursor, class_id, user_id = _limit(event), _cursor(event), _id(event, "classId"), _id(event, "userId")
    if changes:
        query = queries.enrollment_changes(class_id, user_id, role, status)
        page = _paged(lambda: queries.change_page(district_id, query, since, limit, cursor))
    else:
        page = _paged(lambda: queries.list_enrollments(district_id, class_id=class_id, user_id=user_id, role=role,
                                                       status=status, limit=limit, cursor=cursor))
    return respond(EnrollmentsOut(enrollments=[enrollment_out(e) for e in page.items], next_cursor=page.next_cursor,
                                  changes_cursor=page.changes_cursor))


# ---------------------------------------------------------------- schools' changes (GET .../schools)


class SchoolChangeOut(ResponseModel):
    school_id: str
    name: str
    identifier: str | None
    sis_sourced_id: str | None
    status: str
    updated_at: datetime | None = None


class SchoolChangesOut(ResponseModel):
    """GET .../schools on a change read (?updatedSince= or a change cursor)."""

    schools: list[SchoolChangeOut]
    next_cursor: str | None
    changes_cursor: str | None


SCHOOL_CHANGE_QUERY = (QueryParameter("status", "On a change read: active | inactive | all (default)",
                                      enum=queries.STATUSES), _LIMIT, _CURSOR, _SINCE)


def is_change_read(event: dict) -> bool:
    return _change_read(event)[0]


def school_changes(event: dict, district_id: str):
    """GET /districts/{id}/schools?updatedSince=...: the schools written since, in change order."""
    _, since = _change_read(event)
    status = _choice(event, "status", queries.STATUSES, "all")
    limit, cursor = _limit(event), _cursor(event)
    page = _paged(lambda: queries.change_page(district_id, queries.school_changes(status), since, limit, cursor))
    schools = [SchoolChangeOut(school_id=s.school_id, name=s.name, identifier=s.identifier,
                               sis_sourced_id=s.sis_sourced_id, status=s.status, updated_at=s.updated_at)
               for s in page.items]
    return respond(SchoolChangesOut(schools=schools, next_cursor=page.next_cursor, changes_cursor=page.changes_cursor))
