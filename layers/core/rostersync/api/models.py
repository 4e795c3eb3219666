"""Request and response bodies of the setup API, as pydantic models.

JSON is camelCase both ways (alias generator); Python code uses snake_case names.
Requests are strict: unknown fields, wrong JSON types ("true" for true, 1 for "1") and
snake_case spellings are refused with 422, so a front-end typo never passes silently.
Validators that stand for a precise API error raise PydanticCustomError with that code
(see rostersync.api.validation.DOMAIN_CODES).
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from importlib.resources import files
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, StringConstraints
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from rostersync.sync.schedule import zone


class RequestModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=False, extra="forbid", strict=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# ---------------------------------------------------------------- field types

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _printable(text: str) -> str:
    if _CONTROL_CHARACTERS.search(text):
        raise PydanticCustomError("control_characters", "must not contain control characters")
    return text


def _text(max_length: int):
    """Trimmed, non-empty, printable text of at most `max_length` characters."""
    return Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length), AfterValidator(_printable)
    ]


Name = _text(200)
Identifier = _text(100)
Id = _text(255)
FilterValue = _text(200)


@lru_cache(maxsize=1)
def _iana_zones() -> frozenset[str]:
    """The IANA zone names, from the tzdata package (a requirement of the layer). Not the
    system's zone directory: ZoneInfo there also opens "localtime" and other stray files."""
    names = set(files("tzdata").joinpath("zones").read_text(encoding="utf-8").split())
    names.discard("Factory")  # a placeholder zone, not a place
    return frozenset(names)


def _iana_timezone(name: str) -> str:
    try:
        if name not in _iana_zones():
            raise ValueError(name)
        zone(name)
    except ValueError:
        raise PydanticCustomError(
            "invalid_timezone", "is not an IANA time zone name; use one such as America/Chicago"
        ) from None
    return name


TimezoneName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64), AfterValidator(_iana_timezone)]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _calendar_date(text: str) -> date:
    try:
        if not _ISO_DATE.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError("invalid_date", "must be a calendar date written YYYY-MM-DD") from None


CalendarDate = Annotated[str, AfterValidator(_calendar_date)]


def _distinct(values: list[str] | None) -> list[str] | None:
    """Duplicates dropped, first spelling and order kept."""
    if values is None:
        return None
    return list(dict.fromkeys(values))


def _one_or_more(values: list[str] | None) -> list[str] | None:
    if values is not None and not values:
        raise PydanticCustomError("empty_selection", "must list at least one value, or be null to select all")
    return values


Selection = Annotated[
    list[FilterValue] | None,
    Field(default=None, max_length=1000),
    AfterValidator(_one_or_more),
    AfterValidator(_distinct),
]


# ---------------------------------------------------------------- errors


class ErrorDetail(ResponseModel):
    code: str = Field(description="snake_case error code")
    message: str = Field(description="What went wrong and what to do about it")


class ErrorResponse(ResponseModel):
    error: ErrorDetail


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


# ---------------------------------------------------------------- step 2: SIS connection

AuthMethod = Literal["auto", "oauth1", "oauth2"]


class SisConnectionRequest(RequestModel):
    host_url: _text(2048) = Field(
        description="The SIS host, without /ims/oneroster/v1p1 (stripped with a warning if given)"
    )
    client_id: _text(512)
    # SecretStr: the value never shows in a repr, a traceback's locals or a validation error.
    # At least 8 characters: shorter values cannot be redacted from logs without wrecking them.
    client_secret: SecretStr = Field(min_length=8, max_length=4096)
    auth_method: AuthMethod = "auto"
    token_url: _text(2048) | None = Field(
        default=None, description="OAuth 2 token URL; found on the host when not given"
    )
    scope: _text(1024) | None = Field(
        default=None, description="OAuth 2 scopes; the OneRoster 1.1 read scopes when not given"
    )


HealthValue = Literal["ok", "credentials_rejected", "access_denied", "not_oneroster", "invalid_host", "unreachable",
                      "sis_error"]


class ConnectionHealthOut(ResponseModel):
    status: HealthValue | None = Field(
        description="What the last sync attempt or connection test found; null until the connection is first used"
    )
    last_checked_at: str | None = Field(description="When it was last used (UTC, ISO 8601)")
    last_ok_at: str | None = Field(description="When it last worked (UTC, ISO 8601)")
    last_error: str | None = Field(description="What went wrong, in words (never a secret); null when ok")
    what_to_do: str = Field(description="What the district admin should do about it")


class SisConnectionResponse(ResponseModel):
    host_url: str
    client_id: str
    auth_method: Literal["oauth1", "oauth2"] = Field(description="The method the SIS accepted")
    requested_auth_method: AuthMethod
    token_url: str | None
    scope: str | None
    status: Literal["connected"]
    warnings: list[str]
    connected_at: str = Field(description="When the connection was last tested and saved (UTC, ISO 8601)")
    health: ConnectionHealthOut | None = Field(default=None, description="How the connection fared when last used")


# ---------------------------------------------------------------- the district overview

MAX_CONTACTS = 20


def _email(address: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        raise PydanticCustomError("invalid_email", "must be an email address such as it-office@district.org") from None


EmailAddress = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254),
                         AfterValidator(_email)]


class UpdateDistrictRequest(RequestModel):
    name: Name | None = None
    timezone: TimezoneName | None = Field(default=None, description="IANA time zone: the district's nights are in it")
    contacts: Annotated[list[EmailAddress], AfterValidator(_distinct)] | None = Field(
        default=None, max_length=MAX_CONTACTS,
        description="Who hears of a failed night, a held sync or an unhealthy connection; the whole list "
        "(replaces the previous one; [] for nobody)")


class SetupStepOut(ResponseModel):
    step: Literal["connection", "school_matching", "sync_config", "first_sync"]
    done: bool
    detail: str


class RunSummaryOut(ResponseModel):
    run_id: str
    trigger: str
    mode: str
    status: str
    queued_at: str
    started_at: str | None
    finished_at: str | None
    counts: dict[str, dict[str, int]] = Field(description="{type: {created, updated, unchanged, deactivated, skipped}}")
    failure: str | None = None
    held_deactivations: dict[str, int] | None = None


class ConnectionOverviewOut(ResponseModel):
    host_url: str
    auth_method: str
    connected_at: str
    health: ConnectionHealthOut


class DistrictOverviewResponse(ResponseModel):
    district_id: str
    name: str
    timezone: str
    contacts: list[str]
    setup: list[SetupStepOut] = Field(description="The setup steps in order and whether each is done")
    connection: ConnectionOverviewOut | None = Field(description="null until step 2 is done")
    sync_enabled: bool
    next_sync_at: str | None = Field(description="When the next nightly sync is due (UTC, ISO 8601)")
    last_run: RunSummaryOut | None = Field(description="The district's latest sync, whatever its status")
    held_run: RunSummaryOut | None = Field(description="A sync waiting for approval (needs_review), if any")


# ---------------------------------------------------------------- step 3: school matching


class SisSchool(ResponseModel):
    sis_sourced_id: str
    name: str
    identifier: str | None
    matched_school_id: str | None = Field(description="The app school this SIS school is matched to")
    suggested_school_id: str | None = Field(description="An unmatched app school that looks like this one")


class SisSchoolsResponse(ResponseModel):
    schools: list[SisSchool]


class SchoolMatch(RequestModel):
    sis_sourced_id: Id
    school_id: Id


class SchoolMatchesRequest(RequestModel):
    matches: list[SchoolMatch] = Field(max_length=5000, description="The whole set of matches: it replaces the previous one")


class SchoolMatchOut(ResponseModel):
    sis_sourced_id: str
    school_id: str


class SchoolMatchesResponse(ResponseModel):
    matches: list[SchoolMatchOut]


# ---------------------------------------------------------------- step 4: sync options and configuration


class SyncOptionSchoolOut(ResponseModel):
    sis_sourced_id: str
    name: str


class SyncOptionsResponse(ResponseModel):
    schools: list[SyncOptionSchoolOut]
    grades: list[str]
    subjects: list[str]
    refreshed_at: str = Field(description="When these were read from the SIS (UTC, ISO 8601)")
    stale: bool = Field(
        default=False,
        description="true when ?refresh=true could not read the whole SIS within the request's time (about 25 s): "
        "these are the cached options of refreshedAt. Each full sync refreshes them too.",
    )


class DeactivationGuard(RequestModel):
    """Stop a sync as needs_review when it would deactivate more than max_share AND more than
    min_records of a district's active users or classes of one type."""

    max_share: float = Field(gt=0, le=1)
    min_records: int = Field(ge=0, le=1_000_000)


class DeactivationGuardOut(ResponseModel):
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
    deactivation_guard: DeactivationGuard | None = None


class SyncConfigResponse(ResponseModel):
    schools: list[str] | None
    grades: list[str] | None
    subjects: list[str] | None
    start_date: str
    enabled: bool
    full_sync_every_days: int
    deactivation_guard: DeactivationGuardOut
    next_sync_at: str | None = Field(description="When the next nightly sync is due (UTC, ISO 8601); null when disabled")
    warnings: list[str] = Field(default_factory=list, description="Things to know about this configuration: a sync "
                                "queued, running or held for review keeps the configuration it started with, and "
                                "this one applies from the next run")
