"""The setup routes' reads of a district's saved SIS: the connection required, a client on it
with the API's time limits, and the client's errors turned into answers an admin can act on.
A CSV district's SIS is its latest staged bundle (DistrictModel.csv_bundle): steps 3 and 4 read
its schools and options from there (staged_bundle), 409 no_bundle_yet before one arrives.

Reads behind an API request must finish inside API Gateway's 29 s: the client's
REQUEST_TIME_OPTIONS (short timeouts, one retry), and the request's deadline (api/deadline.py)
over all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus

from rostersync import sis_access, sis_secrets
from rostersync.api.deadline import sis_deadline
from rostersync.api.errors import ApiError, conflict, unprocessable
from rostersync.observability import logger, redact
from rostersync.oneroster import OneRosterClient, OneRosterError, Org, OutOfTime
from rostersync.oneroster.client import REQUEST_TIME_OPTIONS
from rostersync.sources.csv_reader import CsvBundleReader
from rostersync.sources.opening import open_bundle
from rostersync.store.districts import DistrictModel, SisConnection, is_csv
from rostersync.sync.run_start import csv_bundle_failure
from rostersync.times import utc_now

MAX_IDS_IN_MESSAGE = 5

# What to tell the admin for each of the client's error codes: (API code, what to do).
_ADVICE: dict[str, tuple[str, str]] = {
    "invalid_host_url": ("invalid_host_url", "Check the host URL: give the SIS address, e.g. https://sis.example.org."),
    "unreachable_host": (
        "unreachable_host",
        "Check the host URL, and that the SIS is up and accepts connections from the internet.",
    ),
    "invalid_credentials": (
        "invalid_credentials",
        "Check the client id and secret with your SIS administrator (for OAuth 2, also the token URL and auth method).",
    ),
    "insufficient_scope": (
        "invalid_credentials",
        "The credentials are accepted but may not read rosters: ask your SIS administrator to grant the OneRoster "
        "1.1 roster read scopes (roster-core.readonly and roster.readonly), or give the scope your SIS expects.",
    ),
    "not_oneroster": (
        "not_oneroster",
        "The host does not answer like a OneRoster 1.1 server. Check the host URL, including any vendor path before "
        "/ims/oneroster/v1p1 (for example https://sis.example.org/vendor).",
    ),
    "out_of_time": (
        "unreachable_host",
        "The SIS did not answer everything within the time a setup request has (about 25 s). Try again; if it "
        "stays slow, give authMethod (oauth1 or oauth2) and for OAuth 2 the tokenUrl, so nothing needs probing.",
    ),
    "server_error": (
        "unreachable_host",
        "The SIS answered with server errors. Try again later; if it persists, contact your SIS administrator.",
    ),
    "bad_response": (
        "not_oneroster",
        "The SIS's answers are not valid OneRoster 1.1 JSON. Check the host URL; if it is right, contact your SIS "
        "vendor.",
    ),
    "request_rejected": (
        "not_oneroster",
        "The SIS refused a standard OneRoster 1.1 request. Check the host URL; if it is right, contact your SIS "
        "vendor.",
    ),
}


def sis_error(error: OneRosterError, status: int = HTTPStatus.UNPROCESSABLE_ENTITY) -> ApiError:
    """The client's error as the API's: its code, what happened (scrubbed) and what to do."""
    code, advice = _ADVICE.get(error.code, ("unreachable_host", "Check the host URL and try again."))
    what = error.message.strip().rstrip(".")
    message = f"{what}. {advice}" if what else advice
    return ApiError(status, code, redact(message))


def require_connection(district: DistrictModel) -> SisConnection:
    if district.connection is None:
        raise conflict("not_connected", "Connect the district's SIS first (step 2: PUT sis/connection).")
    return district.connection


@contextmanager
def saved_sis_client(district: DistrictModel) -> Iterator[OneRosterClient]:
    """A client on the district's saved connection; SIS failures become 409s naming what to fix
    (the request was fine: the saved connection no longer works)."""
    connection = require_connection(district)
    if is_csv(connection):  # callers read a CSV district's bundle instead (staged_bundle)
        raise conflict(
            "csv_connection",
            "This district delivers OneRoster CSV files: its SIS is not read live, its latest bundle is.",
        )
    try:
        try:
            client = sis_access.open_client(
                district.district_id,
                sis_access.client_settings(connection),
                deadline=sis_deadline(),
                **REQUEST_TIME_OPTIONS,
            )
        except sis_secrets.SecretNotFound:
            raise missing_secret() from None
        with client:
            yield client
    except OneRosterError as error:
        logger.warning("SIS read failed", extra={"districtId": district.district_id, "errorCode": error.code})
        raise sis_error(error, HTTPStatus.CONFLICT) from None


@contextmanager
def staged_bundle(district: DistrictModel) -> Iterator[CsvBundleReader]:
    """A reader of a CSV district's latest staged bundle; 409 no_bundle_yet before one was checked,
    bundle_expired past the district's retention, and the reader's error code when its files
    cannot be read (bundle_unusable: gone from the store)."""
    if not (district.csv_bundle or {}).get("prefix"):
        raise conflict(
            "no_bundle_yet",
            "No CSV bundle has been staged yet: upload a bundle first (console: CSV bundles, or POST csv-uploads; "
            "or deliver it over SFTP). Its schools, grades and subjects can be read once it is checked.",
        )
    expired = csv_bundle_failure(district, utc_now())
    if expired is not None:
        raise conflict("bundle_expired", expired)
    reader = open_bundle(district.csv_bundle or {})
    try:
        yield reader
    except OneRosterError as error:
        if isinstance(error, OutOfTime):
            raise
        logger.warning("Bundle read failed", extra={"districtId": district.district_id, "errorCode": error.code})
        raise conflict(error.code, redact(error.message)) from None
    finally:
        reader.close()


def active_sis_schools(district: DistrictModel) -> list[Org]:
    """The district's active SIS schools: read live, or from a CSV district's latest bundle."""
    if is_csv(require_connection(district)):
        with staged_bundle(district) as reader:
            return [
                org
                for page in reader.schools()
                for org in page.records
                if sis_access.is_active_school(org, listed_as_school=True)
            ]
    with saved_sis_client(district) as client:
        return list(sis_access.active_sis_schools(client))


def missing_secret() -> ApiError:
    return conflict("not_connected", "The SIS secret is missing: save the connection again (step 2).")


def shown(values: list[str]) -> str:
    """The first few of `values` for a message, and how many more there are."""
    return ", ".join(values[:MAX_IDS_IN_MESSAGE]) + (
        f" and {len(values) - MAX_IDS_IN_MESSAGE} more" if len(values) > MAX_IDS_IN_MESSAGE else ""
    )


def check_selected_schools(district: DistrictModel, wanted: list[str]) -> None:
    """Every selected school must be an active SIS school; a stale cache is re-checked live."""
    cached = {s.sis_sourced_id for s in (district.sync_options.schools if district.sync_options else [])}
    unknown = [sid for sid in wanted if sid not in cached]
    if unknown:
        live = {org.sourced_id for org in active_sis_schools(district)}
        unknown = [sid for sid in unknown if sid not in live]
    if unknown:
        raise unprocessable("unknown_school", f"schools: the SIS has no active school with sourcedId {shown(unknown)}.")
