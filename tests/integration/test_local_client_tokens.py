"""API clients' access tokens on the local stack: minted by `rostersync local token --client app`,
checked as the HTTP API JWT authorizer checks them (no `aud`: the `client_id` must be one of its
audiences), passed on with their scopes; and a real machine client reading a roster end to end."""

import os
import subprocess
import sys
import time

import jwt
import pytest
import requests

from rostersync_tools.local.tokens import (
    LOCAL_ISSUER,
    InvalidToken,
    issue_client_token,
    load_or_create_key_pair,
    verify_token,
)
from tests.integration.test_local_http_adapter import Recorder, assert_refused, bearer

# Seconds a request to a loopback server may take: a hung one fails its test, not the whole run.
TIMEOUT = 30


@pytest.fixture
def keys(tmp_path):
    return load_or_create_key_pair(tmp_path / "state")


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def adapter(keys, recorder):
    from rostersync_tools.local.http_adapter import LocalHttpApi

    server = LocalHttpApi(keys, handler=recorder, openapi=lambda: "{}").start()
    yield server
    server.stop()


def test_a_client_token_reaches_the_function_with_its_scopes(adapter, recorder, keys):
    token = issue_client_token(keys, "app", district_id="dst_1")
    response = requests.get(f"{adapter.url}/districts/dst_1/users", headers=bearer(token), timeout=TIMEOUT)
    assert response.status_code == 200
    (event,) = recorder.events
    jwt_context = event["requestContext"]["authorizer"]["jwt"]
    assert jwt_context["scopes"] == ["roster/read:dst_1"]
    claims = jwt_context["claims"]
    assert claims["token_use"] == "access" and claims["client_id"] == claims["sub"] == "rostersync-local-app"
    assert "aud" not in claims and "custom:role" not in claims


def test_a_client_token_of_an_unknown_client_or_issuer_is_refused(adapter, recorder, keys):
    for extra in (
        {"client_id": "someone-elses-client"},
        {"iss": "https://elsewhere.example/pool"},
        {"exp": int(time.time()) - 10},
    ):
        token = issue_client_token(keys, "app", **extra)
        assert_refused(
            requests.get(f"{adapter.url}/districts/d/users", headers=bearer(token), timeout=TIMEOUT), recorder
        )
    without = jwt.encode(
        {
            "sub": "x",
            "iss": LOCAL_ISSUER,
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
            "token_use": "access",
            "scope": "roster/read",
        },
        keys.private_key,
        algorithm="RS256",
        headers={"kid": keys.kid},
    )
    with pytest.raises(InvalidToken):  # neither aud nor client_id
        verify_token(keys, without)


def test_the_command_mints_a_token_the_stack_accepts(tmp_path):
    from rostersync_tools.local.state import STATE_DIR_ENV

    env = {**os.environ, STATE_DIR_ENV: str(tmp_path / "state")}
    done = subprocess.run(
        [sys.executable, "-m", "rostersync_tools.cli", "local", "token", "--client", "app", "--district", "dst_9"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    claims = verify_token(load_or_create_key_pair(tmp_path / "state"), done.stdout.strip())
    assert claims["scope"] == "roster/read:dst_9"
    both = subprocess.run(
        [sys.executable, "-m", "rostersync_tools.cli", "local", "token", "--client", "app", "--role", "teacher"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert both.returncode == 2  # one or the other
