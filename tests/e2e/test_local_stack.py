"""`rostersync local up|token|tick` as a user runs them: separate processes, one state directory.

Starting `local up` costs a few seconds, so the lifecycle test walks through everything one
running stack should do, then restarts it to show tokens survive."""

import json
import os
import re
import stat
import subprocess

import jwt
import pytest
import requests

from tests.fixtures.stack import LocalUpProcess, rostersync_command, subprocess_env

pytestmark = pytest.mark.e2e


def test_local_up_token_tick_and_a_clean_stop_then_tokens_survive_a_restart(tmp_path):
    state_dir = tmp_path / "state"
    stack = LocalUpProcess(state_dir).start()
    try:
        assert stack.ready_line.startswith(f"ready api={stack.api_url} aws=http://127.0.0.1:{stack.aws_port}")
        assert "sis=" not in stack.ready_line

        # The authorizer: no token 401 without reaching the function; a `local token` passes.
        url = f"{stack.api_url}/districts/x/schools"
        assert requests.get(url, timeout=10).status_code == 401
        platform = stack.token("platform_admin")
        assert requests.get(url, headers={"Authorization": f"Bearer {platform}"}, timeout=30).status_code != 401
        assert stat.S_IMODE((state_dir / "local-jwt-key.pem").stat().st_mode) == 0o600
        state = json.loads((state_dir / "local-stack.json").read_text())
        assert state["api"] == stack.api_url and state["pid"] == stack.process.pid

        # The dispatcher, once, as EventBridge would at that instant (nothing is due here).
        tick = stack.run("local", "tick", "--time", "2026-12-02T10:00:00Z")
        assert tick.returncode == 0, tick.stderr
        (line,) = tick.stdout.strip().splitlines()
        assert line.startswith("tick 2026-12-02T10:00:00Z: dispatcher returned ")

        # The OpenAPI document: printed by the command, served by the adapter without a token.
        printed = stack.run("openapi")
        assert printed.returncode == 0, printed.stderr
        document = json.loads(printed.stdout)
        assert any(path.startswith("/districts") for path in document["paths"])
        served = requests.get(f"{stack.api_url}/openapi.json", timeout=30)
        assert served.status_code == 200 and served.json()["paths"] == document["paths"]

        assert stack.interrupt() == 0
        assert stack.process.stdout.read() == "", "stdout carries the ready line and nothing else"
        assert not (state_dir / "local-stack.json").exists()
        log = stack.stderr()
        assert "Traceback" not in log
        assert "GET /districts/x/schools -> 401" in log  # request lines are logged...
        assert platform not in log  # ...never tokens
    finally:
        stack.kill()

    again = LocalUpProcess(state_dir).start()
    try:
        response = requests.get(
            url.replace(stack.api_url, again.api_url), headers={"Authorization": f"Bearer {platform}"}, timeout=30
        )
        assert response.status_code != 401, "the key pair in the state directory is reused"
        assert again.interrupt() == 0
    finally:
        again.kill()


def test_local_up_with_the_sandbox_sis(tmp_path):
    stack = LocalUpProcess(tmp_path / "state", sis=True).start()
    try:
        sis_url = stack.ready_line.split("sis=", 1)[1]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/ims/oneroster/v1p1", sis_url)
        assert requests.get(f"{sis_url}/schools", timeout=10).status_code == 401  # it answers, and wants credentials
        assert stack.interrupt() == 0
    finally:
        stack.kill()


def test_local_tick_without_a_running_stack_says_so(tmp_path):
    result = subprocess.run(
        [rostersync_command(), "local", "tick", "--time", "2026-12-02T10:00:00Z"],
        capture_output=True,
        text=True,
        env=subprocess_env(tmp_path / "nothing-here"),
        timeout=60,
    )
    assert result.returncode != 0
    assert "no local stack is running" in result.stderr
    assert "rostersync local up" in result.stderr


def test_local_token_prints_only_the_token_on_its_last_line(tmp_path):
    result = subprocess.run(
        [
            rostersync_command(),
            "local",
            "token",
            "--role",
            "teacher",
            "--district",
            "dst_9",
            "--sub",
            "t-1",
            "--expires-in",
            "120",
        ],
        capture_output=True,
        text=True,
        env=subprocess_env(tmp_path / "state"),
        timeout=60,
    )
    assert result.returncode == 0
    token = result.stdout.strip().splitlines()[-1]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["custom:role"] == "teacher" and claims["custom:district_id"] == "dst_9" and claims["sub"] == "t-1"
    assert claims["exp"] - claims["iat"] == 120
    assert os.stat(tmp_path / "state" / "local-jwt-key.pem").st_mode & 0o077 == 0


def test_help_lists_every_command(tmp_path):
    result = subprocess.run(
        [rostersync_command(), "--help"], capture_output=True, text=True, timeout=30, env=subprocess_env(tmp_path)
    )
    assert result.returncode == 0
    for command in ("local", "sandbox-sis", "ops", "openapi", "demo"):
        assert command in result.stdout
