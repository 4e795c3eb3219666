"""Setup step 2: the district's SIS connection. Tested live before it is saved; the secret
goes to Secrets Manager only and is never returned, logged or put in an error message.

Also the way the other setup steps reach the saved SIS (`saved_sis_client`, `sis_schools`),
with the client's errors turned into answers an admin can act on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from http import HTTPStatus

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from rostersync import secrets
from rostersync.api.auth import district_for_admin
from rostersync.api.deadline import sis_deadline
from rostersync.api.errors import ApiError, conflict
from rostersync.api.models import SisConnectionRequest, SisConnectionResponse
from rostersync.api.openapi import documented
from rostersync.api.validation import no_content, read_body, respond
from rostersync.observability import logger, metrics, redact
from rostersync.oneroster import (
    ConnectionSettings,
    NotOneRoster,
    OneRosterClient,
    OneRosterError,
    Org,
    RetryPolicy,
    test_connection,
)
from rostersync.notify import announce
from rostersync.notify import health as connection_health
from rostersync.settings import get_settings
from rostersync.store.districts import (
    DistrictModel,
    SisConnection,
    get_district,
    remove_connection,
    save_connection,
)

router = APIGatewayHttpRouter()

# Reads behind an API request must finish inside API Gateway's 29 s: short timeouts, one retry,
# and the request's deadline (api/deadline.py) over all of them.
API_CLIENT_OPTIONS = {
    "connect_timeout": 4,
    "read_timeout": 10,
    "retry_policy": RetryPolicy(max_retries=1, base_delay=0.2, max_delay=1.0, retry_after_cap=2.0),
}

PATH = "/districts/<district_id>/sis/connection"

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
        "The SIS's answers are not valid OneRoster 1.1 JSON. Check the host URL; if it is right, contact your SIS vendor.",
    ),
    "request_rejected": (
        "not_oneroster",
        "The SIS refused a standard OneRoster 1.1 request. Check the host URL; if it is right, contact your SIS vendor.",
    ),
}


def sis_error(error: OneRosterError, status: int = HTTPStatus.UNPROCESSABLE_ENTITY) -> ApiError:
    """The client's error as the API's: its code, what happened (scrubbed) and what to do."""
    code, advice = _ADVICE.get(error.code, ("unreachable_host", "Check the host URL and try again."))
    what = error.message.strip().rstrip(".")
    message = f"{what}. {advice}" if what else advice
    return ApiError(status, code, redact(message))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _settings_of(connection: SisConnection) -> ConnectionSettings:
    return ConnectionSettings(
        host_url=connection.host_url,
        client_id=connection.client_id,
        auth_method=connection.auth_method,
        token_url=connection.token_url,
        scope=connection.scope,
    )


def _response(connection: SisConnection, warnings: list[str]) -> SisConnectionResponse:
    from rostersync.api.districts import health_out

    return SisConnectionResponse(
        host_url=connection.host_url,
        client_id=connection.client_id,
        auth_method=connection.auth_method,
        requested_auth_method=connection.requested_auth_method,
        token_url=connection.token_url,
        scope=connection.scope,
        status="connected",
        warnings=warnings,
        connected_at=connection.connected_at.isoformat().replace("+00:00", "Z"),
        health=health_out(connection),
    )


def require_connection(district: DistrictModel) -> SisConnection:
    if district.connection is None:
        raise conflict("not_connected", "Connect the district's SIS first (step 2: PUT sis/connection).")
    return district.connection


@contextmanager
def saved_sis_client(district: DistrictModel) -> Iterator[OneRosterClient]:
    """A client on the district's saved connection; SIS failures become 409s naming what to fix
    (the request was fine: the saved connection no longer works)."""
    connection = require_connection(district)
    try:
        secret = secrets.get_client_secret(district.district_id)
    except secrets.SecretNotFound:
        raise conflict("not_connected", "The SIS secret is missing: save the connection again (step 2).") from None
    try:
        allow_private = get_settings().allow_private_sis_hosts
        with OneRosterClient(_settings_of(connection), secret, allow_private=allow_private,
                             deadline=sis_deadline(), **API_CLIENT_OPTIONS) as client:
            yield client
    except OneRosterError as error:
        logger.warning("SIS read failed", extra={"district_id": district.district_id, "error_code": error.code})
        raise sis_error(error, HTTPStatus.CONFLICT) from None


def sis_schools(client: OneRosterClient) -> Iterator[Org]:
    """The SIS's active schools: orgs of type school (from /schools where /orgs is missing)."""
    try:
        for org in client.stream("orgs"):
            if isinstance(org, Org) and org.type == "school" and org.status == "active":
                yield org
    except NotOneRoster as missing:
        if missing.status != 404:
            raise
        for org in client.stream("schools"):
            if isinstance(org, Org) and org.type in ("school", None) and org.status == "active":
                yield org


@router.put(
    PATH,
    **documented(
        "Save the SIS connection after testing it live",
        operation_id="putSisConnection",
        tag="SIS connection",
        body=SisConnectionRequest,
        response=SisConnectionResponse,
        errors=(400, 401, 403, 404, 422),
        description="422 codes: invalid_credentials, unreachable_host, not_oneroster, invalid_host_url. "
        "A failed test leaves the previous connection as it was.",
    ),
)
def put_connection(district_id: str):
    event = router.current_event.raw_event
    district = district_for_admin(event, district_id)
    request = read_body(event, SisConnectionRequest, secret_field="clientSecret")
    secret = request.client_secret.get_secret_value()
    allow_private = get_settings().allow_private_sis_hosts
    try:
        settings = ConnectionSettings(
            host_url=request.host_url,
            client_id=request.client_id,
            auth_method=request.auth_method,
            token_url=request.token_url,
            scope=request.scope,
        )
        report = test_connection(settings, secret, allow_private=allow_private, deadline=sis_deadline())
    except OneRosterError as error:
        metrics.add_metric(name="SisConnectionTestFailed", unit=MetricUnit.Count, value=1)
        logger.info("SIS connection test failed", extra={"district_id": district_id, "error_code": error.code})
        raise sis_error(error) from None
    # Only a connection that works replaces the previous one (secret first: a connection
    # saved without its secret could not be used).
    secret_name = secrets.put_client_secret(district_id, secret)
    warnings = list(dict.fromkeys(report.warnings))
    tested_at = _now()
    previous_health = district.connection.health if district.connection is not None else None
    connection = SisConnection(
        host_url=report.host_url,
        client_id=request.client_id,
        auth_method=report.auth_method,
        requested_auth_method=request.auth_method,
        token_url=report.token_url or request.token_url,
        scope=request.scope,
        secret_name=secret_name,
        warnings=warnings,
        connected_at=tested_at,
        health=connection_health.OK,
        last_checked_at=tested_at,
        last_ok_at=tested_at,
    )
    save_connection(district, connection)
    announce.connection_saved(district_id, previous_health)  # Connection Restored if it was unhealthy
    metrics.add_metric(name="SisConnectionSaved", unit=MetricUnit.Count, value=1)
    logger.info(
        "SIS connection saved",
        extra={"district_id": district_id, "auth_method": report.auth_method, "schools_seen": len(report.schools)},
    )
    return respond(_response(connection, warnings))


@router.get(
    PATH,
    **documented(
        "The saved SIS connection (never the secret)",
        operation_id="getSisConnection",
        tag="SIS connection",
        response=SisConnectionResponse,
        errors=(401, 403, 404),
        description="404 not_connected when the district has no connection.",
    ),
)
def get_connection(district_id: str):
    district = district_for_admin(router.current_event.raw_event, district_id)
    if district.connection is None:
        raise not_connected()
    return respond(_response(district.connection, list(district.connection.warnings or [])))


@router.post(
    PATH + "/test",
    **documented(
        "Test the saved SIS connection now and record its health",
        operation_id="testSisConnection",
        tag="SIS connection",
        response=SisConnectionResponse,
        errors=(401, 403, 404),
        description="Uses the saved credentials. The answer is 200 whatever the SIS says: `health` tells how it went "
        "(a failure turns the connection unhealthy, a success restores it). 404 not_connected without a connection.",
    ),
)
def test_saved_connection(district_id: str):
    district = district_for_admin(router.current_event.raw_event, district_id)
    if district.connection is None:
        raise not_connected()
    try:
        secret = secrets.get_client_secret(district_id)
    except secrets.SecretNotFound:
        raise conflict("not_connected", "The SIS secret is missing: save the connection again (step 2).") from None
    allow_private = get_settings().allow_private_sis_hosts
    try:
        test_connection(_settings_of(district.connection), secret, allow_private=allow_private)
        announce.sis_check(district_id)
    except OneRosterError as error:
        logger.info("saved SIS connection test failed", extra={"district_id": district_id, "error_code": error.code})
        announce.sis_check(district_id, error)
    fresh = get_district(district_id)
    if fresh is None or fresh.connection is None:
        raise not_connected()
    return respond(_response(fresh.connection, list(fresh.connection.warnings or [])))


@router.delete(
    PATH,
    **documented(
        "Remove the SIS connection and its secret, and stop nightly syncs",
        operation_id="deleteSisConnection",
        tag="SIS connection",
        status=204,
        errors=(401, 403, 404),
        description="Idempotent: deleting when not connected also answers 204.",
    ),
)
def delete_connection(district_id: str):
    district = district_for_admin(router.current_event.raw_event, district_id)
    # The district item first: once it has no connection nothing reads the secret, so a
    # failure before the secret is deleted leaves nothing half-connected (and DELETE can be retried).
    remove_connection(district)
    secrets.delete_client_secret(district_id)
    logger.info("SIS connection removed", extra={"district_id": district_id})
    return no_content()


def not_connected() -> ApiError:
    return ApiError(HTTPStatus.NOT_FOUND, "not_connected", "This district has no SIS connection yet (step 2).")

