"""The layer that sam build makes (layers/core/Makefile): the same bytes every time, exactly the
lock's packages for Linux arm64, and no AWS SDK next to the runtime's."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rostersync_tools import dependency_locks as locks

LAYER_DIR = Path(__file__).resolve().parents[2] / "layers" / "core"


def _build(artifacts: Path) -> Path:
    env = dict(os.environ, ARTIFACTS_DIR=str(artifacts), PIP=f"{sys.executable} -m pip")
    subprocess.run(
        ["make", "--no-print-directory", "-s", "build-CoreLayer"],
        cwd=LAYER_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return artifacts / "python"


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("layer-a")), _build(tmp_path_factory.mktemp("layer-b"))


def test_two_builds_of_the_same_commit_are_the_same_layer(two_builds):
    first, second = two_builds
    assert _tree_digest(first) == _tree_digest(second)


def test_the_layer_holds_the_locks_packages_and_no_aws_sdk(two_builds):
    layer = two_builds[0]
    shipped = {p.name.split("-")[0].lower().replace("_", "-") for p in layer.glob("*.dist-info")}
    assert shipped == set(locks.read_lock(locks.LAYER_LOCK))
    for sdk in ("botocore", "boto3", "s3transfer", "aws_xray_sdk"):
        assert not (layer / sdk).exists()
    assert (layer / "rostersync" / "api" / "app.py").is_file()
    assert not list(layer.rglob("*.pyc"))
    assert list(layer.glob("pydantic_core/*aarch64-linux-gnu.so")), "not built for Lambda's arm64"
