"""The shared contract check, run against a OneRoster 1.2 server.

    python -m rostersync_tools.contract_check_v1p2 --project . --sandbox --auth oauth2|oauth1
    python -m rostersync_tools.contract_check_v1p2 --project . --sis-url URL --auth ... --client-id ID \
        --client-secret S   (any 1.2 server; every other flag as e2e_contract.py takes it)

The check itself stays `../shared/contract-check/e2e_contract.py` (read-only, 1.1 only): this runner
loads it as a module and runs its generic flow unchanged, but for what 1.2 changes:
- the base path its reader reads and its host-URL expectation strips: `/ims/oneroster/rostering/v1p2`
  (`generic_sis.BASE_PATH`, `e2e_contract.ONEROSTER_BASE`);
- how its expected roster reads a user's role: 1.2 users carry `roles[]`, not `role`
  (`role_in_scope`, written from the 1.2 information model, not from the product's code);
and it adds one check at the end: the connection records `version` 1.2.
`--sandbox` starts `rostersync sandbox-sis --versions 1.2` (1.2 only) on a free port and points the
check at it with the sandbox's credentials.
"""

import argparse
import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import IO, Any

from rostersync_tools.sandbox_sis.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

V1P2_BASE_PATH = "/ims/oneroster/rostering/v1p2"
CHECK_DIR_ENV = "ROSTERSYNC_CONTRACT_CHECK_DIR"
SANDBOX_READY_TIMEOUT_S = 60


# ---------------------------------------------------------------------------
# A user's role, from 1.2's roles[].


def _org_id(role: dict) -> str | None:
    org = role.get("org")
    if isinstance(org, dict):
        return org.get("sourcedId")
    return org if isinstance(org, str) else None  # a bare sourcedId, as some servers send references


def role_at_org(user: dict, org_id: str) -> str | None:
    """The user's role at one org: the primary role there.

    1.2 information model, RoleDType.roleType: "Indicates if this role is the primary or secondary
    role for that org. There MUST be one, and only one, primary role for each org." A server that
    sends only secondary roles for an org breaks that rule; the first of them is read then (the
    user does hold that role there), never nothing.
    """
    at_org = [r for r in user.get("roles") or [] if isinstance(r, dict) and _org_id(r) == org_id]
    primary = [r for r in at_org if r.get("roleType") == "primary"]
    chosen = (primary or at_org)[:1]
    return chosen[0].get("role") if chosen else None


def role_in_scope(user: dict, schools: Collection[str] | None) -> str | None:
    """The role a sync of `schools` (None: every org) sees the user in; None when it holds none there.

    1.2 gives a role per org, the contract one per user: the role at the user's `primaryOrg`
    ("the org with which the user is principally associated") when that org is in scope, else the
    role at the first org in scope, in the order of `roles[]`. Role dates are not read. A user
    without `roles` (1.1's single `role` only) has no 1.2 role: a 1.2 server must send `roles`.
    """
    in_scope = [org for r in user.get("roles") or [] if isinstance(r, dict) and (org := _org_id(r)) is not None]
    if schools is not None:
        in_scope = [org for org in in_scope if org in schools]
    if not in_scope:
        return None
    primary_org = user.get("primaryOrg")
    primary_id = primary_org.get("sourcedId") if isinstance(primary_org, dict) else primary_org
    return role_at_org(user, primary_id if primary_id in in_scope else in_scope[0])


def users_with_roles(users: Sequence[dict], schools: Collection[str] | None) -> list[dict]:
    """Copies of `users` with the `role` the shared check reads set from `roles[]` (None when none)."""
    return [dict(user, role=role_in_scope(user, schools)) for user in users]


def expected_roster_from_roles(
    shared_expected_roster: Callable[..., dict], default_selection: dict
) -> Callable[..., dict]:
    """The shared check's expected_roster, fed users whose role is read from 1.2's roles[] for the selection."""

    def expected_roster(state: dict, selection: dict = default_selection) -> dict:
        data = dict(state["data"], users=users_with_roles(state["data"]["users"], selection.get("schools")))
        return shared_expected_roster(dict(state, data=data), selection)

    return expected_roster


# ---------------------------------------------------------------------------
# The shared check, loaded and adapted.


def default_check_dir(project: str | None) -> Path:
    if os.environ.get(CHECK_DIR_ENV):
        return Path(os.environ[CHECK_DIR_ENV])
    return Path(project or ".").resolve().parent / "shared" / "contract-check"


def load_shared_check(check_dir: Path) -> tuple[Any, Any]:
    """(e2e_contract, generic_sis) from `check_dir`, as the check itself imports them."""
    path = check_dir / "e2e_contract.py"
    if not path.is_file():
        raise SystemExit(f"{path} not found: give the shared check's folder with --check-dir or ${CHECK_DIR_ENV}")
    spec = importlib.util.spec_from_file_location("e2e_contract", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path} cannot be loaded as a module")
    e2e = importlib.util.module_from_spec(spec)
    sys.modules["e2e_contract"] = e2e
    before, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in the shared folder
    try:
        spec.loader.exec_module(e2e)
        generic_sis = e2e.load_generic_sis()  # the module object the check's reader will use
    finally:
        sys.dont_write_bytecode = before
    return e2e, generic_sis


def adapt_to_v1p2(e2e: Any, generic_sis: Any) -> None:
    """Point the loaded check at 1.2: base path, role reading, and the version check."""
    # oneroster_base() and host_url() read BASE_PATH when called: the reader's URLs, the hostUrl
    # handed to the product (base path in, to be stripped with a warning) and the one expected back.
    generic_sis.BASE_PATH = V1P2_BASE_PATH
    e2e.ONEROSTER_BASE = V1P2_BASE_PATH  # only in the check's messages
    e2e.expected_roster = expected_roster_from_roles(e2e.expected_roster, e2e.SELECTION)
    e2e.GenericAcceptance = _acceptance_v1p2(e2e)


def _acceptance_v1p2(e2e: Any) -> type:
    shared: Any = e2e.GenericAcceptance

    class AcceptanceV1p2(shared):
        """The shared generic flow, then: the connection records that it reads 1.2."""

        def run(self) -> None:
            super().run()
            self.check("GET sis/connection records version 1.2", self.connection_version, needs=("connected",))

        def read_sis(self) -> str:
            detail: str = super().read_sis()
            users = self.ctx["sis_state"]["data"]["users"]
            roles = Counter(str(role_in_scope(u, None)) for u in users)
            no_primary = sum(1 for u in users if _orgs_without_primary(u))
            self.info(f"sis: users' roles read from roles[] (every org): {dict(roles)}")
            if no_primary:
                self.info(f"sis: {no_primary} users have an org with no primary role (1.2 wants one per org)")
            return detail

        def connection_version(self) -> str:
            body = self.api.call("GET", self.d("/sis/connection"), self.ctx["admin"]).expect(200).obj()
            e2e.expect(
                body.get("version") == "1.2",
                f"version {body.get('version')!r} (requestedVersion {body.get('requestedVersion')!r}), wanted '1.2'",
            )
            return f"version 1.2, requestedVersion {body.get('requestedVersion')!r}"

    return AcceptanceV1p2


def _orgs_without_primary(user: dict) -> list[str]:
    roles = [r for r in user.get("roles") or [] if isinstance(r, dict)]
    orgs = {_org_id(r) for r in roles} - {None}
    with_primary = {_org_id(r) for r in roles if r.get("roleType") == "primary"}
    return sorted(str(org) for org in orgs - with_primary)


# ---------------------------------------------------------------------------
# A 1.2-only sandbox to check against.


class Sandbox:
    """`rostersync sandbox-sis --port 0 --versions 1.2` in its own process group."""

    def __init__(self, project: Path):
        argv = [str(project / ".venv" / "bin" / "rostersync"), "sandbox-sis", "--port", "0", "--versions", "1.2"]
        self.proc = subprocess.Popen(  # noqa: S603  (our own argv)
            argv,
            cwd=project,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._url: str | None = None
        self._ready = threading.Event()
        # Read to the end, so that a full pipe never blocks the server.
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()
        self._ready.wait(SANDBOX_READY_TIMEOUT_S)
        if self._url is None:
            self.stop()
            raise SystemExit(f"the sandbox SIS printed no 'listening on' line within {SANDBOX_READY_TIMEOUT_S} s")
        self.url: str = self._url

    def _read(self, out: IO[str] | None) -> None:
        for line in out or ():
            found = None if self._url else re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if found:
                self._url = found.group(1)
                self._ready.set()
        self._ready.set()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Every other flag goes to e2e_contract.py as it is.",
    )
    parser.add_argument("--project", help="checkout of Roster Sync with .venv built (passed on)")
    parser.add_argument(
        "--check-dir",
        type=Path,
        help=f"the shared check's folder (default ${CHECK_DIR_ENV}, else ../shared/contract-check beside --project)",
    )
    parser.add_argument("--sandbox", action="store_true", help="start a 1.2-only sandbox SIS and check against it")
    ours, rest = parser.parse_known_args(argv)
    e2e, generic_sis = load_shared_check(ours.check_dir or default_check_dir(ours.project))
    adapt_to_v1p2(e2e, generic_sis)
    passed_on = list(rest) + (["--project", ours.project] if ours.project else [])
    if not ours.sandbox:
        return int(e2e.main(passed_on))
    if any(flag in rest for flag in ("--sis-url", "--client-id", "--client-secret")):
        parser.error("--sandbox gives the SIS URL and credentials itself")
    sandbox = Sandbox(Path(ours.project or ".").resolve())
    try:
        print(f"info: 1.2-only sandbox SIS at {sandbox.url}", flush=True)
        client_id = os.environ.get("ROSTERSYNC_SANDBOX_CLIENT_ID") or DEFAULT_CLIENT_ID
        secret = os.environ.get("ROSTERSYNC_SANDBOX_CLIENT_SECRET") or DEFAULT_CLIENT_SECRET
        sis = ["--sis-url", sandbox.url + V1P2_BASE_PATH, "--client-id", client_id, "--client-secret", secret]
        return int(e2e.main(passed_on + sis))
    finally:
        sandbox.stop()


if __name__ == "__main__":
    sys.exit(main())
