"""Bodies of the review, preview and audit routes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from rostersync.api.schemas.base import RequestModel, ResponseModel
from rostersync.api.schemas.sync_config import ClassTermsResponse
from rostersync.api.schemas.sync_runs import NoticeResponse

MAX_CHOSEN = 1000  # records one partial approval may name


class ReviewResponse(ResponseModel):
    decision: Literal["approved", "approved_in_part", "rejected"]
    by: str
    role: str
    at: str
    records: int | None = Field(default=None, description="approved_in_part: how many records were approved")


class HeldRecordResponse(ResponseModel):
    record_id: str = Field(description="What POST approve's recordIds name")
    type: Literal["schools", "teachers", "students", "classes", "enrollments"]
    name: str | None = Field(description="A person's name, a class's title, a school's name; an enrollment's person")
    role: str | None = None
    sis_sourced_id: str | None = None
    school_ids: list[str] | None = None
    class_id: str | None = None
    class_title: str | None = None
    user_id: str | None = None
    reason: Literal[
        "gone_from_sis",
        "disabled",
        "out_of_selection",
        "no_class_in_selection",
        "class_leaving",
        "user_leaving",
        "rekeyed",
        "term_ended",
    ] = Field(
        description="gone_from_sis: the SIS no longer lists it; disabled: the SIS lists the user inactive or "
        "tobedeleted, or no longer as teacher or student; out_of_selection: inactive or tobedeleted in the SIS, or "
        "outside the selected schools, grades and subjects; no_class_in_selection: no active enrollment in a class "
        "that is synced; class_leaving / user_leaving: an enrollment whose class or person goes; rekeyed: a school "
        "the sync created, replaced by a match to an app school; term_ended: a class every term of which is over "
        "(the school year's end)"
    )
    decision: Literal["pending", "approved", "kept"] = Field(
        description="pending until the run is decided; kept: left active (not chosen, or the run was rejected)"
    )


class HeldRecordsResponse(ResponseModel):
    run_id: str
    status: str
    held: dict[str, int] = Field(description="Held deactivations per type")
    review: ReviewResponse | None
    records: list[HeldRecordResponse]
    next_cursor: str | None


class ApproveRequest(RequestModel):
    record_ids: list[Annotated[str, Field(min_length=3, max_length=200)]] | None = Field(
        default=None,
        max_length=MAX_CHOSEN,
        description="Approve only these held records (recordId from GET held); the rest stay active and are "
        "re-evaluated by the next sync. Absent: approve everything held.",
    )


class PreviewCountsResponse(ResponseModel):
    created: int
    updated: int
    kept: int = Field(description="Unchanged records that stay as they are")
    deactivated: int


class PreviewResponse(ResponseModel):
    run_id: str
    status: str
    proposal: dict = Field(description="The configuration previewed (as sent)")
    counts: dict[str, PreviewCountsResponse] | None = Field(
        description="Per record type; null until the preview succeeded"
    )
    would_need_review: dict[str, int] | None = Field(
        description="The deactivations per type a sync of this configuration would hold for review; null when "
        "it would not stop"
    )
    failure: str | None = None
    class_terms: ClassTermsResponse | None = Field(
        default=None,
        description="Of the SIS's classes this configuration selects: how many are in a current or future term "
        "(they sync) and how many are over (left out); null until the preview succeeded",
    )
    notices: list[NoticeResponse] = Field(default_factory=list, description="The preview run's notices")


class PreviewRecordResponse(ResponseModel):
    record_id: str
    type: str
    change: Literal["created", "updated", "unchanged", "deactivated"]
    name: str | None
    role: str | None = None
    sis_sourced_id: str | None = None
    school_ids: list[str] | None = None
    class_id: str | None = None
    class_title: str | None = None


class PreviewRecordsResponse(ResponseModel):
    records: list[PreviewRecordResponse]
    next_cursor: str | None


class StartedResponse(ResponseModel):
    run_id: str


class ActorResponse(ResponseModel):
    sub: str | None
    role: str | None


class AuditEntryResponse(ResponseModel):
    entry_id: str
    at: str
    action: str = Field(
        description="connection.update, connection.delete, school_matches.update, "
        "sync_config.update, sync.start, sync.preview, sync.approve, sync.reject, purge.request, "
        "purge.confirm, ..."
    )
    by: ActorResponse
    target: str | None
    before: object | None
    after: object | None


class AuditResponse(ResponseModel):
    entries: list[AuditEntryResponse]
    next_cursor: str | None


def review_response(run) -> ReviewResponse | None:
    return ReviewResponse(**run.review) if run.review else None
