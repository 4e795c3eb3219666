"""Bodies of the roster reads (users, classes, enrollments, rosters, school changes), and stored
roster items as the API shows them."""

from __future__ import annotations

from datetime import datetime

from rostersync.api.schemas.base import ResponseModel
from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel


class UserResponse(ResponseModel):
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
    origin: str = "sis"  # app: registered by the app (issue 13); linked to the SIS when sisSourcedId is set


class UsersResponse(ResponseModel):
    users: list[UserResponse]
    next_cursor: str | None
    changes_cursor: str | None = None


class ClassResponse(ResponseModel):
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


class ClassesResponse(ResponseModel):
    classes: list[ClassResponse]
    next_cursor: str | None
    changes_cursor: str | None = None


class EnrollmentResponse(ResponseModel):
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


class EnrollmentsResponse(ResponseModel):
    enrollments: list[EnrollmentResponse]
    next_cursor: str | None
    changes_cursor: str | None = None


class RosterResponse(ResponseModel):
    teachers: list[UserResponse]
    students: list[UserResponse]


def user_response(user: UserModel) -> UserResponse:
    return UserResponse(
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


def class_response(item: ClassModel) -> ClassResponse:
    return ClassResponse(
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


def enrollment_response(item: EnrollmentModel) -> EnrollmentResponse:
    return EnrollmentResponse(
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


class SchoolChangeResponse(ResponseModel):
    school_id: str
    name: str
    identifier: str | None
    sis_sourced_id: str | None
    status: str
    updated_at: datetime | None = None


class SchoolChangesResponse(ResponseModel):
    """GET .../schools on a change read (?updatedSince= or a change cursor)."""

    schools: list[SchoolChangeResponse]
    next_cursor: str | None
    changes_cursor: str | None
