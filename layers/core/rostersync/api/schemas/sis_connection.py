"""Bodies of setup step 2, the SIS connection (never carrying the secret out)."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, SecretStr

from rostersync.api.schemas.base import Printable, RequestModel, ResponseModel, one_of, text_limits
from rostersync.notify import health as connection_health
from rostersync.store.districts import DEFAULT_CSV_RETENTION_DAYS, SisConnection, csv_retention_days
from rostersync.times import iso_z_or_none

# ---------------------------------------------------------------- step 2: SIS connection

AuthMethod = Literal["auto", "oauth1", "oauth2"]
Url = Annotated[str, text_limits(2048), Printable]
ClientId = Annotated[str, text_limits(512), Printable]
Scope = Annotated[str, text_limits(1024), Printable]
OneRosterVersion = Literal["1.1", "1.2"]
RequestedVersion = Literal["auto", "1.1", "1.2"]


ConnectionKind = Literal["oneroster_api", "oneroster_csv"]
CsvSchedule = Literal["on_arrival", "nightly"]


class SisConnectionRequest(RequestModel):
    kind: Literal["oneroster_api"] = Field(
        default="oneroster_api", description="A OneRoster REST server (the default; CsvConnectionRequest for CSV files)"
    )
    host_url: Url = Field(
        description="The SIS host, without /ims/oneroster/v1p1 or /ims/oneroster/rostering/v1p2 "
        "(stripped with a warning if given)"
    )
    client_id: ClientId
    # SecretStr: the value never shows in a repr, a traceback's locals or a validation error.
    # At least 8 characters: shorter values cannot be redacted from logs without wrecking them.
    client_secret: SecretStr = Field(min_length=8, max_length=4096)
    auth_method: AuthMethod = "auto"
    token_url: Url | None = Field(default=None, description="OAuth 2 token URL; found on the host when not given")
    scope: Scope | None = Field(
        default=None, description="OAuth 2 scopes; the OneRoster read scopes of the version used when not given"
    )
    version: RequestedVersion = Field(
        default="auto",
        description="The OneRoster version to read: auto finds which the host serves and uses 1.2 where both "
        "answer; 1.1 or 1.2 pins it (Advanced)",
    )


class CsvConnectionRequest(RequestModel):
    """Step 2 for a district whose SIS exports OneRoster CSV bundles: nothing to test (no host,
    client id or secret); bundles arrive by upload (POST csv-uploads) or SFTP."""

    kind: Literal["oneroster_csv"]
    csv_schedule: CsvSchedule = Field(
        default="nightly",
        description="on_arrival: each checked bundle queues a full sync at once; nightly: tonight's run reads the "
        "latest bundle",
    )
    retention_days: int = Field(
        default=DEFAULT_CSV_RETENTION_DAYS,
        ge=1,
        le=DEFAULT_CSV_RETENTION_DAYS,
        description="Days a delivered bundle (as delivered and as staged) is kept before it is deleted",
    )


HealthValue = Literal[
    "ok", "credentials_rejected", "access_denied", "not_oneroster", "invalid_host", "unreachable", "sis_error"
]
HEALTH_VALUES: tuple[HealthValue, ...] = get_args(HealthValue)
SavedAuthMethod = Literal["oauth1", "oauth2"]


class ConnectionHealthResponse(ResponseModel):
    status: HealthValue | None = Field(
        description="What the last sync attempt or connection test found; null until the connection is first used"
    )
    last_checked_at: str | None = Field(description="When it was last used (UTC, ISO 8601)")
    last_ok_at: str | None = Field(description="When it last worked (UTC, ISO 8601)")
    last_error: str | None = Field(description="What went wrong, in words (never a secret); null when ok")
    what_to_do: str = Field(description="What the district admin should do about it")
    calendar: str | None = Field(
        default=None,
        description='Set when every academic session the last sync stored is over: "The SIS has no current term: '
        "its last term ended on 10 June 2025.\" Nothing will sync until the SIS's new school year is set up. "
        "Not a health status (no event or message).",
    )


class CsvBundleSummary(ResponseModel):
    bundle_id: str
    upload_id: str | None
    staged_at: str = Field(description="When it was checked and staged (UTC, ISO 8601)")
    version: str = Field(description="The bundle's oneroster.version")
    files: dict[str, str] = Field(description="Per file (users, classes, ...): bulk, delta or absent")


class CsvDeliveryResponse(ResponseModel):
    csv_schedule: CsvSchedule
    retention_days: int
    latest_bundle: CsvBundleSummary | None = Field(description="What the next sync reads; null until one arrives")


class SisConnectionResponse(ResponseModel):
    kind: ConnectionKind = Field(description="oneroster_api: a REST server; oneroster_csv: CSV bundles")
    host_url: str | None = Field(description="null for CSV")
    client_id: str | None = Field(description="null for CSV")
    auth_method: SavedAuthMethod | None = Field(description="The method the SIS accepted; null for CSV")
    requested_auth_method: AuthMethod | None = Field(description="null for CSV")
    token_url: str | None
    scope: str | None
    version: OneRosterVersion | None = Field(description="The OneRoster version the SIS is read with; null for CSV")
    requested_version: RequestedVersion | None = Field(description="What the admin asked for; null for CSV")
    status: Literal["connected"]
    warnings: list[str]
    connected_at: str = Field(description="When the connection was last tested and saved (UTC, ISO 8601)")
    health: ConnectionHealthResponse | None = Field(default=None, description="How the connection fared when last used")
    csv: CsvDeliveryResponse | None = Field(default=None, description="CSV only: schedule, retention, latest bundle")


def csv_delivery_response(connection: SisConnection, staged: dict | None) -> CsvDeliveryResponse:
    latest = None
    if staged:
        manifest = staged.get("manifest") or {}
        latest = CsvBundleSummary(
            bundle_id=staged["bundleId"],
            upload_id=staged.get("uploadId"),
            staged_at=staged["stagedAt"],
            version=manifest.get("version", ""),
            files=dict(manifest.get("files") or {}),
        )
    return CsvDeliveryResponse(
        csv_schedule=one_of(connection.csv_schedule or "nightly", get_args(CsvSchedule)),
        retention_days=csv_retention_days(connection),
        latest_bundle=latest,
    )


def health_response(connection: SisConnection, calendar: str | None = None) -> ConnectionHealthResponse:
    status = connection.health
    advice = connection_health.ADVICE.get(status or "", "Nothing to do: the next sync will show how it fares.")
    return ConnectionHealthResponse(
        status=None if status is None else one_of(status, HEALTH_VALUES),
        last_checked_at=iso_z_or_none(connection.last_checked_at),
        last_ok_at=iso_z_or_none(connection.last_ok_at),
        last_error=connection.last_error,
        what_to_do=advice,
        calendar=calendar,
    )
