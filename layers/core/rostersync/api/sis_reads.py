"""The setup routes' reads of a district's saved SIS: the connection required, a client on it
with the API's time limits, and the client's errors turned into answers an admin can act on.

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
from rostersync.oneroster import OneRosterClient, OneRosterError
from rostersync.oneroster.client import REQUEST_TIME_OPTIONS
from rostersync.store.districts import DistrictModel, SisConnection, is_csv

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
    if is_csv(connection):
        # Not built yet: reading a CSV district's schools and options from its latest bundle.
        raise conflict(
            "csv_connection",
            "This district delivers OneRoster CSV files: its schools and options are not read live. Until its first "
            "bundle has synced, choose every school, grade and subject (step 4 with none selected); after it, the "
            "schools, grades and subjects it held can be chosen.",
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
        with saved_sis_client(district) as client:
            live = {org.sourced_id for org in sis_access.active_sis_schools(client)}
        unknown = [sid for sid in unknown if sid not in live]
    if unknown:
        raise unprocessable("unknown_school", f"schools: the SIS has no active school with sourcedId {shown(unknown)}.")
