"""The dependency locks and what they must agree with.

- `requirements-dev.lock`: everything `make venv` installs (pyproject.toml's dev extras and the
  layer's requirements), for every platform, each file's hash;
- `layers/core/requirements.lock`: what the Lambda layer ships (layers/core/Makefile), the same
  versions, Linux arm64, without the AWS SDK that the Lambda runtime provides;
- `requirements-checkov.lock`: checkov, in a venv of its own (pyproject.toml's [dependency-groups]).

`make lock` writes both and then `python -m rostersync_tools.dependency_locks stamp` records a digest of
the requirements they were made from; `check()` (tests/unit/tools/test_locks.py) says what
disagrees.
"""

from __future__ import annotations

import hashlib
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LAYER_REQUIREMENTS = ROOT / "layers" / "core" / "requirements.txt"
DEV_LOCK = ROOT / "requirements-dev.lock"
LAYER_LOCK = ROOT / "layers" / "core" / "requirements.lock"
CHECKOV_LOCK = ROOT / "requirements-checkov.lock"
# The Lambda python3.13 runtime ships boto3 and botocore and what they need. A second copy in
# the layer would shadow the runtime's and drift from it.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "python-dateutil", "six"})
# Never in the layer: the AWS SDK, and the X-Ray SDK (nothing is traced; it brings botocore).
NOT_IN_LAYER = RUNTIME_PROVIDED | {"aws-xray-sdk"}
STAMP_PREFIX = "# inputs-sha256: "

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: tuple[str, ...]


def read_lock(path: Path) -> dict[str, Pin]:
    """name -> Pin for every `name==version \\ --hash=...` entry of a pip requirements lock."""
    pins: dict[str, tuple[str, list[str]]] = {}  # name -> (version, hashes)
    hashes: list[str] | None = None  # those of the pin being read
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            hashes = []
            pins[canonicalize_name(match.group(1))] = (match.group(2), hashes)
        elif hashes is not None and line.startswith(" "):
            hashes.extend(_HASH.findall(line))
        else:
            hashes = None
    return {name: Pin(name, version, tuple(found)) for name, (version, found) in pins.items()}


def layer_requirements() -> list[Requirement]:
    lines = LAYER_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    return [Requirement(line.split("#", 1)[0].strip()) for line in lines if line.split("#", 1)[0].strip()]


def dev_requirements() -> list[Requirement]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    return [Requirement(text) for text in project["optional-dependencies"]["dev"]]


def checkov_requirements() -> list[Requirement]:
    groups = tomllib.loads(PYPROJECT.read_text(encoding="utf-8")).get("dependency-groups", {})
    return [Requirement(text) for text in groups.get("checkov", [])]


def inputs_digest() -> str:
    """A digest of the requirements the locks were made from (comments and order ignored)."""
    parts = sorted(f"layer {r}" for r in layer_requirements()) + sorted(f"dev {r}" for r in dev_requirements())
    parts += sorted(f"checkov {r}" for r in checkov_requirements())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def stamped_digest(path: Path) -> str | None:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(STAMP_PREFIX):
            return line[len(STAMP_PREFIX) :].strip()
    return None


def stamp(path: Path, digest: str) -> None:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith(STAMP_PREFIX)]
    at = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    lines.insert(at, f"{STAMP_PREFIX}{digest}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def check() -> list[str]:
    """Every way the locks disagree with the requirements or with each other ([] when none)."""
    problems: list[str] = []
    digest = inputs_digest()
    dev, layer, checkov = read_lock(DEV_LOCK), read_lock(LAYER_LOCK), read_lock(CHECKOV_LOCK)
    for path in (DEV_LOCK, LAYER_LOCK, CHECKOV_LOCK):
        if stamped_digest(path) != digest:
            problems.append(f"{path.relative_to(ROOT)} was not made from the current requirements: run `make lock`")
    for lock_path, lock in ((DEV_LOCK, dev), (LAYER_LOCK, layer), (CHECKOV_LOCK, checkov)):
        for pin in lock.values():
            if not pin.hashes:
                problems.append(f"{lock_path.relative_to(ROOT)}: {pin.name} has no hash")
    for requirement in layer_requirements():
        for lock_path, lock in ((LAYER_LOCK, layer), (DEV_LOCK, dev)):
            problems += _satisfies(lock_path, lock, requirement)
    for requirement in dev_requirements():
        problems += _satisfies(DEV_LOCK, dev, requirement)
    for requirement in checkov_requirements():
        problems += _satisfies(CHECKOV_LOCK, checkov, requirement)
    for name in sorted(NOT_IN_LAYER & layer.keys()):
        problems.append(f"{LAYER_LOCK.relative_to(ROOT)} ships {name}, which the layer must not carry")
    for pin in layer.values():
        other = dev.get(pin.name)
        if other is None or other.version != pin.version:
            problems.append(
                f"the layer pins {pin.name}=={pin.version} but the dev lock "
                f"{'lacks it' if other is None else 'pins ' + other.version}: tests would run other code"
            )
    return problems


def _satisfies(lock_path: Path, lock: dict[str, Pin], requirement: Requirement) -> list[str]:
    pin = lock.get(canonicalize_name(requirement.name))
    where = lock_path.relative_to(ROOT)
    if pin is None:
        return [f"{where} lacks {requirement.name} ({requirement})"]
    if not requirement.specifier.contains(pin.version, prereleases=True):
        return [f"{where} pins {pin.name}=={pin.version}, outside {requirement}"]
    return []


def layer_closure_problems(installed_requires) -> list[str]:
    """Each dependency of a layer package that neither the layer nor the runtime provides.
    `installed_requires(name)` gives a distribution's requirement strings (importlib.metadata)."""
    layer = read_lock(LAYER_LOCK)
    problems = []
    environment = {
        "python_version": "3.13",
        "python_full_version": "3.13.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "aarch64",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
        "extra": "",
    }
    for pin in layer.values():
        for text in installed_requires(pin.name) or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            name = canonicalize_name(requirement.name)
            if name not in layer and name not in RUNTIME_PROVIDED:
                problems.append(f"{pin.name} needs {requirement.name}, which neither the layer nor the runtime has")
    return problems


def main(argv: list[str]) -> int:
    if argv == ["stamp"]:
        digest = inputs_digest()
        for path in (DEV_LOCK, LAYER_LOCK, CHECKOV_LOCK):
            stamp(path, digest)
        return 0
    if argv == ["check"]:
        problems = check()
        print("\n".join(problems) or "the locks agree with the requirements")
        return 1 if problems else 0
    print("usage: python -m rostersync_tools.dependency_locks stamp|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
