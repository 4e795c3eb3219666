"""The bodies of the app-record and matching routes (api/app_records.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from rostersync.api.schemas.base import Id, Identifier, Name, RequestModel, ResponseModel

MAX_BULK = 2000
Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254)]


class AppUserRequest(RequestModel):
    user_id: Id | None = Field(
        default=None,
        description="The app's own id for this user (kept for ever; "
        "a new one is made when absent). Registering the same id again updates it.",
    )
    role: Literal["teacher", "student"]
    given_name: Name | None = None
    family_name: Name | None = None
    email: Email | None = None
    username: Identifier | None = None
    identifier: Identifier | None = Field(default=None, description="A state or district identifier")
    school_ids: list[Id] = Field(default_factory=list, max_length=50, description="App schoolIds of the district")


class AppUsersRequest(RequestModel):
    users: list[AppUserRequest] = Field(min_length=1, max_length=MAX_BULK)


class AppClassRequest(RequestModel):
    class_id: Id | None = Field(default=None, description="The app's own id for this class (see userId)")
    title: Name
    school_id: Id
    class_code: Identifier | None = None
    teacher_id: Id | None = Field(
        default=None,
        description=(
            "The app userId of the class's teacher: an active teacher of this district (app-made or synced). "
            "With it, a sync also links an SIS class of the same title, in the same school, taught by that "
            "teacher (docs/design.md)"
        ),
    )


class AppClassesRequest(RequestModel):
    classes: list[AppClassRequest] = Field(min_length=1, max_length=MAX_BULK)


class RegisteredUserResponse(ResponseModel):
    user_id: str
    change: str = Field(description="created, updated or unchanged")


class RegisteredUsersResponse(ResponseModel):
    users: list[RegisteredUserResponse]


class RegisteredClassResponse(ResponseModel):
    class_id: str
    change: str = Field(description="created, updated or unchanged")


class RegisteredClassesResponse(ResponseModel):
    classes: list[RegisteredClassResponse]


class MatchingConflictResponse(ResponseModel):
    type: str = Field(description="user or class")
    sis_sourced_id: str
    reason: str = Field(description="two_candidates, role_mismatch, already_linked or school_mismatch")
    message: str = Field(description="What matching found, in words")
    sis_record: dict = Field(description="The SIS side: name, role, email, username, identifier (or title, code)")
    candidates: list[dict] = Field(description="The app side: every app record it could be")
    sis_item_id: str = Field(description="The id the sync created the SIS record under, separately")
    run_id: str | None = None
    found_at: str | None = None


class ConflictsResponse(ResponseModel):
    conflicts: list[MatchingConflictResponse]
    next_cursor: str | None


class ResolutionRequest(RequestModel):
    type: Literal["user", "class"]
    sis_sourced_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    action: Literal["link", "separate"]
    app_id: Id | None = Field(default=None, description="link: the app userId or classId to link it to")


class ResolutionResponse(ResponseModel):
    type: str
    sis_sourced_id: str
    action: str
    item_id: str = Field(description="The id the SIS record has from the next sync on")
    message: str


class MatchingCountsResponse(ResponseModel):
    linked: int = Field(description="SIS records linked to (or, in a preview, that would link to) an app record")
    conflicts: int = Field(description="SIS records created separately because the match was not clear")
    created: int = Field(description="Records created (a preview: would be created), linked ones not included")
    rekeyed: int = Field(
        default=0, description="SIS records under a new sourcedId that kept their app id (an SIS id change)"
    )


class MatchingRecordResponse(ResponseModel):
    type: str
    result: str = Field(description="linked or conflict")
    sis_sourced_id: str
    item_id: str = Field(description="linked: the app record's id; conflict: the id the SIS record is created under")
    name: str | None = None
    criterion: str | None = Field(
        default=None,
        description=(
            "linked: identifier, email, username, code or title (a class of the same title, school and teacher)"
        ),
    )
    reason: str | None = None
    message: str | None = None
    sis_record: dict | None = None
    candidates: list[dict] | None = None


class RunMatchingResponse(ResponseModel):
    run_id: str
    mode: str
    status: str
    counts: dict[str, MatchingCountsResponse] = Field(description="teachers, students, classes, enrollments")
    records: list[MatchingRecordResponse]
    next_cursor: str | None


class AppRecordCountResponse(ResponseModel):
    registered: int = Field(description="Records the app registered (origin app), active or not")
    linked: int = Field(description="Of those, linked to an SIS record: the sync keeps them up to date")
    unlinked: int = Field(description="Of those, not linked: the app's alone; a sync never deactivates them")
    inactive: int = Field(description="Registered records that are inactive")
    from_sis: int = Field(description="Records the SIS sync created (origin sis), for comparison")


class AppRecordCountsResponse(ResponseModel):
    teachers: AppRecordCountResponse
    students: AppRecordCountResponse
    classes: AppRecordCountResponse
