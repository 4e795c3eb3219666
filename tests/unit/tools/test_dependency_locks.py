"""The locks are what gets installed (make venv, the layer): they must agree with the requirements."""

import shutil
from importlib import metadata

import pytest

from rostersync_tools import dependency_locks as locks


def test_the_committed_locks_agree_with_pyproject_and_the_layer_requirements():
    assert locks.check() == []


def test_every_layer_dependency_is_in_the_layer_or_the_lambda_runtime():
    def requires(name):
        try:
            return metadata.requires(name)
        except metadata.PackageNotFoundError:
            return None

    assert locks.layer_closure_problems(requires) == []


def test_the_layer_ships_no_aws_sdk_and_no_xray_sdk():
    shipped = locks.read_lock(locks.LAYER_LOCK)
    assert {"botocore", "boto3", "s3transfer", "aws-xray-sdk"}.isdisjoint(shipped)
    assert {"pynamodb", "aws-lambda-powertools", "pydantic", "requests"} <= shipped.keys()


@pytest.fixture
def project_copy(tmp_path, monkeypatch):
    """The lock module pointed at a copy of the project's requirement files."""
    (tmp_path / "layers" / "core").mkdir(parents=True)
    for path in (locks.PYPROJECT, locks.LAYER_REQUIREMENTS, locks.DEV_LOCK, locks.LAYER_LOCK, locks.CHECKOV_LOCK):
        target = tmp_path / path.relative_to(locks.ROOT)
        shutil.copy(path, target)
        monkeypatch.setattr(
            locks,
            {
                locks.PYPROJECT: "PYPROJECT",
                locks.LAYER_REQUIREMENTS: "LAYER_REQUIREMENTS",
                locks.DEV_LOCK: "DEV_LOCK",
                locks.LAYER_LOCK: "LAYER_LOCK",
                locks.CHECKOV_LOCK: "CHECKOV_LOCK",
            }[path],
            target,
        )
    monkeypatch.setattr(locks, "ROOT", tmp_path)
    return tmp_path


def test_a_requirement_added_without_relocking_is_reported(project_copy):
    requirements = project_copy / "layers" / "core" / "requirements.txt"
    requirements.write_text(requirements.read_text() + "cryptography>=42\n")
    problems = locks.check()
    assert any("not made from the current requirements" in p for p in problems)
    assert any("lacks cryptography" in p for p in problems)


def test_a_range_the_pin_falls_outside_is_reported(project_copy):
    pyproject = project_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"pytest>=8"', '"pytest>=99"'))
    locks.stamp(locks.DEV_LOCK, locks.inputs_digest())  # even a fresh stamp does not hide it
    locks.stamp(locks.LAYER_LOCK, locks.inputs_digest())
    assert any("outside pytest>=99" in p for p in locks.check())


def test_an_sdk_in_the_layer_lock_or_a_missing_hash_is_reported(project_copy):
    lock = project_copy / "layers" / "core" / "requirements.lock"
    lock.write_text(lock.read_text() + "botocore==1.0.0\n")
    problems = locks.check()
    assert any("ships botocore" in p for p in problems)
    assert any("botocore has no hash" in p for p in problems)


def test_layer_and_dev_pins_must_match(project_copy):
    lock = project_copy / "layers" / "core" / "requirements.lock"
    pin = locks.read_lock(lock)["pynamodb"]
    lock.write_text(lock.read_text().replace(f"pynamodb=={pin.version}", "pynamodb==6.0.9"))
    assert any("the layer pins pynamodb==6.0.9" in p for p in locks.check())


def test_checkov_outside_its_group_range_or_unstamped_is_reported(project_copy):
    pyproject = project_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('checkov = ["checkov>=3.2"]', 'checkov = ["checkov>=99"]'))
    problems = locks.check()
    assert any("requirements-checkov.lock was not made from the current requirements" in p for p in problems)
    assert any("outside checkov>=99" in p for p in problems)
