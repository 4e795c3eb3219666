"""How a route describes itself for the OpenAPI document: `documented(...)` next to its decorator.

Request bodies are read by the routes (after authorization, see http_io.py) rather than declared
as Powertools Body() parameters, so `documented` adds the requestBody to the operation and
remembers the model, and remembers the query parameters a route reads itself; api/openapi.py
puts both into the document. This module imports no route: every router imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel

from rostersync.api.schemas.base import ErrorResponse

_request_models: dict[str, type[BaseModel]] = {}
_query_parameters: dict[str, tuple[QueryParameter, ...]] = {}


@dataclass(frozen=True)
class QueryParameter:
    """A query parameter a route reads itself (after authorization), for the document."""

    name: str
    description: str
    type: str = "string"
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    format: str | None = None
    required: bool = False

    def openapi(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type}
        for key, value in (
            ("enum", list(self.enum) if self.enum else None),
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("format", self.format),
        ):
            if value is not None:
                schema[key] = value
        return {
            "name": self.name,
            "in": "query",
            "required": self.required,
            "description": self.description,
            "schema": schema,
        }


def page_parameters(default: int, maximum: int) -> tuple[QueryParameter, QueryParameter]:
    """?limit= and ?cursor= of a paged list whose page is 1..maximum items (default `default`)."""
    return (
        QueryParameter(
            "limit", f"Items a page, 1..{maximum} (default {default})", type="integer", minimum=1, maximum=maximum
        ),
        QueryParameter(
            "cursor", "The nextCursor of the previous page of this same list; 400 invalid_cursor for any other"
        ),
    )


def flag_parameter(name: str, description: str) -> QueryParameter:
    """A true/false parameter (read with http_io.query_flag, which also takes 1/0 and yes/no)."""
    return QueryParameter(name, description, type="boolean")


ERROR_DESCRIPTIONS = {
    400: "Malformed request: not JSON, not an object, or over 64 KB",
    401: "No valid bearer token",
    403: "Not allowed for this role or district",
    404: "Unknown district (or the resource asked for)",
    409: "Conflicts with the district's state (e.g. not_connected)",
    422: "Valid JSON with unacceptable values; the message names the fields",
}


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
        "content": {"application/json": {"model": ErrorResponse}},
    }


def documented(
    summary: str,
    *,
    tag: str,
    operation_id: str | None = None,
    body: type[BaseModel] | None = None,
    body_choices: tuple[type[BaseModel], ...] = (),
    body_required: bool = True,
    response: type[BaseModel] | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (401, 403, 404),
    description: str | None = None,
    query: tuple[QueryParameter, ...] = (),
) -> dict[str, Any]:
    """Keyword arguments for a Powertools route decorator that document the route. `body_choices`:
    bodies of which the request sends one (oneOf; each says which by its `kind`)."""
    if query:
        if not operation_id:
            raise ValueError("a route with query parameters needs an operation_id")
        _query_parameters[operation_id] = tuple(query)
    success: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if response is not None:
        success["content"] = {"application/json": {"model": response}}
    responses = {status: success, **{code: _error_response(code) for code in errors}}
    options: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if operation_id:  # a stable name for generated clients (Powertools makes one from the function otherwise)
        options["operation_id"] = operation_id
    if description:
        options["description"] = description
    bodies = ((body,) if body is not None else ()) + body_choices
    if bodies:
        refs = [{"$ref": f"#/components/schemas/{model.__name__}"} for model in bodies]
        for model in bodies:
            _request_models[model.__name__] = model
        options["openapi_extensions"] = {
            "requestBody": {
                "required": body_required,
                "content": {"application/json": {"schema": refs[0] if len(refs) == 1 else {"oneOf": refs}}},
            }
        }
    return options


def request_models() -> dict[str, type[BaseModel]]:
    """The request bodies routes declared, by schema name."""
    return dict(_request_models)


def query_parameters(operation_id: str) -> tuple[QueryParameter, ...]:
    """The query parameters the operation reads itself (none when it declared none)."""
    return _query_parameters.get(operation_id, ())
