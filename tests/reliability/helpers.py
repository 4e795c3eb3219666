"""Shared by the reliability tests: small districts, syncs with a test-tuned client, and what
the store holds, compared before and after."""

import itertools
import time

from rostersync.oneroster import ConnectionSettings, OneRosterClient
from rostersync.oneroster.retries import RetryPolicy
from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel
from rostersync.sync.engine import Outcome, SyncRequest, run_sync
from tests.fixtures.roster_oracle import expected_roster
from tests.reliability import figures

# Several pages per collection (page_cap), yet a full sync takes a couple of seconds.
TINY = {"schools": 2, "students": 40, "teachers": 6, "classes": 24, "enrollments": 240, "page_cap": 20}
KINDS = ("teachers", "students", "classes", "enrollments")

_run_numbers = itertools.count(1)


def new_run_id(prefix: str = "run_rel") -> str:
    return f"{prefix}_{next(_run_numbers):06d}"


class Sleeps:
    """A RetryPolicy sleep that records what it was asked to wait and waits a little of it."""

    def __init__(self, scale: float = 0.0, cap: float = 0.05):
        self.asked: list[float] = []
        self.scale, self.cap = scale, cap

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        time.sleep(min(self.cap, seconds * self.scale))


def client_for(
    sis,
    sleeps: Sleeps | None = None,
    read_timeout: float = 30,
    max_retries: int = 5,
    secret: str | None = None,
    page_limit: int = 1000,
) -> OneRosterClient:
    """The product's OneRoster client for a sandbox, as a saved connection configures it (the token
    URL the connection test found), with test-speed retries (delays recorded)."""
    settings = ConnectionSettings(
        host_url=sis.host_url, client_id=sis.config.client_id, auth_method="oauth2", token_url=sis.token_url
    )
    policy = RetryPolicy(max_retries=max_retries, base_delay=0.05, sleep=sleeps or Sleeps())
    return OneRosterClient(
        settings,
        secret or sis.config.client_secret,
        allow_private=True,
        read_timeout=read_timeout,
        connect_timeout=2,
        retry_policy=policy,
        page_limit=page_limit,
        max_in_flight=2,
    )


def sync(
    district_id: str,
    run_id: str | None = None,
    mode: str = "full",
    client_factory=None,
    approve=False,
    time_left=lambda: 1e9,
    on_progress=None,
):
    """One sync to its end (continuations included), as the worker would drive it. With a
    client_factory, each invocation gets a fresh client from it (the engine closes its client)."""
    from tests.fixtures.count_checks import assert_counts_add_up

    run_id = run_id or new_run_id()
    while True:
        kwargs = {"client": client_factory()} if client_factory else {}
        result = run_sync(
            SyncRequest(district_id, run_id, mode=mode, approve=approve), time_left, on_progress, **kwargs
        )
        if result.outcome != Outcome.CONTINUE:
            result.run_id = run_id
            assert_counts_add_up(result.counts)  # skippedBy sums to skipped, whatever the SIS sent
            return result


def stored(district_id: str) -> dict:
    """{kind: {sisSourcedId: status}} for teachers, students, classes, enrollments."""
    users = list(UserModel.query(district_id))
    return {
        "teachers": {u.sis_sourced_id: u.status for u in users if u.role == "teacher"},
        "students": {u.sis_sourced_id: u.status for u in users if u.role == "student"},
        "classes": {c.sis_sourced_id: c.status for c in ClassModel.query(district_id)},
        "enrollments": {e.sis_sourced_id: e.status for e in EnrollmentModel.query(district_id)},
    }


def active(state: dict) -> dict:
    return {kind: {sid for sid, status in state[kind].items() if status == "active"} for kind in KINDS}


def assert_nothing_deactivated(before: dict, district_id: str) -> None:
    """Every record active before is still active: a failed or partial read removed nothing."""
    was, now = active(before), active(stored(district_id))
    lost = {kind: sorted(was[kind] - now[kind])[:5] for kind in KINDS if was[kind] - now[kind]}
    figures.add("records_lost", sum(len(was[k] - now[k]) for k in KINDS))
    figures.add("end_states_checked")
    assert not lost, f"deactivated by a failed or partial read: {lost}"


def assert_like_oracle(district_id: str, raw_state: dict, **selection) -> dict:
    """Active records == what the contract's rules give for the SIS's raw data."""
    expected = expected_roster(raw_state, **selection)
    now = active(stored(district_id))
    missing = {k: sorted(expected[k] - now[k])[:5] for k in KINDS if expected[k] - now[k]}
    extra = {k: sorted(now[k] - expected[k])[:5] for k in KINDS if now[k] - expected[k]}
    figures.add("records_lost", sum(len(expected[k] - now[k]) for k in KINDS))
    figures.add("end_states_checked")
    assert not missing and not extra, f"missing {missing}, extra {extra}"
    return now
