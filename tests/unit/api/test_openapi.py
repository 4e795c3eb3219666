"""The OpenAPI document: generated from the routes, committed as docs/openapi.json, complete."""

import json
from pathlib import Path

import pytest

DOCS_OPENAPI = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"

# Every route of the outside contract (docs/design.md names it), as OpenAPI writes paths.
CONTRACT_ROUTES = [
    ("post", "/districts"),
    ("post", "/districts/{districtId}/schools"),
    ("get", "/districts/{districtId}/schools"),
    ("put", "/districts/{districtId}/sis/connection"),
    ("get", "/districts/{districtId}/sis/connection"),
    ("delete", "/districts/{districtId}/sis/connection"),
    ("get", "/districts/{districtId}/sis/schools"),
    ("put", "/districts/{districtId}/school-matches"),
    ("get", "/districts/{districtId}/sync-options"),
    ("put", "/districts/{districtId}/sync-config"),
    ("get", "/districts/{districtId}/sync-config"),
    ("post", "/districts/{districtId}/syncs"),
    ("get", "/districts/{districtId}/syncs"),
    ("get", "/districts/{districtId}/syncs/{runId}"),
    ("post", "/districts/{districtId}/syncs/{runId}/approve"),
    ("get", "/districts/{districtId}/users"),
    ("get", "/districts/{districtId}/classes"),
    ("get", "/districts/{districtId}/classes/{classId}/roster"),
]
SETUP_BODIES = {
    ("post", "/districts"): "CreateDistrictRequest",
    ("post", "/districts/{districtId}/schools"): "CreateSchoolRequest",
    ("put", "/districts/{districtId}/sis/connection"): ("SisConnectionRequest", "CsvConnectionRequest"),
    ("put", "/districts/{districtId}/school-matches"): "SchoolMatchesRequest",
    ("put", "/districts/{districtId}/sync-config"): "SyncConfigRequest",
}


@pytest.fixture(scope="module")
def generated() -> str:
    from rostersync.api.app import openapi_document

    return openapi_document()


def test_the_committed_document_is_the_generated_one(generated):
    assert DOCS_OPENAPI.read_text(encoding="utf-8") == generated, (
        "docs/openapi.json is stale: .venv/bin/python -m rostersync.api.openapi > docs/openapi.json"
    )


@pytest.mark.parametrize("method, path", CONTRACT_ROUTES, ids=[f"{m} {p}" for m, p in CONTRACT_ROUTES])
def test_every_contract_route_is_documented_with_the_error_shape(generated, method, path):
    document = json.loads(generated)
    operation = document["paths"].get(path, {}).get(method)
    assert operation is not None, f"{method.upper()} {path} is not in the document"
    schema = operation["responses"]["403"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
    # 401 and 429 come from API Gateway (its JWT authorizer, its throttling) in its own shape.
    for status in ("401", "429"):
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/GatewayErrorResponse"}
    assert operation["operationId"].isalnum() and operation["operationId"][0].islower()  # hand-named


def test_bodies_security_and_references_are_complete(generated):
    document = json.loads(generated)
    assert document["info"]["title"] == "Roster Sync API" and document["openapi"].startswith("3.")
    bearer = document["components"]["securitySchemes"]["bearerAuth"]
    assert (bearer["type"], bearer["scheme"], bearer["bearerFormat"]) == ("http", "bearer", "JWT")
    assert "ID token" in bearer["description"] and "roster/read" in bearer["description"]
    assert document["security"] == [{"bearerAuth": []}]
    for (method, path), model in SETUP_BODIES.items():
        body = document["paths"][path][method]["requestBody"]
        expected = (
            {"$ref": f"#/components/schemas/{model}"}
            if isinstance(model, str)
            else {"oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in model]}
        )
        assert body["content"]["application/json"]["schema"] == expected
    schemas = document["components"]["schemas"]
    connection = schemas["SisConnectionRequest"]
    assert connection["additionalProperties"] is False
    assert set(connection["required"]) == {"hostUrl", "clientId", "clientSecret"}
    assert connection["properties"]["clientSecret"]["writeOnly"] is True
    assert "clientSecret" not in schemas["SisConnectionResponse"]["properties"]
    csv = schemas["CsvConnectionRequest"]  # step 2 for CSV files: nothing to test, no secret
    assert csv["required"] == ["kind"] and not {"hostUrl", "clientSecret"} & set(csv["properties"])
    # Every reference resolves; no Powertools-only error schema is left.
    for ref in set(_refs(document)):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    assert "HTTPValidationError" not in schemas


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_operation_ids_are_hand_named_and_unique(generated):
    document = json.loads(generated)
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert all(i.isalnum() and i[0].islower() for i in ids), [i for i in ids if not i.isalnum()]


ROSTER_QUERIES = {
    ("get", "/districts/{districtId}/users"): {
        "role",
        "schoolId",
        "status",
        "limit",
        "cursor",
        "updatedSince",
        "q",
        "sort",
    },
    ("get", "/districts/{districtId}/classes"): {
        "schoolId",
        "teacherId",
        "termId",
        "status",
        "limit",
        "cursor",
        "updatedSince",
    },
    ("get", "/districts/{districtId}/terms"): {"type", "status", "limit", "cursor", "updatedSince"},
    ("get", "/districts/{districtId}/schools/{schoolId}/terms"): {"type", "status", "limit", "cursor", "updatedSince"},
    ("get", "/districts/{districtId}/schools/{schoolId}/terms/current"): {"date", "type"},
    ("get", "/districts/{districtId}/enrollments"): {
        "classId",
        "userId",
        "role",
        "status",
        "limit",
        "cursor",
        "updatedSince",
    },
    ("get", "/districts/{districtId}/classes/{classId}/students"): {"status", "limit", "cursor", "updatedSince"},
    ("get", "/districts/{districtId}/classes/{classId}/teachers"): {"status", "limit", "cursor", "updatedSince"},
    ("get", "/districts/{districtId}/users/{userId}/classes"): {"role", "status", "limit", "cursor", "updatedSince"},
    ("get", "/districts/{districtId}/classes/{classId}/roster"): {"status"},
    ("get", "/me/classes"): {"limit", "cursor", "updatedSince"},
}


@pytest.mark.parametrize("method, path", list(ROSTER_QUERIES), ids=[p for _, p in ROSTER_QUERIES])
def test_query_parameters_are_documented(generated, method, path):
    operation = json.loads(generated)["paths"][path][method]
    documented = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert set(documented) == ROSTER_QUERIES[(method, path)]
    assert all(p["description"] and p["required"] is False for p in documented.values())
    if "limit" in documented:
        assert documented["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200}


def test_conflicts_document_their_extra_fields(generated):
    document = json.loads(generated)
    start = document["paths"]["/districts/{districtId}/syncs"]["post"]["responses"]["409"]
    assert start["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ConflictResponse"}
    fields = document["components"]["schemas"]["ConflictResponse"]["properties"]["error"]["properties"]
    assert {"code", "message", "runId", "runStatus"} <= set(fields)


def test_matching_conflicts_are_their_own_schema_not_the_409_error(generated):
    document = json.loads(generated)
    answer = document["paths"]["/districts/{districtId}/matching/conflicts"]["get"]["responses"]["200"]
    listed = answer["content"]["application/json"]["schema"]["$ref"].removeprefix("#/components/schemas/")
    item = document["components"]["schemas"][listed]["properties"]["conflicts"]["items"]
    assert item == {"$ref": "#/components/schemas/MatchingConflictResponse"}
    conflict = document["components"]["schemas"]["MatchingConflictResponse"]
    assert {"type", "sisSourcedId", "reason", "candidates"} <= set(conflict["required"])
    assert "error" in document["components"]["schemas"]["ConflictResponse"]["required"]
    # Every component is titled with its own name: no schema stands in for another.
    for name, schema in document["components"]["schemas"].items():
        assert schema.get("title", name) == name, name


def test_the_generator_refuses_two_schemas_of_one_name():
    from pydantic import BaseModel

    from rostersync.api.openapi import SchemaNameCollision, _add_component, _check_component_names

    components = {"ConflictResponse": {"title": "ConflictResponse", "type": "object", "required": ["error"]}}
    _add_component(components, "ConflictResponse", dict(components["ConflictResponse"]))  # the same one: fine
    with pytest.raises(SchemaNameCollision, match="ConflictResponse"):
        _add_component(components, "ConflictResponse", {"title": "ConflictResponse", "type": "object"})

    # Two models of one name in different modules: Powertools names them after their modules.
    first = type("Twin", (BaseModel,), {"__annotations__": {"a": int}, "__module__": "one"})
    second = type("Twin", (BaseModel,), {"__annotations__": {"b": str}, "__module__": "two"})
    from pydantic.json_schema import models_json_schema

    _, defs = models_json_schema([(first, "serialization"), (second, "serialization")])
    with pytest.raises(SchemaNameCollision, match="Twin"):
        _check_component_names(defs["$defs"])


REVIEW_QUERIES = {
    ("get", "/districts"): {"limit": (1, 100), "cursor": None},
    ("get", "/districts/{districtId}/syncs"): {"limit": (1, 100), "cursor": None},
    ("get", "/districts/{districtId}/audit"): {"action": None, "by": None, "limit": (1, 200), "cursor": None},
    ("get", "/districts/{districtId}/syncs/{runId}/held"): {
        "type": None,
        "reason": None,
        "limit": (1, 200),
        "cursor": None,
    },
    ("get", "/districts/{districtId}/syncs/{runId}/preview/records"): {
        "type": None,
        "change": None,
        "limit": (1, 200),
        "cursor": None,
    },
    ("get", "/districts/{districtId}/matching/conflicts"): {"limit": (1, 200), "cursor": None},
}


@pytest.mark.parametrize("method, path", list(REVIEW_QUERIES), ids=[p for _, p in REVIEW_QUERIES])
def test_paged_admin_lists_document_what_they_read(generated, method, path):
    operation = json.loads(generated)["paths"][path][method]
    documented = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert set(documented) == set(REVIEW_QUERIES[(method, path)])
    for name, bounds in REVIEW_QUERIES[(method, path)].items():
        if bounds:
            assert (documented[name]["schema"]["minimum"], documented[name]["schema"]["maximum"]) == bounds
    if "type" in documented:
        from rostersync.store.sync_runs import RECORD_TYPES

        assert documented["type"]["schema"]["enum"] == list(RECORD_TYPES)
    records = path.endswith("/preview/records")
    assert documented.get("type", {}).get("required", False) is records


def test_flags_are_boolean_and_every_success_has_a_body(generated):
    document = json.loads(generated)
    for path, method, name in (
        ("/districts/{districtId}/sync-options", "get", "refresh"),
        ("/districts/{districtId}/sync-config/preview", "post", "complete"),
    ):
        parameters = {p["name"]: p for p in document["paths"][path][method]["parameters"] if p["in"] == "query"}
        assert parameters[name]["schema"] == {"type": "boolean"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            success = [s for s in operation["responses"] if s.startswith("2")]
            assert len(success) == 1, (method, path)
            if success[0] != "204":
                assert "schema" in operation["responses"][success[0]]["content"]["application/json"], (method, path)
