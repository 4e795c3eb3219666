"""`rostersync local up|token|tick` as a user runs them: separate processes, one state directory."""

import json
import os
import stat
import subprocess

import pytest
import requests

from tests.fixtures.stack import LocalUpProcess, rostersync_command, subprocess_env

pytestmark = pytest.mark.e2e


def test_local_up_answers_checks_tokens_and_stops_cleanly_on_sigint(local_up):
    assert local_up.ready_line.startswith(f"ready api={local_up.api_url} aws=http://127.0.0.1:{local_up.aws_port}")
    assert "sis=" not in local_up.ready_line

    url = f"{local_up.api_url}/districts/x/schools"
    assert requests.get(url, timeout=10).status_code == 401
    platform = local_up.token("platform_admin")
    answered = requests.get(url, headers={"Authorization": f"Bearer {platform}"}, timeout=30)
    assert answered.status_code != 401, "a token from `local token` must reach the API function"

    key = local_up.state_dir / "local-jwt-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    state = json.loads((local_up.state_dir / "local-stack.json").read_text())
    assert state["api"] == local_up.api_url and state["pid"] == local_up.process.pid

    assert local_up.interrupt() == 0
    assert not (local_up.state_dir / "local-stack.json").exists()
    assert "Traceback" not in local_up.stderr()
    # Only request lines are logged: never the token.
    assert platform not in local_up.stderr()


def test_tokens_survive_a_restart(tmp_path):
    state_dir = tmp_path / "state"
    first = LocalUpProcess(state_dir).start()
    try:
        token = first.token("district_admin", "dst_1")
        assert first.interrupt() == 0
    finally:
        first.kill()
    second = LocalUpProcess(state_dir).start()
    try:
        response = requests.get(f"{second.api_url}/districts/dst_1/schools",
                                headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert response.status_code != 401
        assert second.interrupt() == 0
    finally:
        second.kill()


def test_local_tick_runs_the_dispatcher_against_the_running_stack(local_up):
    result = local_up.run("local", "tick", "--time", "2026-12-02T10:00:00Z")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.strip().splitlines()
    assert line.startswith("tick 2026-12-02T10:00:00Z: dispatcher returned ")


def test_local_tick_without_a_running_stack_says_so(tmp_path):
    result = subprocess.run([rostersync_command(), "local", "tick", "--time", "2026-12-02T10:00:00Z"],
                            capture_output=True, text=True, env=subprocess_env(tmp_path / "nothing-here"), timeout=60)
    assert result.returncode != 0
    assert "no local stack is running" in result.stderr
    assert "rostersync local up" in result.stderr


def test_local_token_prints_only_the_token_on_its_last_line(tmp_path):
    result = subprocess.run([rostersync_command(), "local", "token", "--role", "teacher", "--district", "dst_9",
                             "--sub", "t-1", "--expires-in", "120"],
                            capture_output=True, text=True, env=subprocess_env(tmp_path / "state"), timeout=60)
    assert result.returncode == 0
    token = result.stdout.strip().splitlines()[-1]
    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["custom:role"] == "teacher" and claims["custom:district_id"] == "dst_9" and claims["sub"] == "t-1"
    assert claims["exp"] - claims["iat"] == 120
    assert os.stat(tmp_path / "state" / "local-jwt-key.pem").st_mode & 0o077 == 0
