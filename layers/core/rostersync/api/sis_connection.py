"""Setup step 2: the district's SIS connection. Tested live before it is saved; the secret
goes to Secrets Manager only and is never returned, logged or put in an error message.
(How the other setup steps reach the saved SIS: api/sis_reads.py.)
"""

from __future__ import annotations

from http import HTTPStatus
from typing import get_args

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from rostersync import audit, sis_access, sis_secrets
from rostersync.api import audit_trail
from rostersync.api.access import district_for_admin
from rostersync.api.deadline import sis_deadline
from rostersync.api.errors import ApiError, conflict
from rostersync.api.http_io import json_object, no_content, parse, respond
from rostersync.api.route_docs import documented
from rostersync.api.schemas.base import one_of
from rostersync.api.schemas.sis_connection import (
    AuthMethod,
    CsvConnectionRequest,
    OneRosterVersion,
    RequestedVersion,
    SavedAuthMethod,
    SisConnectionRequest,
    SisConnectionResponse,
    csv_delivery_response,
    health_response,
)
from rostersync.api.sis_reads import missing_secret, sis_error
from rostersync.notify import announce
from rostersync.notify import health as connection_health
from rostersync.observability import logger, metrics, register_request_secret
from rostersync.oneroster import ConnectionSettings, OneRosterError, check_connection
from rostersync.settings import get_settings
from rostersync.store.districts import (
    ONEROSTER_CSV,
    SisConnection,
    get_district,
    is_csv,
    remove_connection,
    save_connection,
)
from rostersync.times import iso_z, utc_now

router = APIGatewayHttpRouter()

PATH = "/districts/<district_id>/sis/connection"


def _response(
    connection: SisConnection, warnings: list[str], calendar: str | None = None, staged: dict | None = None
) -> SisConnectionResponse:
    if is_csv(connection):
        return SisConnectionResponse(
            kind="oneroster_csv",
            host_url=None,
            client_id=None,
            auth_method=None,
            requested_auth_method=None,
            token_url=None,
            scope=None,
            version=None,
            requested_version=None,
            status="connected",
            warnings=warnings,
            connected_at=iso_z(connection.connected_at),
            health=health_response(connection, calendar),
            csv=csv_delivery_response(connection, staged),
        )
    return SisConnectionResponse(
        kind="oneroster_api",
        host_url=connection.host_url,
        client_id=connection.client_id,
        auth_method=one_of(connection.auth_method, get_args(SavedAuthMethod)),
        requested_auth_method=one_of(connection.requested_auth_method, get_args(AuthMethod)),
        token_url=connection.token_url,
        scope=connection.scope,
        version=one_of(sis_access.connection_version(connection), get_args(OneRosterVersion)),
        requested_version=one_of(
            connection.requested_version or sis_access.connection_version(connection), get_args(RequestedVersion)
        ),
        status="connected",
        warnings=warnings,
        connected_at=iso_z(connection.connected_at),
        health=health_response(connection, calendar),
    )


@router.put(
    PATH,
    **documented(
        "Save the SIS connection after testing it live",
        operation_id="putSisConnection",
        tag="SIS connection",
        body_choices=(SisConnectionRequest, CsvConnectionRequest),
        response=SisConnectionResponse,
        errors=(400, 401, 403, 404, 422),
        description="Either a OneRoster REST server (`kind` oneroster_api or absent: SisConnectionRequest), tested "
        "live before it is saved, or OneRoster CSV files (`kind` oneroster_csv: CsvConnectionRequest): nothing to "
        "test, no host, client id or secret; bundles then arrive by POST csv-uploads or SFTP. Saving CSV over a "
        "REST connection deletes its secret. 422 codes: invalid_credentials, unreachable_host, not_oneroster, "
        "invalid_host_url. A failed test leaves the previous connection as it was.",
    ),
)
def put_connection(district_id: str):
    event = router.current_event.raw_event
    district = district_for_admin(event, district_id)
    data = json_object(event)
    if data.get("kind") == ONEROSTER_CSV:
        return _put_csv_connection(event, district, parse(CsvConnectionRequest, data))
    secret_value = data.get("clientSecret")
    register_request_secret(secret_value if isinstance(secret_value, str) else None)
    request = parse(SisConnectionRequest, data)
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
        report = check_connection(
            settings, secret, allow_private=allow_private, version=request.version, deadline=sis_deadline()
        )
    except OneRosterError as error:
        metrics.add_metric(name="SisConnectionTestFailed", unit=MetricUnit.Count, value=1)
        logger.info("SIS connection test failed", extra={"districtId": district_id, "errorCode": error.code})
        raise sis_error(error) from None
    # Only a connection that works replaces the previous one (secret first: a connection
    # saved without its secret could not be used).
    stored_secret = sis_secrets.store_client_secret(district_id, secret)
    warnings = list(dict.fromkeys(report.warnings))
    tested_at = utc_now()
    previous_health = district.connection.health if district.connection is not None else None
    connection = SisConnection(
        host_url=report.host_url,
        client_id=request.client_id,
        auth_method=report.auth_method,
        requested_auth_method=request.auth_method,
        token_url=report.token_url or request.token_url,
        scope=request.scope,
        secret_name=stored_secret.name,
        secret_version=stored_secret.version_id,
        version=report.version,
        requested_version=request.version,
        warnings=warnings,
        connected_at=tested_at,
        health=connection_health.OK,
        last_checked_at=tested_at,
        last_ok_at=tested_at,
    )
    before = audit.connection_view(district.connection)
    save_connection(district, connection)
    announce.connection_saved(district_id, previous_health)  # Connection Restored if it was unhealthy
    audit_trail.record_event(
        event, district_id, "connection.update", before=before, after=audit.connection_view(connection)
    )
    metrics.add_metric(name="SisConnectionSaved", unit=MetricUnit.Count, value=1)
    logger.info(
        "SIS connection saved",
        extra={
            "districtId": district_id,
            "authMethod": report.auth_method,
            "version": report.version,
            "schoolsSeen": len(report.schools),
        },
    )
    return respond(_response(connection, warnings))


def _put_csv_connection(event, district, request: CsvConnectionRequest):
    """Step 2 for CSV files: record the choice (nothing to test); a REST secret is deleted."""
    district_id = district.district_id
    now = utc_now()
    previous = district.connection
    connection = SisConnection(
        kind=ONEROSTER_CSV,
        csv_schedule=request.csv_schedule,
        retention_days=request.retention_days,
        warnings=[],
        connected_at=now,
        health=previous.health if is_csv(previous) and previous is not None else None,
        last_checked_at=previous.last_checked_at if is_csv(previous) and previous is not None else None,
        last_ok_at=previous.last_ok_at if is_csv(previous) and previous is not None else None,
    )
    before = audit.connection_view(previous)
    save_connection(district, connection)
    if previous is not None and not is_csv(previous):
        sis_secrets.delete_client_secret(district_id)
    audit_trail.record_event(
        event, district_id, "connection.update", before=before, after=audit.connection_view(connection)
    )
    metrics.add_metric(name="SisConnectionSaved", unit=MetricUnit.Count, value=1)
    logger.info("CSV connection saved", extra={"districtId": district_id, "csvSchedule": request.csv_schedule})
    return respond(_response(connection, [], staged=district.csv_bundle))


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
    calendar = connection_health.calendar_note(district_id, district.timezone)
    return respond(
        _response(district.connection, list(district.connection.warnings or []), calendar, district.csv_bundle)
    )


@router.post(
    PATH + "/test",
    **documented(
        "Test the saved SIS connection now and record its health",
        operation_id="testSisConnection",
        tag="SIS connection",
        response=SisConnectionResponse,
        description="Uses the saved credentials. The answer is 200 whatever the SIS says: `health` tells how it went "
        "(a failure turns the connection unhealthy, a success restores it). 404 not_connected without a connection; "
        "409 csv_connection for CSV files (nothing to test: a bundle is checked when it arrives).",
        errors=(401, 403, 404, 409),
    ),
)
def test_saved_connection(district_id: str):
    district = district_for_admin(router.current_event.raw_event, district_id)
    if district.connection is None:
        raise not_connected()
    if is_csv(district.connection):
        raise conflict(
            "csv_connection",
            "A CSV connection has nothing to test: each bundle is checked when it arrives (GET csv-uploads).",
        )
    try:
        secret = sis_secrets.get_client_secret(district_id)
    except sis_secrets.SecretNotFound:
        raise missing_secret() from None
    allow_private = get_settings().allow_private_sis_hosts
    try:
        check_connection(sis_access.client_settings(district.connection), secret, allow_private=allow_private)
        announce.sis_check(district_id)
    except OneRosterError as error:
        logger.info("saved SIS connection test failed", extra={"districtId": district_id, "errorCode": error.code})
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
    before = audit.connection_view(district.connection)
    remove_connection(district)
    sis_secrets.delete_client_secret(district_id)
    if before is not None:
        audit_trail.record_event(router.current_event.raw_event, district_id, "connection.delete", before=before)
    logger.info("SIS connection removed", extra={"districtId": district_id})
    return no_content()


def not_connected() -> ApiError:
    return ApiError(HTTPStatus.NOT_FOUND, "not_connected", "This district has no SIS connection yet (step 2).")
