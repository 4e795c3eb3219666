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
district (api/access.py).
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync.api.access import district_for_reader
from rostersync.api.errors import not_found, unprocessable
from rostersync.api.http_io import respond
from rostersync.api.list_queries import (
    LIST_ERRORS,
    PAGING,
    SCHOOL,
    SINCE,
    STATUS,
    change_read,
    choice,
    cursor_of,
    limit_of,
    paged,
    path_id,
    query_id,
    school_id_of,
)
from rostersync.api.route_docs import QueryParameter, documented
from rostersync.api.schemas.rosters import (
    ClassesResponse,
    ClassResponse,
    EnrollmentsResponse,
    RosterResponse,
    UserResponse,
    UsersResponse,
    class_response,
    enrollment_response,
    user_response,
)
from rostersync.store import joined_changes
from rostersync.store import roster_queries as queries

router = APIGatewayHttpRouter()

TAG = "Rosters"
# Roster search (issue 26): GET .../users?role=&q= and ?sort=name (store/roster_queries.py search_users).
SEARCH = QueryParameter(
    "q", "A family name's start, or an exact email, username or SIS id (needs role; not with updatedSince)"
)
SORT = QueryParameter("sort", "name: by family then given name (needs role; implied by q)", enum=("name",))
# Joined lists on a change read (store/joined_changes.py).
JOINED_CHANGES = (
    "With updatedSince (or a change cursor): the changes of the enrollments that make the list, "
    "in change order, each answered as the record in its current state with `membership` (the "
    "enrollment: its status says whether it still joins); status then applies to the enrollment "
    "(default all). A change to the record's own fields shows in the top-level list's change read."
)


def _changes_or_list(
    district_id: str, changes: bool, since: str | None, limit: int, cursor: str | None, change_query, listing
) -> queries.Page:
    """A page of a list: on a change read, what changed (change_query()) since `since` or the
    cursor; otherwise the plain list (listing()). A foreign cursor is 400 invalid_cursor."""
    if changes:
        query = change_query()
        return paged(lambda: queries.change_page(district_id, query, since, limit, cursor))
    return paged(listing)


def _one(item, what: str, view):
    """One stored item as its view; 404 for none."""
    if item is None:
        raise not_found(what)
    return respond(view(item))


# ---------------------------------------------------------------- routes


@router.get(
    "/districts/<district_id>/users",
    **documented(
        "Teachers and students",
        operation_id="listUsers",
        tag=TAG,
        response=UsersResponse,
        errors=LIST_ERRORS,
        query=(
            QueryParameter("role", "teacher | student (both without it)", enum=queries.ROLES),
            SCHOOL,
            *PAGING,
            SINCE,
            SEARCH,
            SORT,
        ),
        description="By userId; with updatedSince (or a change cursor), in change order. With q (a role "
        'needed): the role\'s users whose family name starts with q ("smi", "smith, jo"), sorted by family then '
        "given name, the first page led by any whose email, username or SIS id is exactly q; every read is an "
        "index query, never a scan. sort=name: the same order without q.",
    ),
)
def list_users(district_id: str):
    event = router.current_event.raw_event
    district_for_reader(event, district_id)
    changes, since = change_read(event)
    role = choice(event, "role", queries.ROLES, None)
    status = choice(event, "status", queries.STATUSES, "all" if changes else "active")
    limit, school_id, cursor = limit_of(event), school_id_of(event), cursor_of(event)
    search, by_name = query_id(event, "q"), choice(event, "sort", ("name",), None) == "name"
    if search is not None or by_name:
        if changes:
            raise unprocessable("invalid_request", "q and sort cannot be used with updatedSince.")
        if role is None:
            raise unprocessable("invalid_request", "q and sort need a role: teacher or student.")
        page = paged(
            lambda: queries.search_users(
                district_id, role, search, school_id=school_id, status=status, limit=limit, cursor=cursor
            )
        )
        return respond(UsersResponse(users=[user_response(u) for u in page.items], next_cursor=page.next_cursor))
    page = _changes_or_list(
        district_id,
        changes,
        since,
        limit,
        cursor,
        lambda: queries.user_changes(role, school_id, status),
        lambda: queries.list_users(
            district_id, role=role, school_id=school_id, status=status, limit=limit, cursor=cursor
        ),
    )
    return respond(
        UsersResponse(
            users=[user_response(u) for u in page.items],
            next_cursor=page.next_cursor,
            changes_cursor=page.changes_cursor,
        )
    )


@router.get(
    "/districts/<district_id>/users/<user_id>",
    **documented(
        "One teacher or student",
        operation_id="getUser",
        tag=TAG,
        response=UserResponse,
        description="Any status. 404 for an unknown user.",
    ),
)
def get_user(district_id: str, user_id: str):
    district_for_reader(router.current_event.raw_event, district_id)
    return _one(queries.get_user(district_id, path_id(user_id, "user")), "user", user_response)


@router.get(
    "/districts/<district_id>/users/<user_id>/classes",
    **documented(
        "The classes a teacher or student is enrolled in",
        operation_id="listUserClasses",
        tag=TAG,
        response=ClassesResponse,
        errors=LIST_ERRORS,
        query=(QueryParameter("role", "Only enrollments with this role", enum=queries.ROLES), *PAGING, SINCE),
        description="A page of the user's enrollments at a time (a page may hold fewer than limit classes); "
        "status applies to the enrollment and the class. " + JOINED_CHANGES + " 404 for an unknown user.",
    ),
)
def list_user_classes(district_id: str, user_id: str):
    event = router.current_event.raw_event
    district_for_reader(event, district_id)
    changes, since = change_read(event)
    role = choice(event, "role", queries.ROLES, None)
    status = choice(event, "status", queries.STATUSES, "all" if changes else "active")
    limit, cursor = limit_of(event), cursor_of(event)
    if queries.get_user(district_id, path_id(user_id, "user")) is None:
        raise not_found("user")
    if changes:
        page = paged(
            lambda: joined_changes.class_changes_of_user(district_id, user_id, role, status, since, limit, cursor)
        )
        return respond(
            ClassesResponse(
                classes=[class_response(j.record, j.enrollment) for j in page.items],
                next_cursor=page.next_cursor,
                changes_cursor=page.changes_cursor,
            )
        )
    page = paged(
        lambda: queries.classes_of_user(district_id, user_id, role=role, status=status, limit=limit, cursor=cursor)
    )
    return respond(ClassesResponse(classes=[class_response(c) for c in page.items], next_cursor=page.next_cursor))


@router.get(
    "/districts/<district_id>/classes",
    **documented(
        "Classes",
        operation_id="listClasses",
        tag=TAG,
        response=ClassesResponse,
        errors=LIST_ERRORS,
        query=(
            SCHOOL,
            QueryParameter("teacherId", "Only the classes this teacher (a userId) teaches"),
            QueryParameter("termId", "Only the classes of this academic session (a termId: GET .../terms)"),
            *PAGING,
            SINCE,
        ),
        description="By classId; with updatedSince (or a change cursor), in change order. teacherId "
        "cannot be combined with schoolId, termId or updatedSince (422). With termId a page "
        "may hold fewer than limit classes; follow nextCursor.",
    ),
)
def list_classes(district_id: str):
    event = router.current_event.raw_event
    district_for_reader(event, district_id)
    changes, since = change_read(event)
    status = choice(event, "status", queries.STATUSES, "all" if changes else "active")
    limit, school_id, cursor, teacher_id = (
        limit_of(event),
        school_id_of(event),
        cursor_of(event),
        query_id(event, "teacherId"),
    )
    term_id = query_id(event, "termId")
    if teacher_id is not None:
        if changes or school_id is not None or term_id is not None:
            raise unprocessable(
                "invalid_request", "teacherId cannot be combined with schoolId, termId or updatedSince."
            )
        page = paged(
            lambda: queries.classes_of_user(
                district_id, teacher_id, role="teacher", status=status, limit=limit, cursor=cursor
            )
        )
    else:
        page = _changes_or_list(
            district_id,
            changes,
            since,
            limit,
            cursor,
            lambda: queries.class_changes(school_id, status, term_id=term_id),
            lambda: queries.list_classes(
                district_id, school_id=school_id, status=status, limit=limit, cursor=cursor, term_id=term_id
            ),
        )
    return respond(
        ClassesResponse(
            classes=[class_response(c) for c in page.items],
            next_cursor=page.next_cursor,
            changes_cursor=page.changes_cursor,
        )
    )


@router.get(
    "/districts/<district_id>/classes/<class_id>",
    **documented(
        "One class",
        operation_id="getClass",
        tag=TAG,
        response=ClassResponse,
        description="Any status. 404 for an unknown class.",
    ),
)
def get_class(district_id: str, class_id: str):
    district_for_reader(router.current_event.raw_event, district_id)
    return _one(queries.get_class(district_id, path_id(class_id, "class")), "class", class_response)


@router.get(
    "/districts/<district_id>/classes/<class_id>/roster",
    **documented(
        "A class's teachers and students",
        operation_id="getClassRoster",
        tag=TAG,
        response=RosterResponse,
        errors=(401, 403, 404, 422),
        query=(STATUS,),
        description="Active enrollments of active users unless ?status=inactive|all, unpaged (a class's "
        "roster is tens of people; the paged /teachers and /students read any size). "
        "404 for an unknown class.",
    ),
)
def class_roster(district_id: str, class_id: str):
    event = router.current_event.raw_event
    district_for_reader(event, district_id)
    status = choice(event, "status", queries.STATUSES, "active")
    if queries.get_class(district_id, path_id(class_id, "class")) is None:
        raise not_found("class")
    teachers, students = queries.class_roster(district_id, class_id, status)
    return respond(
        RosterResponse(teachers=[user_response(u) for u in teachers], students=[user_response(u) for u in students])
    )


def _members(district_id: str, class_id: str, role: str):
    event = router.current_event.raw_event
    district_for_reader(event, district_id)
    changes, since = change_read(event)
    status = choice(event, "status", queries.STATUSES, "all" if changes else "active")
    limit, cursor = limit_of(event), cursor_of(event)
    if queries.get_class(district_id, path_id(class_id, "class")) is None:
        raise not_found("class")
    if changes:
        page = paged(lambda: joined_changes.member_changes(district_id, class_id, role, status, since, limit, cursor))
        return respond(
            UsersResponse(
                users=[user_response(j.record, j.enrollment) for j in page.items],
                next_cursor=page.next_cursor,
                changes_cursor=page.changes_cursor,
            )
        )
    page = paged(lambda: queries.class_members(district_id, class_id, role, status=status, limit=limit, cursor=cursor))
    return respond(UsersResponse(users=[user_response(u) for u in page.items], next_cursor=page.next_cursor))


_MEMBERS = (
    "A page of the class's enrollments at a time, by enrollmentId (a page may hold fewer than limit "
    "users); status applies to the enrollment and the user. " + JOINED_CHANGES + " 404 for an unknown class."
)


@router.get(
    "/districts/<district_id>/classes/<class_id>/teachers",
    **documented(
        "A class's teachers, paged",
        operation_id="listClassTeachers",
        tag=TAG,
        response=UsersResponse,
        errors=LIST_ERRORS,
        query=(*PAGING, SINCE),
        description=_MEMBERS,
    ),
)
def class_teachers(district_id: str, class_id: str):
    return _members(district_id, class_id, "teacher")


@router.get(
    "/districts/<district_id>/classes/<class_id>/students",
    **documented(
        "A class's students, paged",
        operation_id="listClassStudents",
        tag=TAG,
        response=UsersResponse,
        errors=LIST_ERRORS,
        query=(*PAGING, SINCE),
        description=_MEMBERS,
    ),
)
def class_students(district_id: str, class_id: str):
    return _members(district_id, class_id, "student")


@router.get(
    "/districts/<district_id>/enrollments",
    **documented(
        "Enrollments",
        operation_id="listEnrollments",
        tag=TAG,
        response=EnrollmentsResponse,
        errors=LIST_ERRORS,
        query=(
            QueryParameter("classId", "Only this class's enrollments"),
            QueryParameter("userId", "Only this user's enrollments"),
            QueryParameter("role", "teacher | student", enum=queries.ROLES),
            *PAGING,
            SINCE,
        ),
        description="By enrollmentId; with updatedSince (or a change cursor), in change order. "
        "beginDate and endDate are the SIS's (YYYY-MM-DD or null).",
    ),
)
def list_enrollments(district_id: str):
    event = router.current_event.raw_event
    district_for_reader(event, district_id)
    changes, since = change_read(event)
    role = choice(event, "role", queries.ROLES, None)
    status = choice(event, "status", queries.STATUSES, "all" if changes else "active")
    limit, cursor, class_id, user_id = (
        limit_of(event),
        cursor_of(event),
        query_id(event, "classId"),
        query_id(event, "userId"),
    )
    page = _changes_or_list(
        district_id,
        changes,
        since,
        limit,
        cursor,
        lambda: queries.enrollment_changes(class_id, user_id, role, status),
        lambda: queries.list_enrollments(
            district_id, class_id=class_id, user_id=user_id, role=role, status=status, limit=limit, cursor=cursor
        ),
    )
    return respond(
        EnrollmentsResponse(
            enrollments=[enrollment_response(e) for e in page.items],
            next_cursor=page.next_cursor,
            changes_cursor=page.changes_cursor,
        )
    )
