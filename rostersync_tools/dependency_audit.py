"""`make lint`'s dependency audit: pip-audit over the locks, offline-safe.

pip-audit asks a vulnerability service about each pinned version: PyPI's JSON API (one request
per release) or OSV. A service it cannot reach fails with a traceback; worse, a registry that
serves the simple index but not the per-release JSON answers "not found" for every package, which
pip-audit reports as "No known vulnerabilities found". So each service is probed first with a
release that has a published advisory (PROBE): only a service that finds it audits the locks.
When none does, the audit prints one plain WARNING line saying nothing was audited and passes, so
the rest of the lint still runs; ROSTERSYNC_AUDIT_REQUIRED=1 turns that into a failure (for a CI
that does reach a service).

Usage: python -m rostersync_tools.dependency_audit [LOCK ...]   (default: every lock of the repo)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCKS = (
    ROOT / "requirements-dev.lock",
    ROOT / "layers" / "core" / "requirements.lock",
    ROOT / "requirements-checkov.lock",
)
# requests 2.31.0: GHSA-9wx4-h78v-vm56 (CVE-2024-35195), fixed in 2.32.0. Any service with data finds it.
PROBE = "requests==2.31.0"
SERVICES = ("pypi", "osv")
REQUEST_TIMEOUT_S = 10  # per HTTP request (pip-audit's --timeout)
RUN_TIMEOUT_S = 120  # the whole pip-audit run
WARNING = "WARNING: dependency audit"
PIP_AUDIT = str(Path(sys.executable).parent / "pip-audit")


@dataclass
class Report:
    """What one pip-audit run said (or why it said nothing)."""

    vulnerable: list[str] = field(default_factory=list)  # "name version: ID (fixed in ...)"
    skipped: list[str] = field(default_factory=list)  # "name: reason"
    audited: int = 0
    error: str | None = None  # the run produced no report: unreachable, timed out, crashed


def pip_audit(requirement_files: list[Path], service: str) -> Report:
    """One pip-audit run over requirement files (every line pinned), without resolving anything."""
    command = [PIP_AUDIT, "--vulnerability-service", service]
    for path in requirement_files:
        command += ["--requirement", str(path)]
    command += ["--no-deps", "--disable-pip", "--format", "json", "--progress-spinner", "off"]
    command += ["--timeout", str(REQUEST_TIMEOUT_S)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)  # noqa: S603  (our own argv)
    except subprocess.TimeoutExpired:
        return Report(error=f"no answer within {RUN_TIMEOUT_S} s")
    try:
        document = json.loads(done.stdout)
    except json.JSONDecodeError:
        lines = done.stderr.strip().splitlines()
        return Report(error=lines[-1][:120] if lines else f"pip-audit exited {done.returncode} with no report")
    report = Report()
    for dependency in document.get("dependencies", []):
        if "skip_reason" in dependency:
            report.skipped.append(f"{dependency['name']}: {dependency['skip_reason']}")
            continue
        report.audited += 1
        for vuln in dependency.get("vulns", []):
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed release"
            report.vulnerable.append(f"{dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixed})")
    return report


def probe(service: str) -> str | None:
    """None when `service` answers with vulnerability data; otherwise why not."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "probe.txt"
        path.write_text(PROBE + "\n", encoding="utf-8")
        report = pip_audit([path], service)
    if report.error:
        return report.error
    if not report.vulnerable:
        return f"it does not know {PROBE}'s published advisory" + (f" ({report.skipped[0]})" if report.skipped else "")
    return None


def audit(locks: list[Path], say=print) -> int:
    """0 when no known vulnerability (or no service to ask, unless required); 1 otherwise."""
    names = ", ".join(_shown(path) for path in locks)
    with ThreadPoolExecutor(len(SERVICES)) as pool:
        problems = dict(zip(SERVICES, pool.map(probe, SERVICES), strict=True))
    service = next((s for s in SERVICES if problems[s] is None), None)
    if service is None:
        why = "; ".join(f"{s}: {problem}" for s, problem in problems.items())
        say(f"{WARNING}: NOT RUN, no vulnerability service reachable ({why}). {names} were not audited.")
        return 1 if os.environ.get("ROSTERSYNC_AUDIT_REQUIRED") == "1" else 0
    report = pip_audit(locks, service)
    if report.error:
        say(f"{WARNING}: NOT RUN, {service} stopped answering ({report.error}). {names} were not audited.")
        return 1 if os.environ.get("ROSTERSYNC_AUDIT_REQUIRED") == "1" else 0
    for line in report.skipped:
        say(f"{WARNING}: not audited: {line}")
    for line in report.vulnerable:
        say(f"known vulnerability: {line}")
    if report.vulnerable:
        say(f"{len(report.vulnerable)} known vulnerabilities in {names}: raise the pins (`make lock`)")
        return 1
    say(f"dependency audit ({service}): {report.audited} pinned releases in {names}, no known vulnerability")
    return 0


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str]) -> int:
    locks = [Path(arg).resolve() for arg in argv] or list(LOCKS)
    return audit(locks)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
