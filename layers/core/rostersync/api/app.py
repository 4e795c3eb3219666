"""The HTTP API: one Powertools resolver, one router module per setup step and for syncs
and rosters. `handle` is what functions/api/app.py (and the local adapter) call.

Every answer that is not a success has the contract's shape
{"error": {"code", "message"}}: our own ApiErrors, Powertools' validation and routing
errors, and anything unexpected (500 `internal_error`, details only in the logs).
Request bodies are never logged (the connection route's carries the SIS secret).
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from rostersync.api import (
    app_records,
    csv_uploads,
    districts,
    me,
    notifications,
    provisioning,
    purge,
    reference,
    review,
    rosters,
    school_matches,
    sis_connection,
    sync_config,
    sync_runs,
    terms,
)
from rostersync.api.access import authorize_request, request_path
from rostersync.api.deadline import request_time
from rostersync.api.errors import ApiError, bad_request, internal_error
from rostersync.api.http_io import invalid
from rostersync.api.openapi import openapi_json
from rostersync.observability import flush_metrics, logger, redaction_scope

# debug=False explicitly: Powertools' debug mode (POWERTOOLS_DEV) prints whole events,
# and the connection route's event carries the SIS secret.
app: APIGatewayHttpResolver = APIGatewayHttpResolver(enable_validation=True, debug=False)

for module in (
    provisioning,
    districts,
    sis_connection,
    csv_uploads,
    school_matches,
    sync_config,
    sync_runs,
    rosters,
    terms,
    review,
    purge,
    me,
    app_records,
    notifications,
):
    app.include_router(module.router)


@lru_cache(maxsize=1)
def openapi_document() -> str:
    """The app's OpenAPI document, as committed in docs/openapi.json (`make openapi`); once per container."""
    return openapi_json(app)


reference.add_reference_routes(app, openapi_document)


def error_response(error: ApiError) -> Response:
    return Response(status_code=error.status, content_type="application/json", body=error.body())


@app.exception_handler(ApiError)
def _api_error(error: ApiError) -> Response:
    return error_response(error)


@app.exception_handler(RequestValidationError)
def _validation_error(error: RequestValidationError) -> Response:
    """Powertools' own parameter validation (routes that declare Query()/Body() parameters)."""
    problems = error.errors()
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return error_response(bad_request("malformed_json", "The request body is not valid JSON."))
    # loc starts with where the value was: ("query", "limit"), ("body", "mode"), ...
    located = [{**problem, "loc": tuple(problem.get("loc", ()))[1:]} for problem in problems]
    return error_response(invalid(located))


@app.not_found
def _no_route(_: NotFoundError) -> Response:
    return error_response(
        ApiError(HTTPStatus.NOT_FOUND, "not_found", "There is no such route; the API is described at /openapi.json.")
    )


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported_content_type(_: RequestUnsupportedContentType) -> Response:
    return error_response(bad_request("unsupported_content_type", "Send the request body as application/json."))


@app.exception_handler(ServiceError)
def _service_error(error: ServiceError) -> Response:
    """Powertools' HTTP errors (BadRequestError, ...), should anything raise one."""
    try:
        status = HTTPStatus(error.status_code)
    except ValueError:
        status = HTTPStatus.INTERNAL_SERVER_ERROR
    if status >= 500:
        return error_response(internal_error())
    code = status.phrase.lower().replace(" ", "_").replace("-", "_")
    message = error.msg if isinstance(error.msg, str) else status.phrase
    return error_response(ApiError(status, code, message))


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> Response:
    logger.exception("Unexpected error in a route", extra={"errorType": type(error).__name__})
    return error_response(internal_error())


def _lambda_error(error: ApiError) -> dict:
    """An error answered before (or outside) the resolver, in API Gateway's response format."""
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(error.body()),
        "isBase64Encoded": False,
    }


def handle(event: dict, context) -> dict:
    started = time.perf_counter()
    # A secret in this request's body is redacted while the request is handled, then forgotten;
    # reads of the SIS end in time for API Gateway's 29 s.
    with redaction_scope(), request_time(context):
        try:
            authorize_request(event)
            response = app.resolve(event, context)
        except ApiError as error:
            response = _lambda_error(error)
        except Exception as error:  # a malformed event, or a failure outside the routes
            logger.exception("Unexpected error handling a request", extra={"errorType": type(error).__name__})
            response = _lambda_error(internal_error())
        _log_request(event, response, started)
    flush_metrics()
    return response


def _log_request(event: dict, response: dict, started: float) -> None:
    """One line per request: method, path and status; never the body or the query string."""
    try:
        method = ((event.get("requestContext") or {}).get("http") or {}).get("method")
        path = request_path(event)
    except Exception:
        method, path = None, None
    logger.info(
        "request",
        extra={
            "method": method,
            "path": path,
            "status": response.get("statusCode"),
            "durationMs": round((time.perf_counter() - started) * 1000, 1),
        },
    )
