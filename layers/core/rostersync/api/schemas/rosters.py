"""Bodies of the roster reads (users, classes, enrollments, rosters, school changes), and stored
roster items as the API shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_serializer

from rostersync.api.schemas.base import ResponseModel
from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel


class MembershipResponse(ResponseModel):
    """On a joined list's change read: the enrollment that joins the record to the list."""

    enrollment_id: str
    role: str
    status: str  # inactive: the person left the class (or the class the person's list)
    updated_at: datetime | None = None


class _MaybeMember(ResponseModel):
    """A record that, on a joined list's change read, carries its `membership` (left out otherwise)."""

    @model_serializer(mode="wrap")
    def _without_empty_membership(self, handler):
        data = handler(self)
        if data.get("membership", False) is None:
            del data["membership"]
        return data


class UserResponse(_MaybeMember):
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
    # From a OneRoster 1.2 SIS (preferredFirstName, preferredLastName, pronouns); null from 1.1
    preferred_given_name: str | None = None
    preferred_family_name: str | None = None
    pronouns: str | None = None
    origin: str = "sis"  # app: registered by the app (issue 13); linked to the SIS when sisSourcedId is set
    membership: MembershipResponse | None = None  # a joined list's change reads only


class UsersResponse(ResponseModel):
    users: list[UserResponse]
    next_cursor: str | None
    changes_cursor: str | None = None


class ClassResponse(_MaybeMember):
    class_id: str
    sis_sourced_id: str | None
    title: str | None
    class_code: str | None
    school_id: str
    grades: list[str]
    subjects: list[str]
    term_ids: list[str] = Field(
        default=[]
    )  # pydantic copies it per instance; the class's academic sessions (GET .../terms/{termId})
    status: str
    updated_at: datetime | None = None
    origin: str = "sis"
    membership: MembershipResponse | None = None  # a joined list's change reads only


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


def membership_response(enrollment: EnrollmentModel | None) -> MembershipResponse | None:
    if enrollment is None:
        return None
    return MembershipResponse(
        enrollment_id=enrollment.enrollment_id,
        role=enrollment.role,
        status=enrollment.status,
        updated_at=enrollment.updated_at,
    )


def user_response(user: UserModel, membership: EnrollmentModel | None = None) -> UserResponse:
    return UserResponse(
        membership=membership_response(membership),
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
        preferred_given_name=user.preferred_given_name,
        preferred_family_name=user.preferred_family_name,
        pronouns=user.pronouns,
        origin=user.origin or "sis",
    )


def class_response(item: ClassModel, membership: EnrollmentModel | None = None) -> ClassResponse:
    return ClassResponse(
        membership=membership_response(membership),
        class_id=item.class_id,
        sis_sourced_id=item.sis_sourced_id,
        title=item.title,
        class_code=item.class_code,
        school_id=item.school_id,
        grades=list(item.grades or []),
        subjects=list(item.subjects or []),
        term_ids=list(item.term_ids or []),
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
