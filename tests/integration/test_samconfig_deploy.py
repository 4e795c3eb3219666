"""`sam deploy --config-env dev|prod` reads everything a deploy needs from samconfig.toml: the
real SAM CLI, stopped where it first calls AWS (an endpoint where nothing listens)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("env, confirm", [("dev", False), ("prod", True)])
def test_sam_deploy_takes_stack_region_capabilities_and_parameters_from_the_environment(env, confirm, tmp_path):
    sam = Path(sys.executable).parent / "sam"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_MAX_ATTEMPTS="1",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{_closed_port()}",
        SAM_CLI_TELEMETRY="0",
        HOME=str(tmp_path),
    )
    answer = subprocess.run(
        [str(sam), "deploy", "--config-env", env, "--template-file", "template.yaml", "--debug"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    said = answer.stdout + answer.stderr
    assert answer.returncode != 0 and "Could not connect to the endpoint URL" in said  # it got as far as AWS
    line = next(line for line in said.splitlines() if "--stack_name=" in line)
    assert f"--stack_name=rostersync-{env}" in line and f"--s3_prefix=rostersync-{env}" in line
    assert "--resolve_s3" in line and "CAPABILITY_IAM" in line
    assert ("--confirm_changeset" in line.split()) is confirm
    assert f"'Stage': '{env}'" in line and "'AllowedOrigins':" in line
    assert "'region': 'us-east-1'" in said
