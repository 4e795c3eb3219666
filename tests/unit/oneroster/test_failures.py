"""Retries with backoff and jitter, Retry-After, timeouts, and the typed error for each
way a server can fail."""

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from rostersync.oneroster import RetryPolicy
from rostersync.oneroster.errors import (
    BadResponse,
    InsufficientScope,
    InvalidCredentials,
    NotOneRoster,
    RequestRejected,
    ServerError,
    UnreachableHost,
)

from .fake_sis import BASE, Reply, make_users

USERS = BASE + "/users"


def test_backoff_is_full_jitter_capped():
    top = RetryPolicy(base_delay=0.5, max_delay=4.0, random=lambda: 0.999999)
    bottom = RetryPolicy(base_delay=0.5, max_delay=4.0, random=lambda: 0.0)
    assert [round(top.backoff(a), 3) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(bottom.backoff(a) == 0 for a in range(6))


def test_retry_after_seconds_and_http_dates():
    now = datetime(2026, 11, 2, 10, 0, 0, tzinfo=UTC)
    policy = RetryPolicy(retry_after_cap=30.0, now=lambda: now)
    assert policy.delay(0, "3") == 3.0
    assert policy.delay(0, "3600") == 30.0  # capped
    assert policy.delay(0, format_datetime(now + timedelta(seconds=7), usegmt=True)) == 7.0
    assert policy.delay(0, format_datetime(now - timedelta(seconds=7), usegmt=True)) == 0.0
    assert policy.parse_retry_after("soon") is None


def test_429_honours_retry_after(make_fake, make_client, sleeps):
    fake = make_fake(data={"users": make_users(2)})
    fake.fail(USERS, Reply(429, {"error": "slow down"}, {"Retry-After": "2"}))
    client = make_client(fake, auth_method="oauth1")
    assert len(list(client.stream("users"))) == 2
    assert sleeps == [2.0]


def test_5xx_retries_then_succeeds(make_fake, make_client, sleeps):
    fake = make_fake(data={"users": make_users(2)})
    fake.fail(USERS, Reply(500), Reply(502, "<html>Bad gateway</html>"), Reply(503))
    client = make_client(fake, auth_method="oauth1")
    assert len(list(client.stream("users"))) == 2
    assert len(sleeps) == 3 and all(0 <= s <= 0.05 for s in sleeps)


def test_5xx_after_every_retry_is_a_server_error(make_fake, make_client, sleeps):
    fake = make_fake(data={"users": []})
    fake.fail(USERS, *[Reply(503, "<html><h1>Service Unavailable</h1></html>")] * 4)
    client = make_client(fake, auth_method="oauth1")
    with pytest.raises(ServerError) as failed:
        list(client.stream("users"))
    assert failed.value.status == 503 and failed.value.endpoint == USERS
    assert "HTML" in str(failed.value)
    assert len(sleeps) == 3 and len(fake.data_requests("users")) == 4


def test_429_after_every_retry_is_a_server_error(make_fake, make_client):
    fake = make_fake(data={"users": []})
    fake.fail(USERS, *[Reply(429, headers={"Retry-After": "0"})] * 4)
    client = make_client(fake, auth_method="oauth1")
    with pytest.raises(ServerError) as failed:
        list(client.stream("users"))
    assert failed.value.status == 429


def test_truncated_json_is_retried(make_fake, make_client):
    fake = make_fake(data={"users": make_users(3)})
    fake.fail(USERS, Reply(200, {"users": make_users(50)}, action="truncate"))
    client = make_client(fake, auth_method="oauth1")
    assert len(list(client.stream("users"))) == 3


def test_invalid_json_is_retried_then_bad_response(make_fake, make_client):
    fake = make_fake(data={"users": make_users(3)})
    fake.fail(USERS, Reply(200, b'{"users": [{"sourcedId": "a"'))
    client = make_client(fake, auth_method="oauth1")
    assert len(list(client.stream("users"))) == 3
    fake.fail(USERS, *[Reply(200, b'{"users": [') for _ in range(4)])
    with pytest.raises(BadResponse) as bad:
        list(client.stream("users"))
    assert bad.value.endpoint == USERS


def test_always_truncated_is_a_bad_response(make_fake, make_client):
    fake = make_fake(data={"users": []})
    fake.fail(USERS, *[Reply(200, {"users": make_users(20)}, action="truncate") for _ in range(4)])
    client = make_client(fake, auth_method="oauth1")
    with pytest.raises(BadResponse):
        list(client.stream("users"))


def test_dropped_connections_are_retried(make_fake, make_client):
    fake = make_fake(data={"users": make_users(3)})
    fake.fail(USERS, Reply(action="drop"), Reply(action="drop"))
    client = make_client(fake, auth_method="oauth1")
    assert len(list(client.stream("users"))) == 3


def test_always_dropped_is_unreachable(make_fake, make_client):
    fake = make_fake(data={"users": []})
    fake.fail(USERS, *[Reply(action="drop") for _ in range(4)])
    client = make_client(fake, auth_method="oauth1")
    with pytest.raises(UnreachableHost) as failed:
        list(client.stream("users"))
    assert failed.value.endpoint == USERS and failed.value.status is None


def test_read_timeout_is_retried_then_unreachable(make_fake, make_client):
    fake = make_fake(data={"users": make_users(1)})
    fake.fail(USERS, Reply(200, {"users": []}, delay=0.5))
    client = make_client(fake, auth_method="oauth1", read_timeout=0.15)
    assert len(list(client.stream("users"))) == 1
    fake.fail(USERS, *[Reply(200, {"users": []}, delay=0.4) for _ in range(4)])
    with pytest.raises(UnreachableHost) as failed:
        list(client.stream("users"))
    assert "timeout" in str(failed.value) or "in time" in str(failed.value)


def test_connection_refused_is_unreachable(make_client, sleeps):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    class Closed:
        host_url = f"http://127.0.0.1:{port}"
        client_id = "id"
        client_secret = "secret"

    client = make_client(Closed, auth_method="oauth1")
    with pytest.raises(UnreachableHost):
        list(client.stream("users"))
    assert len(sleeps) == 3


def test_unresolvable_name_is_unreachable_without_retries(make_client, sleeps):
    class Nowhere:
        host_url = "http://nowhere.invalid"
        client_id = "id"
        client_secret = "secret"

    client = make_client(Nowhere, auth_method="oauth1")
    with pytest.raises(UnreachableHost) as failed:
        list(client.stream("users"))
    assert "DNS" in str(failed.value) and sleeps == []


@pytest.mark.parametrize(
    "reply, error, text",
    [
        (Reply(403, {"imsx_codeMajor": "failure", "imsx_CodeMinor": "forbidden"}), InsufficientScope, "forbidden"),
        (Reply(404, "<html>nope</html>"), NotOneRoster, "HTML"),
        (Reply(200, "<!DOCTYPE html><html>Login</html>"), NotOneRoster, "HTML"),
        (
            Reply(
                400,
                {
                    "imsx_codeMajor": "failure",
                    "imsx_CodeMinor": "invalid_filter_field",
                    "imsx_description": "bad field",
                },
            ),
            RequestRejected,
            "invalid_filter_field: bad field",
        ),
        (
            Reply(
                200,
                {
                    "imsx_codeMajor": "failure",
                    "imsx_severity": "error",
                    "imsx_CodeMinor": "storage_failure",
                    "imsx_description": "disk",
                },
            ),
            ServerError,
            "storage_failure: disk",
        ),
        (
            Reply(
                200,
                {
                    "statusInfoSet": [
                        {
                            "imsx_codeMajor": "failure",
                            "imsx_codeMinor": "unauthorisedrequest",
                            "imsx_description": "token expired",
                        }
                    ]
                },
            ),
            InvalidCredentials,
            "token expired",
        ),
        (
            Reply(
                200,
                {"statusInfoSet": {"imsx_statusInfo": [{"imsx_codeMajor": "unsupported", "imsx_description": "no"}]}},
            ),
            NotOneRoster,
            "unsupported",
        ),
        (
            Reply(
                200,
                {
                    "imsx_codeMajor": "failure",
                    "imsx_CodeMinor": {
                        "imsx_codeMinorField": [
                            {
                                "imsx_codeMinorFieldName": "TargetEndSystem",
                                "imsx_codeMinorFieldValue": "unknown_failure",
                            }
                        ]
                    },
                },
            ),
            ServerError,
            "unknown_failure",
        ),
        (Reply(200, {"error": "database offline"}), ServerError, "database offline"),
        (
            Reply(400, {"error": {"code": "bad_request", "message": "limit too large"}}),
            RequestRejected,
            "limit too large",
        ),
        (Reply(200, [1, 2]), NotOneRoster, "not a OneRoster"),
    ],
)
def test_error_payloads_become_typed_errors(make_fake, make_client, reply, error, text):
    fake = make_fake(data={"users": []})
    fake.fail(USERS, reply)
    client = make_client(fake, auth_method="oauth1")
    with pytest.raises(error) as failed:
        list(client.stream("users"))
    assert text in str(failed.value)
    assert failed.value.endpoint == USERS
    assert failed.value.code == error.code


def test_a_200_saying_server_busy_is_retried_like_a_503(make_fake, make_client, sleeps):
    busy = Reply(
        200, {"imsx_statusInfo": {"imsx_codeMajor": "failure", "imsx_CodeMinor": "server_busy"}}, {"Retry-After": "1"}
    )
    fake = make_fake(data={"users": make_users(2)})
    fake.fail(USERS, busy)
    client = make_client(fake, auth_method="oauth1")
    assert len(list(client.stream("users"))) == 2 and sleeps == [1.0]
    fake.fail(USERS, *[busy] * 4)
    with pytest.raises(ServerError) as failed:
        list(client.stream("users"))
    assert "server_busy" in str(failed.value)


def test_401_with_imsx_is_invalid_credentials_with_the_servers_words(make_fake, make_client):
    fake = make_fake(data={"users": []})
    fake.revoked = True
    client = make_client(fake, auth_method="oauth1")
    with pytest.raises(InvalidCredentials) as refused:
        list(client.stream("users"))
    assert "unauthorisedrequest: revoked" in str(refused.value)


def test_404_on_a_collection_is_not_oneroster_but_none_for_a_record(make_fake, make_client):
    fake = make_fake(data={"users": make_users(1)})
    client = make_client(fake, auth_method="oauth1")
    with pytest.raises(NotOneRoster) as missing:
        list(client.stream("classes"))
    assert missing.value.status == 404
    assert client.get("users", "u99999") is None


def test_a_tls_failure_is_unreachable_without_retries(make_fake, make_client, sleeps):
    fake = make_fake(data={"users": []})  # speaks plain HTTP: the TLS handshake fails

    class Https:
        host_url = fake.host_url.replace("http://", "https://")
        client_id = fake.client_id
        client_secret = fake.client_secret

    client = make_client(Https, auth_method="oauth1")
    with pytest.raises(UnreachableHost) as failed:
        list(client.stream("users"))
    assert "TLS" in str(failed.value) and sleeps == []
