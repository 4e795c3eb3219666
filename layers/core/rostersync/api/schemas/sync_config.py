"""Bodies of setup step 4: the sync options the SIS offers and the saved sync configuration."""

from __future__ import annotations

from pydantic import Field

from rostersync.api.schemas.base import CalendarDate, RequestModel, ResponseModel, Selection

# ---------------------------------------------------------------- step 4: sync options and configuration


class SyncOptionSchoolResponse(ResponseModel):
    sis_sourced_id: str
    name: str


class ClassTermsResponse(ResponseModel):
    current: int = Field(
        description="Active SIS classes in a current or future term (or with no dated term): these sync"
    )
    ended: int = Field(description="Active SIS classes whose every term is over: no sync brings them")
    last_ended: str | None = Field(description="The latest end date (YYYY-MM-DD) of those classes' terms")
    message: str | None = Field(description="Set when most or all classes are over: what it means, in words")


def class_terms_response(stored) -> ClassTermsResponse | None:
    if stored is None:
        return None
    from rostersync.sync.notices import class_terms_message

    data = stored.as_dict() if hasattr(stored, "as_dict") else dict(stored)
    current, ended, last = int(data.get("current", 0)), int(data.get("ended", 0)), data.get("lastEnded")
    return ClassTermsResponse(
        current=current, ended=ended, last_ended=last, message=class_terms_message(current, ended, last)
    )


class SyncOptionsResponse(ResponseModel):
    schools: list[SyncOptionSchoolResponse]
    grades: list[str]
    subjects: list[str]
    class_terms: ClassTermsResponse | None = Field(
        default=None,
        description="How many of the SIS's active classes are in a current or future term and how many are over "
        "(the sync leaves those out); null where the SIS lists no academic sessions or before the options are read "
        "again (?refresh=true)",
    )
    refreshed_at: str = Field(description="When these were read from the SIS (UTC, ISO 8601)")
    stale: bool = Field(
        default=False,
        description="true when ?refresh=true could not read the whole SIS within the request's time (about 25 s): "
        "these are the cached options of refreshedAt. Each full sync refreshes them too.",
    )


class DeactivationGuardRequest(RequestModel):
    """Stop a sync as needs_review when it would deactivate more than max_share AND more than
    min_records of a district's active users or classes of one type."""

    max_share: float = Field(gt=0, le=1)
    min_records: int = Field(ge=0, le=1_000_000)


class DeactivationGuardResponse(ResponseModel):
    max_share: float
    min_records: int


class SyncConfigRequest(RequestModel):
    schools: Selection = Field(default=None, description="SIS school sourcedIds; null for all")
    grades: Selection = Field(default=None, description="Grades as the SIS writes them; null for all")
    subjects: Selection = Field(default=None, description="Subjects as the SIS writes them; null for all")
    start_date: CalendarDate = Field(
        description="YYYY-MM-DD, today or later in the district's time zone", json_schema_extra={"format": "date"}
    )
    enabled: bool = True
    full_sync_every_days: int | None = Field(default=None, ge=1, le=90)
    deactivation_guard: DeactivationGuardRequest | None = None


class SyncConfigResponse(ResponseModel):
    schools: list[str] | None
    grades: list[str] | None
    subjects: list[str] | None
    start_date: str
    enabled: bool
    full_sync_every_days: int
    deactivation_guard: DeactivationGuardResponse
    next_sync_at: str | None = Field(
        description="When the next nightly sync is due (UTC, ISO 8601); null when disabled"
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Things to know about this configuration: a sync "
        "queued, running or held for review keeps the configuration it started with, and "
        "this one applies from the next run",
    )
