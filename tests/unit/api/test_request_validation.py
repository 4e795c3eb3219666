"""What the API answers to bodies that are not what a route wants: 400 or 422 in the
contract's error shape, never a 500, whatever the input."""

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.api.handler_client import SECRET, claims, make_event


def _error_shape(answer):
    assert set(answer.body) == {"error"}
    assert set(answer.body["error"]) == {"code", "message"}
    assert answer.body["error"]["message"]


@pytest.mark.parametrize(
    "raw, code",
    [
        ("", "malformed_json"),
        ("{not json", "malformed_json"),
        ('{"name": "a", "timezone": "UTC",}', "malformed_json"),
        ('{"name": NaN, "timezone": "UTC"}', "malformed_json"),
        ('{"name": "a", "name": "b", "timezone": "UTC"}', "malformed_json"),
        ('{"name": 1' + "1" * 5000 + ', "timezone": "UTC"}', "malformed_json"),  # beyond int parsing limits
        ("[" * 20000 + "]" * 20000, "malformed_json"),  # deep enough to exhaust the parser, under 64 KB
        ("[1, 2]", "invalid_body"),
        ('"a string"', "invalid_body"),
        ("null", "invalid_body"),
        ('{"name": "' + "x" * (64 * 1024) + '", "timezone": "UTC"}', "request_too_large"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_400(api, raw, code):
    answer = api.call("POST", "/districts", raw_body=raw)
    assert (answer.status, answer.code) == (400, code)
    _error_shape(answer)


def test_a_missing_body_is_400(api):
    assert api.call("POST", "/districts").code == "malformed_json"


def _with_base64_body(encoded: str):
    """The platform admin's POST /districts with this exact base64 body."""
    from rostersync.api.app import handle

    event = make_event("POST", "/districts", claims=claims("platform_admin"))
    event["body"], event["isBase64Encoded"] = encoded, True
    response = handle(event, None)
    return response["statusCode"], json.loads(response["body"])


def test_base64_bodies_are_decoded_and_checked_the_same_way(api):
    good = api.call("POST", "/districts", body={"name": "Base64 USD", "timezone": "UTC"}, base64_body=True)
    assert good.status == 201 and good.body["name"] == "Base64 USD"
    assert api.call("POST", "/districts", raw_body="x" * 70000, base64_body=True).code == "request_too_large"
    status, body = _with_base64_body("%%%not base64")
    assert (status, body["error"]["code"]) == (400, "malformed_json")
    status, body = _with_base64_body(base64.b64encode(b'{"name": "\xff\xfe"}').decode())  # not UTF-8
    assert (status, body["error"]["code"]) == (400, "malformed_json")


def test_control_characters_and_lone_surrogates_in_names_are_422(api):
    for raw in ('{"name": "a\\u0000b", "timezone": "UTC"}', '{"name": "a\\ud800b", "timezone": "UTC"}'):
        answer = api.call("POST", "/districts", raw_body=raw)
        assert (answer.status, answer.code) == (422, "invalid_request")
        assert "name" in answer.message


def test_many_problems_are_named_together(api):
    answer = api.call("POST", "/districts", body={"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7})
    assert answer.code == "invalid_request"
    assert "name is required" in answer.message and "timezone is required" in answer.message
    assert "more" in answer.message


def test_unknown_routes_and_methods_are_404_in_the_error_shape(api):
    for method, path in (("GET", "/nowhere"), ("DELETE", "/districts"), ("PATCH", "/districts"), ("GET", "/")):
        answer = api.call(method, path)
        assert (answer.status, answer.code) == (404, "not_found")
        _error_shape(answer)


def test_a_named_stage_prefix_is_not_part_of_the_route(api):
    answer = api.call("POST", "/districts", body={"name": "Staged", "timezone": "UTC"}, stage="dev")
    assert answer.status == 201
    # The district rule sees the path without the stage, too.
    denied = api.call("GET", "/districts/dst_a/schools", role="district_admin", district="dst_b", stage="dev")
    assert denied.status == 403


def test_an_unexpected_failure_is_500_internal_error_without_detail(api, monkeypatch):
    from rostersync.api import provisioning

    def broken(*_):
        raise RuntimeError(f"database exploded with {SECRET}")

    monkeypatch.setattr(provisioning, "create_district", broken)
    answer = api.call("POST", "/districts", body={"name": "D", "timezone": "UTC"})
    assert (answer.status, answer.code) == (500, "internal_error")
    assert "exploded" not in answer.message and SECRET not in json.dumps(answer.raw)


def test_a_malformed_event_is_answered_not_raised(aws):
    from rostersync.api.app import handle

    for event in ({}, {"requestContext": None}, {"requestContext": {"authorizer": {"jwt": {"claims": "x"}}}}):
        response = handle(event, None)
        assert response["statusCode"] in (400, 401, 404, 500)
        assert "error" in json.loads(response["body"])


# ---------------------------------------------------------------- no 500 for any input

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "name",
        "timezone",
        "identifier",
        "hostUrl",
        "clientId",
        "clientSecret",
        "authMethod",
        "tokenUrl",
        "scope",
        "matches",
        "sisSourcedId",
        "schoolId",
        "schools",
        "grades",
        "subjects",
        "startDate",
        "enabled",
        "fullSyncEveryDays",
        "deactivationGuard",
        "maxShare",
        "minRecords",
    ]
)
bodies = st.one_of(
    st.dictionaries(field_names, json_values, max_size=8).map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=60),
)
WRITE_ROUTES = [
    ("POST", "/districts"),
    ("POST", "/districts/{d}/schools"),
    ("PUT", "/districts/{d}/sis/connection"),
    ("PUT", "/districts/{d}/school-matches"),
    ("PUT", "/districts/{d}/sync-config"),
]


@pytest.fixture
def connected_district(api, fake_sis):
    district_id = api.new_district()
    assert api.connect(district_id).status == 200
    return district_id


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(WRITE_ROUTES), raw=bodies)
def test_no_body_makes_any_write_route_fail_with_500(api, connected_district, route, raw):
    method, path = route
    answer = api.call(method, path.format(d=connected_district), raw_body=raw)
    assert answer.status < 500, answer.body
    if answer.status >= 400:
        _error_shape(answer)
