"""Each tool of `make lint` fails on a planted mistake (with the project's own configuration), so
that a green lint means the tools looked, not that they could not see."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rostersync_tools import dependency_audit

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
PYPROJECT = ROOT / "pyproject.toml"


def run(*args, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=timeout, check=False)


def test_ruff_finds_an_unused_import_and_a_request_without_timeout(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("import os\n\nimport requests\n\n\ndef fetch(url):\n    return requests.get(url)\n")
    done = run(str(BIN / "ruff"), "check", "--config", str(PYPROJECT), "--no-cache", str(planted))
    assert done.returncode == 1, done.stdout
    assert "F401" in done.stdout and "S113" in done.stdout  # pyflakes, and bandit's rules through ruff


def test_ruff_format_check_finds_unformatted_code(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def f( a,b ):\n  return {'a':a,'b':b}\n")
    done = run(str(BIN / "ruff"), "format", "--check", "--config", str(PYPROJECT), "--no-cache", str(planted))
    assert done.returncode == 1 and "would be reformatted" in done.stdout


def test_mypy_finds_an_attribute_read_on_optional_state(tmp_path):
    planted = tmp_path / "planted_state.py"
    planted.write_text(
        "from dataclasses import dataclass\n\n\n"
        "@dataclass\nclass RunState:\n    grades: list[str]\n\n\n"
        "@dataclass\nclass Engine:\n    state: RunState | None = None\n\n"
        "    def grades(self) -> list[str]:\n        return self.state.grades\n"
    )
    done = run(str(BIN / "mypy"), "--config-file", str(PYPROJECT), "--cache-dir", str(tmp_path / "cache"), str(planted))
    assert done.returncode == 1, done.stdout
    assert 'Item "None" of "RunState | None" has no attribute "grades"' in done.stdout


def test_checkov_finds_a_public_bucket_an_unencrypted_queue_and_a_wildcard_policy(tmp_path):
    planted = tmp_path / "template.yaml"
    planted.write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n"
        "  Bucket:\n    Type: AWS::S3::Bucket\n"
        "  Queue:\n    Type: AWS::SQS::Queue\n"
        "  Role:\n    Type: AWS::IAM::Role\n    Properties:\n"
        "      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, "
        "Principal: {Service: lambda.amazonaws.com}, Action: 'sts:AssumeRole'}]}\n"
        "      Policies:\n        - PolicyName: everything\n"
        "          PolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: '*', Resource: '*'}]}\n"
    )
    done = run("make", "--no-print-directory", "-s", "lint-policy", f"POLICY_TEMPLATE={planted}")
    assert done.returncode != 0, done.stdout
    assert "CKV_AWS_53" in done.stdout  # S3 public ACLs not blocked
    assert "CKV_AWS_27" in done.stdout  # SQS encryption at rest
    assert "CKV_AWS_63" in done.stdout or "CKV_AWS_62" in done.stdout  # "*" actions


def test_checkov_counts_a_template_it_cannot_parse_as_a_finding(tmp_path):
    planted = tmp_path / "template.yaml"
    planted.write_text("Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Metadata: reason: a: colon\n")
    done = run("make", "--no-print-directory", "-s", "lint-policy", f"POLICY_TEMPLATE={planted}")
    assert done.returncode != 0 and "could not parse" in done.stdout


def test_the_audit_fails_on_a_known_vulnerable_pin_or_says_plainly_it_could_not_ask(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("requests==2.31.0\n")  # GHSA-9wx4-h78v-vm56, fixed in 2.32.0
    env = {k: v for k, v in os.environ.items() if k != "ROSTERSYNC_AUDIT_REQUIRED"}
    done = subprocess.run(
        [sys.executable, "-m", "rostersync_tools.dependency_audit", str(lock)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=False,
    )
    if "WARNING: dependency audit: NOT RUN" in done.stdout:  # no vulnerability service from here
        assert done.returncode == 0
        assert str(lock) in done.stdout and "were not audited" in done.stdout
    else:
        assert done.returncode == 1, done.stdout
        assert "known vulnerability: requests 2.31.0" in done.stdout


# The audit's decisions against a stand-in pip-audit (canned reports), with or without a service.


@pytest.fixture
def fake_pip_audit(tmp_path, monkeypatch):
    """A pip-audit that answers from `answers[service]`: a report (dict), or None for a crash
    with no report (an unreachable service)."""
    answers: dict = {}
    script = tmp_path / "pip-audit"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"answers = json.loads(open({str(tmp_path / 'answers.json')!r}).read())\n"
        "service = sys.argv[sys.argv.index('--vulnerability-service') + 1]\n"
        "files = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == '--requirement']\n"
        "probe = any('probe' in f for f in files)\n"
        "answer = answers.get(service + (':probe' if probe else ':audit'))\n"
        "if answer is None:\n"
        "    sys.exit('requests.exceptions.ConnectionError: Failed to resolve ' + service)\n"
        "print(json.dumps(answer))\n"
        "sys.exit(1 if any(d.get('vulns') for d in answer['dependencies']) else 0)\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(dependency_audit, "PIP_AUDIT", str(script))
    monkeypatch.delenv("ROSTERSYNC_AUDIT_REQUIRED", raising=False)

    def answer(**by_key):
        answers.update(by_key)
        (tmp_path / "answers.json").write_text(json.dumps(answers))

    answer()
    return answer


PROBE_FOUND = {"dependencies": [{"name": "requests", "version": "2.31.0", "vulns": [{"id": "GHSA-9wx4-h78v-vm56"}]}]}
NOT_ON_PYPI = {"dependencies": [{"name": "requests", "skip_reason": "Dependency not found on PyPI"}]}


def audit(lock) -> tuple[int, list[str]]:
    said: list[str] = []
    return dependency_audit.audit([lock], say=said.append), said


def test_a_reachable_service_that_finds_a_vulnerability_fails_the_audit(fake_pip_audit, tmp_path):
    fake_pip_audit(
        **{
            "pypi:probe": PROBE_FOUND,
            "pypi:audit": {
                "dependencies": [
                    {"name": "jinja2", "version": "3.1.2", "vulns": [{"id": "PYSEC-1", "fix_versions": ["3.1.3"]}]},
                    {"name": "six", "version": "1.16.0", "vulns": []},
                ]
            },
        }
    )
    status, said = audit(tmp_path / "x.lock")
    assert status == 1
    assert "known vulnerability: jinja2 3.1.2: PYSEC-1 (fixed in 3.1.3)" in said


def test_a_clean_audit_passes_and_counts_what_it_audited(fake_pip_audit, tmp_path):
    fake_pip_audit(
        **{"pypi:probe": PROBE_FOUND, "pypi:audit": {"dependencies": [{"name": "six", "version": "1.16", "vulns": []}]}}
    )
    status, said = audit(tmp_path / "x.lock")
    assert status == 0 and "1 pinned releases" in said[-1]


def test_a_mirror_that_knows_no_release_is_not_taken_for_a_clean_audit(fake_pip_audit, tmp_path, monkeypatch):
    # PyPI's simple index without its per-release JSON: every package "not found"; OSV unreachable.
    fake_pip_audit(**{"pypi:probe": NOT_ON_PYPI, "pypi:audit": {"dependencies": []}})
    status, said = audit(tmp_path / "x.lock")
    assert status == 0
    assert said[0].startswith("WARNING: dependency audit: NOT RUN, no vulnerability service reachable")
    assert "osv: requests.exceptions.ConnectionError" in said[0]
    monkeypatch.setenv("ROSTERSYNC_AUDIT_REQUIRED", "1")
    assert audit(tmp_path / "x.lock")[0] == 1


def test_the_second_service_audits_when_the_first_cannot(fake_pip_audit, tmp_path):
    fake_pip_audit(
        **{
            "osv:probe": PROBE_FOUND,
            "osv:audit": {"dependencies": [{"name": "idna", "version": "3.6", "vulns": [{"id": "GHSA-x"}]}]},
        }
    )
    status, said = audit(tmp_path / "x.lock")
    assert status == 1 and "known vulnerability: idna 3.6: GHSA-x (fixed in no fixed release)" in said
