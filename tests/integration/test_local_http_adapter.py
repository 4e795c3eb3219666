"""The local HTTP adapter does what API Gateway does in front of the API function: JWT
authorizer checks, payload 2.0 events, responses, CORS and the payload limit.

A recording handler stands in for the function so each check sees exactly what it was given."""

import base64
import http.client
import json
import socket
import time
from pathlib import Path

import jwt
import pytest
import requests

from rostersync_tools.local.http_adapter import MAX_BODY_BYTES, LocalHttpApi
from rostersync_tools.local.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER, issue_token, load_or_create_key_pair

# Seconds a request to a loopback server may take: a hung one fails its test, not the whole run.
TIMEOUT = 30

EVENTS = Path(__file__).resolve().parents[2] / "events"


class Recorder:
    def __init__(self, result=None, error: Exception | None = None):
        self.events: list[dict] = []
        self.contexts: list = []
        self.result = result or {
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "body": '{"ok": true}',
        }
        self.error = error

    def __call__(self, event, context):
        self.events.append(event)
        self.contexts.append(context)
        if self.error:
            raise self.error
        return self.result


@pytest.fixture
def keys(tmp_path):
    return load_or_create_key_pair(tmp_path / "state")


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def adapter(keys, recorder):
    server = LocalHttpApi(keys, handler=recorder, openapi=lambda: '{"openapi": "3.1.0"}').start()
    yield server
    server.stop()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- the JWT authorizer
def assert_refused(response, recorder):
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert recorder.events == [], "the function must not be invoked for a refused token"


def test_no_token_is_refused_without_invoking_the_function(adapter, recorder):
    assert_refused(requests.get(f"{adapter.url}/districts/d1/schools", timeout=TIMEOUT), recorder)


def test_malformed_token_is_refused(adapter, recorder):
    assert_refused(requests.get(f"{adapter.url}/districts", headers=bearer("not-a-jwt"), timeout=TIMEOUT), recorder)
    assert_refused(
        requests.get(f"{adapter.url}/districts", headers={"Authorization": "Bearer "}, timeout=TIMEOUT), recorder
    )


def test_expired_token_is_refused(adapter, recorder, keys):
    token = issue_token(keys, "platform_admin", expires_in_s=60, now=time.time() - 3600)
    assert_refused(requests.get(f"{adapter.url}/districts", headers=bearer(token), timeout=TIMEOUT), recorder)


def test_token_signed_by_another_key_is_refused(adapter, recorder, keys, tmp_path):
    other = load_or_create_key_pair(tmp_path / "other-state")
    forged = issue_token(other, "platform_admin")
    assert_refused(requests.get(f"{adapter.url}/districts", headers=bearer(forged), timeout=TIMEOUT), recorder)
    # Same key id, but signed by the other key: the signature itself is checked.
    claims = jwt.decode(forged, options={"verify_signature": False})
    same_kid = jwt.encode(claims, other.private_key, algorithm="RS256", headers={"kid": keys.kid})
    assert_refused(requests.get(f"{adapter.url}/districts", headers=bearer(same_kid), timeout=TIMEOUT), recorder)


def test_tampered_claims_are_refused(adapter, recorder, keys):
    header, payload, signature = issue_token(keys, "teacher", district_id="d1").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["custom:role"] = "platform_admin"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert_refused(
        requests.get(
            f"{adapter.url}/districts", headers=bearer(f"{header}.{forged_payload}.{signature}"), timeout=TIMEOUT
        ),
        recorder,
    )


@pytest.mark.parametrize("claim, value", [("aud", "someone-elses-client"), ("iss", "https://issuer.example.com/pool")])
def test_wrong_audience_or_issuer_is_refused(adapter, recorder, keys, claim, value):
    token = issue_token(keys, "platform_admin", **{claim: value})
    assert_refused(requests.get(f"{adapter.url}/districts", headers=bearer(token), timeout=TIMEOUT), recorder)


def test_hs256_token_is_refused(adapter, recorder, keys):
    now = int(time.time())
    token = jwt.encode(
        {
            "sub": "x",
            "custom:role": "platform_admin",
            "iss": LOCAL_ISSUER,
            "aud": LOCAL_AUDIENCE,
            "iat": now,
            "exp": now + 600,
        },
        "a-shared-secret-of-at-least-32-bytes",
        algorithm="HS256",
        headers={"kid": keys.kid},
    )
    assert_refused(requests.get(f"{adapter.url}/districts", headers=bearer(token), timeout=TIMEOUT), recorder)


def test_valid_token_reaches_the_function_with_its_claims_as_strings(adapter, recorder, keys):
    token = issue_token(keys, "district_admin", district_id="dst_1", sub="user-7")
    response = requests.get(f"{adapter.url}/districts/dst_1/schools", headers=bearer(token), timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    (event,) = recorder.events
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "user-7"
    assert claims["custom:role"] == "district_admin"
    assert claims["custom:district_id"] == "dst_1"
    assert claims["iss"] == LOCAL_ISSUER and claims["aud"] == LOCAL_AUDIENCE
    assert claims["token_use"] == "id"
    assert all(isinstance(v, str) for v in claims.values())
    assert int(claims["exp"]) - int(claims["iat"]) == 3600
    assert event["requestContext"]["authorizer"]["jwt"]["scopes"] is None
    assert recorder.contexts[0].function_name.endswith("ApiFunction")
    assert 0 < recorder.contexts[0].get_remaining_time_in_millis() <= 29_000


def test_token_without_bearer_prefix_is_accepted_as_api_gateway_does(adapter, recorder, keys):
    token = issue_token(keys, "platform_admin")
    assert (
        requests.get(f"{adapter.url}/districts", headers={"Authorization": token}, timeout=TIMEOUT).status_code == 200
    )
    assert len(recorder.events) == 1


# ---------------------------------------------------------------- payload 2.0 events
def shape(value, free_maps=("headers", "claims", "queryStringParameters", "pathParameters"), key=None):
    """Keys and value types, recursively; free-form string maps only as `map<str>`."""
    if isinstance(value, dict):
        if key in free_maps:
            assert all(isinstance(v, str) for v in value.values()), key
            return "map<str>"
        return {k: shape(v, free_maps, k) for k, v in value.items()}
    if isinstance(value, list):
        return ["list", sorted({json.dumps(shape(v, free_maps)) for v in value})]
    return type(value).__name__


@pytest.mark.parametrize("sample", sorted(p.name for p in EVENTS.glob("api_*.json")))
def test_generated_event_has_the_sample_events_shape(adapter, recorder, keys, sample):
    """Replays the sample's request through the adapter: same keys and types at every level."""
    expected = json.loads((EVENTS / sample).read_text())
    claims = expected["requestContext"]["authorizer"]["jwt"]["claims"]
    token = issue_token(keys, claims["custom:role"], district_id=claims.get("custom:district_id"))
    headers = {
        k: v
        for k, v in expected["headers"].items()
        if k not in ("host", "content-length", "authorization") and not k.startswith("x-")
    }
    if expected.get("cookies"):
        headers["cookie"] = "; ".join(expected["cookies"])
    url = f"{adapter.url}{expected['rawPath']}"
    if expected["rawQueryString"]:
        url += f"?{expected['rawQueryString']}"
    requests.request(
        expected["requestContext"]["http"]["method"],
        url,
        headers={**headers, **bearer(token)},
        data=expected.get("body"),
        timeout=TIMEOUT,
    )
    (event,) = recorder.events
    assert shape(event) == shape(expected)
    assert event["rawPath"] == expected["rawPath"]
    assert event["rawQueryString"] == expected["rawQueryString"]
    assert event.get("queryStringParameters") == expected.get("queryStringParameters")
    assert event["pathParameters"] == expected["pathParameters"]
    assert event.get("body") == expected.get("body")
    assert event.get("cookies") == expected.get("cookies")
    assert event["requestContext"]["http"]["method"] == expected["requestContext"]["http"]["method"]
    sent = {k: v for k, v in headers.items() if k != "cookie"}
    assert {k: v for k, v in event["headers"].items() if k in sent} == sent


def test_repeated_headers_and_parameters_are_comma_joined(adapter, recorder, keys):
    connection = http.client.HTTPConnection("127.0.0.1", adapter.port, timeout=10)
    connection.putrequest("GET", "/districts/d1/users?role=teacher&schoolId=a&schoolId=b%20c&empty=")
    connection.putheader("Authorization", f"Bearer {issue_token(keys, 'platform_admin')}")
    connection.putheader("X-Thing", "one")
    connection.putheader("x-thing", "two")
    connection.putheader("Cookie", "a=1; b=2")
    connection.endheaders()
    assert connection.getresponse().status == 200
    (event,) = recorder.events
    assert event["headers"]["x-thing"] == "one,two"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["queryStringParameters"] == {"role": "teacher", "schoolId": "a,b c", "empty": ""}
    assert event["rawQueryString"] == "role=teacher&schoolId=a&schoolId=b%20c&empty="
    assert event["routeKey"] == "ANY /{proxy+}" and event["requestContext"]["stage"] == "$default"
    assert event["pathParameters"] == {"proxy": "districts/d1/users"}
    assert "body" not in event and event["isBase64Encoded"] is False


def test_binary_bodies_arrive_base64_encoded(adapter, recorder, keys):
    payload = bytes(range(256))
    requests.post(
        f"{adapter.url}/districts",
        data=payload,
        headers={**bearer(issue_token(keys, "platform_admin")), "Content-Type": "application/octet-stream"},
        timeout=TIMEOUT,
    )
    (event,) = recorder.events
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_json_bodies_arrive_as_text(adapter, recorder, keys):
    requests.post(
        f"{adapter.url}/districts",
        json={"name": "Lakeview"},
        headers=bearer(issue_token(keys, "platform_admin")),
        timeout=TIMEOUT,
    )
    (event,) = recorder.events
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"name": "Lakeview"}


def test_chunked_bodies_are_read_whole(adapter, recorder, keys):
    chunks = (part for part in [b'{"name": ', b'"Lake', b'view"}'])
    requests.post(
        f"{adapter.url}/districts",
        data=chunks,
        headers={**bearer(issue_token(keys, "platform_admin")), "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    (event,) = recorder.events
    assert json.loads(event["body"]) == {"name": "Lakeview"}
    assert event["headers"]["x-forwarded-port"] == str(adapter.port)


# ---------------------------------------------------------------- responses
def test_function_response_is_written_back_with_cookies_and_base64_bodies(keys):
    result = {
        "statusCode": 201,
        "headers": {"content-type": "image/png", "x-custom": "yes"},
        "cookies": ["s=1; Path=/", "t=2"],
        "body": base64.b64encode(b"\x89PNG\x00").decode(),
        "isBase64Encoded": True,
    }
    server = LocalHttpApi(keys, handler=Recorder(result=result)).start()
    try:
        response = requests.get(f"{server.url}/x", headers=bearer(issue_token(keys, "platform_admin")), timeout=TIMEOUT)
    finally:
        server.stop()
    assert response.status_code == 201
    assert response.content == b"\x89PNG\x00"
    assert response.headers["x-custom"] == "yes"
    assert response.raw.headers.getlist("set-cookie") == ["s=1; Path=/", "t=2"]


def test_a_failing_function_is_a_500_as_api_gateway_answers(keys):
    server = LocalHttpApi(keys, handler=Recorder(error=RuntimeError("boom"))).start()
    try:
        response = requests.get(f"{server.url}/x", headers=bearer(issue_token(keys, "platform_admin")), timeout=TIMEOUT)
    finally:
        server.stop()
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_openapi_document_is_served_without_a_token(adapter, recorder):
    response = requests.get(f"{adapter.url}/openapi.json", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"openapi": "3.1.0"}
    assert recorder.events == []


# ---------------------------------------------------------------- CORS and limits
def test_cors_preflight_from_a_localhost_origin_is_answered_without_a_token(adapter, recorder):
    response = requests.options(
        f"{adapter.url}/districts/d1/sis/connection",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=TIMEOUT,
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert set(response.headers["access-control-allow-methods"].split(",")) >= {"GET", "POST", "PUT", "DELETE"}
    assert set(response.headers["access-control-allow-headers"].split(",")) >= {"authorization", "content-type"}
    assert response.headers["access-control-max-age"] == "600"  # the template's MaxAge
    assert recorder.events == []


def test_cors_preflight_from_another_origin_gets_no_allow_headers(adapter):
    response = requests.options(
        f"{adapter.url}/districts",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 204
    assert not any(k.lower().startswith("access-control-allow") for k in response.headers)


def test_responses_carry_the_allowed_origin_and_drop_the_functions_own_cors_headers(keys):
    result = {"statusCode": 200, "headers": {"access-control-allow-origin": "*"}, "body": "{}"}
    server = LocalHttpApi(keys, handler=Recorder(result=result)).start()
    try:
        token = bearer(issue_token(keys, "platform_admin"))
        allowed = requests.get(f"{server.url}/x", headers={**token, "Origin": "http://127.0.0.1:8080"}, timeout=TIMEOUT)
        other = requests.get(
            f"{server.url}/x", headers={**token, "Origin": "https://evil.example.com"}, timeout=TIMEOUT
        )
        refused = requests.get(f"{server.url}/x", headers={"Origin": "http://localhost:3001"}, timeout=TIMEOUT)
    finally:
        server.stop()
    assert allowed.headers["access-control-allow-origin"] == "http://127.0.0.1:8080"
    assert "access-control-allow-origin" not in other.headers
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "http://localhost:3001"


def test_bodies_over_api_gateways_10_mb_limit_get_413_without_invoking_the_function(adapter, recorder, keys):
    with socket.create_connection(("127.0.0.1", adapter.port), timeout=10) as sock:
        sock.sendall(
            f"POST /districts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {issue_token(keys, 'platform_admin')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode()
        )
        reply = sock.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 413")
    assert recorder.events == []
    # Exactly at the limit is still accepted.
    response = requests.post(
        f"{adapter.url}/districts",
        data=b"x" * MAX_BODY_BYTES,
        headers={**bearer(issue_token(keys, "platform_admin")), "Content-Type": "text/plain"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    assert len(recorder.events) == 1
