"""The API's OpenAPI document, generated from the resolver's routes (docs/openapi.json).

Routes describe themselves with `documented(...)` next to their decorator. Request bodies
are read by the routes (after authorization, see validation.py) rather than declared as
Powertools Body() parameters, so `documented` adds the requestBody to the operation and
remembers the model; `openapi_json` puts those models into components. Path parameters are
renamed to the contract's camelCase ({districtId}), and Powertools' own validation-error
schema is replaced by the API's one error shape.

Regenerate the committed copy with: python -m rostersync.api.openapi > docs/openapi.json
"""

from __future__ import annotations

import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from rostersync.api.route_docs import ERROR_DESCRIPTIONS, query_parameters, request_models
from rostersync.api.schemas.rosters import SchoolChangesResponse

TITLE = "Roster Sync API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Setup, configuration, syncs and rosters of Roster Sync (OneRoster 1.1). JSON is camelCase.\n\n"
    "**Callers.** People send a Cognito ID token (`custom:role` platform_admin, district_admin or teacher). "
    "The app's backend sends an access token from the user pool's token endpoint (OAuth 2 client credentials) "
    "with scope `roster/read` (every district) or `roster/read:<districtId>` (one): it may call the Rosters "
    "routes; with `roster/write` (or `roster/write:<districtId>`) also the four routes that register app users "
    "and classes (`app-users`, `app-classes`, single and bulk); nothing else (403). A teacher whose account is "
    "linked to a synced teacher calls the Teachers routes only.\n\n"
    "**Errors.** Every error the API answers is "
    '`{"error": {"code": "snake_case_code", "message": "what to do"}}` (a 409 may add fields, see '
    'ConflictResponse). Two come from API Gateway in its own shape, `{"message": "..."}`: 401 '
    "(no valid bearer token; the function is never reached) and 429 (throttled).\n\n"
    "**Paging.** Lists answer `nextCursor`; pass it back as `cursor` with the same query until it is null.\n\n"
    "**Changes since.** Users, classes and enrollments take `updatedSince`: the answer is in change order "
    "(every status unless `status` says otherwise, so deactivations are included) and carries "
    "`changesCursor`. Store the last `changesCursor` after handling each page and pass it as `cursor` to "
    "continue, now or a night later: no change is missed and none is answered twice, while syncs write. "
    "A change shows once it is older than the change horizon (20 minutes), the longest a write can take to land."
)
ERROR_SCHEMA = "ErrorResponse"
GATEWAY_ERROR_SCHEMA = "GatewayErrorResponse"
CONFLICT_SCHEMA = "ConflictResponse"

# Routes whose operationId is not given next to them (documented(operation_id=...)): hand names
# here, so a generated client's method names never change with a Python function's name.
OPERATION_IDS = {
    ("post", "/districts/{districtId}/syncs"): "startSync",
    ("get", "/districts/{districtId}/syncs/{runId}"): "getSync",
    ("post", "/districts/{districtId}/syncs/{runId}/approve"): "approveSync",
    ("get", "/districts/{districtId}/syncs/{runId}/preview"): "getPreview",
    ("delete", "/districts/{districtId}"): "deleteDistrict",
    ("get", "/districts/{districtId}/purge"): "getPurge",
    ("post", "/districts/{districtId}/app-users"): "registerAppUser",
    ("post", "/districts/{districtId}/app-users/bulk"): "registerAppUsers",
    ("post", "/districts/{districtId}/app-classes"): "registerAppClass",
    ("post", "/districts/{districtId}/app-classes/bulk"): "registerAppClasses",
    ("get", "/districts/{districtId}/matching/conflicts"): "listMatchingConflicts",
    ("post", "/districts/{districtId}/matching/resolutions"): "resolveMatchingConflict",
    ("get", "/districts/{districtId}/syncs/{runId}/matching"): "getSyncMatching",
}


class SchemaNameCollision(ValueError):
    """Two different schemas would share one component name: one would silently replace the other."""


def _add_component(components: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    """components[name] = schema, refusing a different schema already there under that name."""
    existing = components.get(name)
    if existing is not None and existing != schema:
        raise SchemaNameCollision(f"two schemas are named {name}: rename one of the models")
    components[name] = schema


def _check_component_names(components: dict[str, Any]) -> None:
    """Powertools names a model's schema after the model, or (when two models share a name) after
    their modules: a component whose title is not its name is such a rename, and a collision."""
    for name, schema in components.items():
        title = schema.get("title")
        if title is not None and title != name:
            raise SchemaNameCollision(f"schema {name} is titled {title}: two models share a name")


def _gateway_error_schema() -> dict[str, Any]:
    return {
        "title": GATEWAY_ERROR_SCHEMA,
        "type": "object",
        "required": ["message"],
        "description": "API Gateway's own answer (the function is not reached): "
        '{"message": "Unauthorized"} or {"message": "Too Many Requests"}.',
        "properties": {"message": {"type": "string", "title": "Message"}},
    }


def _conflict_schema() -> dict[str, Any]:
    return {
        "title": CONFLICT_SCHEMA,
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "snake_case error code"},
                    "message": {"type": "string", "description": "What went wrong and what to do about it"},
                    "runId": {"type": "string", "description": "sync_in_progress: the sync queued or running now"},
                    "runStatus": {"type": "string", "description": "run_not_in_review: the run's status"},
                },
            }
        },
    }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _camel_path_parameters(schema: dict[str, Any]) -> None:
    """{district_id} -> {districtId}, in the paths and in their parameter lists."""
    renamed = {}
    for path, operations in schema.get("paths", {}).items():
        new_path = re.sub(r"\{(\w+)\}", lambda m: "{" + _camel(m.group(1)) + "}", path)
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "path":
                    parameter["name"] = _camel(parameter["name"])
        renamed[new_path] = operations
    schema["paths"] = renamed


def _contract_errors(schema: dict[str, Any]) -> None:
    """Powertools documents a 422 of its own shape on every route; the API answers every error
    in one shape, and only routes with query or body parameters can answer 422 at all."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation["responses"] = dict(sorted(operation.get("responses", {}).items()))
            answer = responses.get("422", {})
            content = answer.get("content", {}).get("application/json", {})
            if not content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                continue
            takes_input = "requestBody" in operation or any(
                p.get("in") != "path" for p in operation.get("parameters", [])
            )
            if takes_input:
                content["schema"] = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
                answer["description"] = ERROR_DESCRIPTIONS[422]
            else:
                del responses["422"]


def _add_query_parameters(schema: dict[str, Any]) -> None:
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            parameters = query_parameters(operation.get("operationId", ""))
            if parameters:
                operation.setdefault("parameters", []).extend(p.openapi() for p in parameters)


_UNAVAILABLE = {
    "description": "The sync could not be queued (code unavailable); retry in a minute",
    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}},
}
# Statuses routes answer that their documented() lists leave out.
EXTRA_RESPONSES = {
    ("post", "/districts/{districtId}/syncs"): {"503": _UNAVAILABLE},
    ("post", "/districts/{districtId}/syncs/{runId}/approve"): {"503": _UNAVAILABLE},
}


# Routes that answer one of two shapes: (method, path) -> the other shape's model, by name.
ALTERNATIVE_RESPONSES = {("get", "/districts/{districtId}/schools"): "SchoolChangesResponse"}


def _alternative_responses(schema: dict[str, Any]) -> None:
    """A change read of the schools answers SchoolChangesResponse; the plain read the contract's shape."""
    models = {"SchoolChangesResponse": SchoolChangesResponse}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for (method, path), name in ALTERNATIVE_RESPONSES.items():
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue
        model_schema = models[name].model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        for nested_name, nested in model_schema.pop("$defs", {}).items():
            _add_component(components, nested_name, nested)
        _add_component(components, name, model_schema)
        content = operation["responses"]["200"]["content"]["application/json"]
        content["schema"] = {"anyOf": [content["schema"], {"$ref": f"#/components/schemas/{name}"}]}
    schema["components"]["schemas"] = dict(sorted(components.items()))


def _hand_named_operations(schema: dict[str, Any]) -> None:
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            name = OPERATION_IDS.get((method, path))
            if name:
                operation["operationId"] = name
            for status, response in EXTRA_RESPONSES.get((method, path), {}).items():
                operation.setdefault("responses", {}).setdefault(status, response)


def _gateway_and_conflict_errors(schema: dict[str, Any]) -> None:
    """401 and 429 in API Gateway's shape on every operation (its authorizer and throttling answer
    them before the function runs); 500 in the API's; 409 with its extra fields."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _add_component(components, GATEWAY_ERROR_SCHEMA, _gateway_error_schema())
    _add_component(components, CONFLICT_SCHEMA, _conflict_schema())
    gateway = {"application/json": {"schema": {"$ref": f"#/components/schemas/{GATEWAY_ERROR_SCHEMA}"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses["401"] = {
                "description": "No valid bearer token (API Gateway's JWT authorizer)",
                "content": gateway,
            }
            # A route that limits a request itself (a test message) answers 429 in the API's shape.
            own_limit = "429" in responses or 429 in responses
            responses.pop(429, None)
            responses["429"] = {
                "description": "Too many requests (API Gateway's throttling); retry later"
                + ("; or the route's own limit, in the API's error shape with retryAfterSeconds" if own_limit else ""),
                "content": {
                    "application/json": {
                        "schema": {
                            "anyOf": [
                                {"$ref": f"#/components/schemas/{GATEWAY_ERROR_SCHEMA}"},
                                {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"},
                            ]
                        }
                    }
                }
                if own_limit
                else gateway,
            }
            responses.setdefault(
                "500",
                {
                    "description": "Something failed on our side (code internal_error); retry later",
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}},
                },
            )
            if "409" in responses:
                responses["409"]["content"] = {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{CONFLICT_SCHEMA}"}}
                }
            operation["responses"] = dict(sorted(responses.items()))


def _no_body_for_204(schema: dict[str, Any]) -> None:
    """Powertools gives every response a JSON content; a 204 has no body (and no Content-Type)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).get("204", {}).pop("content", None)


def _drop_unused_schemas(schema: dict[str, Any]) -> None:
    """Powertools adds its validation-error schemas whether or not anything refers to them."""
    components = schema.get("components", {}).get("schemas", {})
    while True:
        text = json.dumps({k: v for k, v in schema.items() if k != "components"}) + json.dumps(components)
        unused = [name for name in components if f'"#/components/schemas/{name}"' not in text]
        if not unused:
            return
        for name in unused:
            del components[name]


def _add_request_models(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, model in sorted(request_models().items()):
        model_schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        for nested_name, nested in model_schema.pop("$defs", {}).items():
            _add_component(components, nested_name, nested)
        _add_component(components, name, model_schema)
    schema["components"]["schemas"] = dict(sorted(components.items()))


def openapi_schema(app: APIGatewayHttpResolver) -> dict[str, Any]:
    """The document of `app`'s routes (api/app.py's resolver, with every router included)."""
    generated = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes={
            "bearerAuth": HTTPBearer(
                bearerFormat="JWT",
                description="A Cognito ID token (people), or an API client's Cognito access token (client credentials, "
                "scope roster/read or roster/read:<districtId>, and roster/write or roster/write:<districtId> to "
                "register app records), as `Authorization: Bearer <token>`.",
            )
        },
        security=[{"bearerAuth": []}],
    )
    schema = json.loads(generated)
    _check_component_names(schema.get("components", {}).get("schemas", {}))
    _camel_path_parameters(schema)
    _add_request_models(schema)
    _add_query_parameters(schema)
    _hand_named_operations(schema)
    _alternative_responses(schema)
    _contract_errors(schema)
    _gateway_and_conflict_errors(schema)
    _no_body_for_204(schema)
    _drop_unused_schemas(schema)
    return schema


def openapi_json(app: APIGatewayHttpResolver) -> str:
    """The document as committed in docs/openapi.json (stable key order, trailing newline)."""
    return json.dumps(openapi_schema(app), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    # The script entry only (make openapi): the package's app module, whose routes registered
    # their request models in api/route_docs.py.
    from rostersync.api.app import app

    print(openapi_json(app), end="")
