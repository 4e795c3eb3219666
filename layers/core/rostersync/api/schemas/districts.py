"""Bodies of the provisioning routes (districts, app schools) and of the district overview."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from rostersync.api.schemas.base import Identifier, Name, RequestModel, ResponseModel, TimezoneName, distinct_values
from rostersync.api.schemas.sis_connection import ConnectionHealthResponse
from rostersync.api.schemas.sync_runs import NoticeResponse, RunCountsResponse

# ---------------------------------------------------------------- provisioning


class CreateDistrictRequest(RequestModel):
    name: Name
    timezone: TimezoneName = Field(description="IANA time zone, e.g. America/Chicago: the district's nights are in it")


class DistrictResponse(ResponseModel):
    district_id: str
    name: str
    timezone: str


class DistrictsResponse(ResponseModel):
    districts: list[DistrictResponse]
    next_cursor: str | None


class CreateSchoolRequest(RequestModel):
    name: Name
    identifier: Identifier | None = Field(default=None, description="e.g. the state school code; helps matching")


class SchoolResponse(ResponseModel):
    school_id: str
    name: str
    identifier: str | None
    sis_sourced_id: str | None = Field(description="The SIS school this school is matched to (or came from)")


class SchoolsResponse(ResponseModel):
    schools: list[SchoolResponse]


# ---------------------------------------------------------------- the district overview

MAX_CONTACTS = 20


def _email(address: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        raise PydanticCustomError("invalid_email", "must be an email address such as it-office@district.org") from None


EmailAddress = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254), AfterValidator(_email)
]


class UpdateDistrictRequest(RequestModel):
    name: Name | None = None
    timezone: TimezoneName | None = Field(default=None, description="IANA time zone: the district's nights are in it")
    contacts: Annotated[list[EmailAddress], AfterValidator(distinct_values)] | None = Field(
        default=None,
        max_length=MAX_CONTACTS,
        description="Who hears of a failed night, a held sync or an unhealthy connection; the whole list "
        "(replaces the previous one; [] for nobody)",
    )


class SetupStepResponse(ResponseModel):
    step: Literal["connection", "school_matching", "sync_config", "first_sync"]
    done: bool
    detail: str


class RunSummaryResponse(ResponseModel):
    run_id: str
    trigger: str
    mode: str
    status: str
    queued_at: str
    started_at: str | None
    finished_at: str | None
    counts: RunCountsResponse = Field(
        description="{type: {created, updated, unchanged, deactivated, skipped, skippedBy}} as GET /syncs/{runId}"
    )
    failure: str | None = None
    held_deactivations: dict[str, int] | None = None
    notices: list[NoticeResponse] = Field(
        default_factory=list, description="The run's notices (not errors); warning ones are shown prominently"
    )


class ConnectionOverviewResponse(ResponseModel):
    kind: Literal["oneroster_api", "oneroster_csv"] = Field(description="A REST server, or CSV bundles")
    host_url: str | None = Field(description="null for CSV")
    auth_method: str | None = Field(description="null for CSV")
    connected_at: str
    health: ConnectionHealthResponse


class DistrictOverviewResponse(ResponseModel):
    district_id: str
    name: str
    timezone: str
    contacts: list[str]
    setup: list[SetupStepResponse] = Field(description="The setup steps in order and whether each is done")
    connection: ConnectionOverviewResponse | None = Field(description="null until step 2 is done")
    sync_enabled: bool
    next_sync_at: str | None = Field(description="When the next nightly sync is due (UTC, ISO 8601)")
    last_run: RunSummaryResponse | None = Field(description="The district's latest sync, whatever its status")
    held_run: RunSummaryResponse | None = Field(description="A sync waiting for approval (needs_review), if any")
