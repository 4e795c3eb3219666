"""A signed-in teacher's own classes and their rosters: /me/classes, /me/classes/{classId}/roster.

The teacher's Cognito account is linked to a synced teacher of their district
(`custom:district_id`) by an explicit link, `custom:sis_sourced_id` (the teacher's SIS
sourcedId, set by support), or else by their verified email matching the synced teacher's
(the ByEmail index, lowercased). An unverified email links nothing: users may change their
own email. A teacher reaches nothing else (api/access.py); a class they do not teach is 404.
"""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from rostersync.api.access import Principal, principal_from_event
from rostersync.api.errors import ApiError, forbidden, not_found
from rostersync.api.http_io import respond
from rostersync.api.list_queries import CURSOR, LIMIT, SINCE, change_read, cursor_of, limit_of, paged
from rostersync.api.route_docs import documented
from rostersync.api.schemas.rosters import ClassesResponse, RosterResponse, class_response, user_response
from rostersync.ids import record_id
from rostersync.store import joined_changes
from rostersync.store import roster_queries as queries
from rostersync.store.roster import ACTIVE, EnrollmentModel, UserModel, index_key

router = APIGatewayHttpRouter()

TAG = "Teachers"


def _not_linked() -> ApiError:
    return ApiError(
        HTTPStatus.FORBIDDEN,
        "not_linked",
        "Your account is not linked to a teacher of your district's rosters: ask support to link it, "
        "or sign in with the email address your school's SIS has for you.",
    )


def linked_teacher(principal: Principal) -> UserModel:
    """The active synced teacher this teacher's account is linked to (403 not_linked otherwise)."""
    if principal.role != "teacher":
        raise forbidden("Only a teacher has classes of their own here.")
    district_id = principal.district_id
    if not district_id:
        raise _not_linked()
    user = None
    if principal.sis_sourced_id:
        user = queries.get_user(district_id, record_id(district_id, "user", principal.sis_sourced_id))
    elif principal.email:
        matches = list(UserModel.by_email.query(index_key(district_id, principal.email.strip().lower()), limit=2))
        if len(matches) == 1:  # two synced teachers with one email: link explicitly instead
            user = queries.get_user(district_id, matches[0].user_id)
    if user is None or user.role != "teacher" or user.status != ACTIVE:
        raise _not_linked()
    return user


@router.get(
    "/me/classes",
    **documented(
        "The classes the signed-in teacher teaches",
        operation_id="listMyClasses",
        tag=TAG,
        response=ClassesResponse,
        errors=(400, 401, 403, 422),
        query=(LIMIT, CURSOR, SINCE),
        description="Active classes with an active teacher enrollment of the teacher, a page of their "
        "enrollments at a time. With updatedSince (or a change cursor): the changes of the "
        "teacher's teaching enrollments in change order, every status, each class with "
        "`membership` (GET /districts/{districtId}/users/{userId}/classes has the details). "
        "403 not_linked when the account is not linked to a synced teacher.",
    ),
)
def my_classes():
    event = router.current_event.raw_event
    teacher = linked_teacher(principal_from_event(event))
    limit, cursor = limit_of(event), cursor_of(event)
    changes, since = change_read(event)
    if changes:
        page = paged(
            lambda: joined_changes.class_changes_of_user(
                teacher.district_id, teacher.user_id, "teacher", "all", since, limit, cursor
            )
        )
        return respond(
            ClassesResponse(
                classes=[class_response(j.record, j.enrollment) for j in page.items],
                next_cursor=page.next_cursor,
                changes_cursor=page.changes_cursor,
            )
        )
    page = paged(
        lambda: queries.classes_of_user(
            teacher.district_id, teacher.user_id, role="teacher", limit=limit, cursor=cursor
        )
    )
    return respond(ClassesResponse(classes=[class_response(c) for c in page.items], next_cursor=page.next_cursor))


@router.get(
    "/me/classes/<class_id>/roster",
    **documented(
        "The roster of a class the signed-in teacher teaches",
        operation_id="getMyClassRoster",
        tag=TAG,
        response=RosterResponse,
        errors=(401, 403, 404),
        description="Active enrollments of active users. 404 for a class the teacher does not teach (actively).",
    ),
)
def my_class_roster(class_id: str):
    teacher = linked_teacher(principal_from_event(router.current_event.raw_event))
    district_id = teacher.district_id
    teaches = EnrollmentModel.by_user.query(
        index_key(district_id, teacher.user_id),
        filter_condition=(EnrollmentModel.class_id == class_id)
        & (EnrollmentModel.role == "teacher")
        & (EnrollmentModel.status == ACTIVE),
    )
    item = queries.get_class(district_id, class_id) if len(class_id) <= 255 and any(True for _ in teaches) else None
    if item is None or item.status != ACTIVE:
        raise not_found("class")
    teachers, students = queries.class_roster(district_id, class_id, "active")
    return respond(
        RosterResponse(teachers=[user_response(u) for u in teachers], students=[user_response(u) for u in students])
    )
