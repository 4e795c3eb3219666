"""The HTTP API fuzzed from its OpenAPI document (docs/openapi.json) with schemathesis: valid
and invalid requests to every route, through the local stack's HTTP adapter (JWT checks, the
payload 2.0 event) into the real handler, as every kind of caller. No answer is a 5xx; every
answer is one the document describes (schemathesis' status-code and response-schema conformance
checks, and content type; a matching conflict is there to be listed); every error body is
{"error": {"code", "message"}} (the adapter's own 401/413 excepted: they are API Gateway's);
the SIS secret is in none. Bodies over the size limits are refused.

`make test` sends each operation its documented examples and a few generated requests, valid and
invalid; `make soak` adds schemathesis' coverage phase (every boundary of every parameter and
body field, valid and not: ~50 requests an operation, most of the fuzzing's time) and many more
generated requests.
"""

import random
import re
import zlib
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from rostersync_tools.local.stack import LocalStack
from rostersync_tools.sandbox_sis import SandboxConfig, SandboxSIS
from tests.fixtures.districts import connect_district
from tests.reliability import figures
from tests.reliability.helpers import TINY

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
SECRET = "FUZZ-canary-secret-3c9d1e"  # the sandbox's client secret: must never come back


def load_schema(phases: list[str]):
    loaded = schemathesis.openapi.from_path(str(OPENAPI))
    loaded.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    loaded.config.phases.update(phases=phases)
    return loaded


schema = load_schema(["examples", "fuzzing"])
schema_soak = load_schema(["examples", "coverage", "fuzzing"])
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


class World:
    """A local stack with two synced districts (A and B) on a sandbox SIS, and the ids to aim at."""

    def __init__(self, aws, state_dir):
        self.sis = SandboxSIS(SandboxConfig(**{**TINY, "client_secret": SECRET}))
        self.sis.start(port=0)
        aws.reset()
        self.stack = LocalStack(aws=aws, api_port=0, state_dir=state_dir).start()
        self.a, self.b, self.scratch = (connect_district(self.sis) for _ in range(3))
        platform = {"Authorization": f"Bearer {self.stack.token('platform_admin')}"}
        # Two app students share one SIS student's email in A: its sync leaves a matching conflict, so
        # the conflicts list answers items for the response-conformance check to read.
        from rostersync.store import app_records

        student = next(u for u in self.sis.state()["data"]["users"] if u["role"] == "student" and u.get("email"))
        app_records.register_users(
            self.a, [{"userId": f"app-twin-{n}", "role": "student", "email": student["email"]} for n in "ab"]
        )
        for district in (self.a, self.b):  # synced by the stack's worker: runs to aim at as well
            started = requests.post(
                f"{self.stack.api_url}/districts/{district}/syncs", json={}, headers=platform, timeout=30
            )
            assert started.status_code == 202, started.text
        self.stack.wait_until_idle(120)
        from rostersync.store.roster import ClassModel
        from rostersync.store.schools import SchoolModel
        from rostersync.store.sync_runs import SyncRunModel

        self.class_ids = {d: [c.class_id for c in ClassModel.query(d)] for d in (self.a, self.b)}
        self.school_ids = {d: [s.school_id for s in SchoolModel.query(d)] for d in (self.a, self.b)}
        self.run_ids = {d: [r.run_id for r in SyncRunModel.query(d)] for d in (self.a, self.b)}
        from rostersync.store import matching_conflicts

        assert matching_conflicts.list_conflicts(self.a, 50, None)[0], "no conflict to read"
        self.tokens = {
            "platform": self.stack.token("platform_admin"),
            "admin_a": self.stack.token("district_admin", self.a),
            "admin_b": self.stack.token("district_admin", self.b),
            "admin_scratch": self.stack.token("district_admin", self.scratch),
            "teacher": self.stack.token("teacher", self.a),
            "expired": self.stack.token("district_admin", self.a, expires_in_s=-60),
            "none": None,
        }

    def stop(self):
        self.stack.stop()
        self.sis.stop()


@pytest.fixture(scope="module")
def world(_embedded_aws, tmp_path_factory):
    made = World(_embedded_aws, tmp_path_factory.mktemp("fuzz-state"))
    yield made
    made.stop()


def aim(case, world: World) -> str:
    """Point the generated case at real things often enough to get past the 404s, and pick a
    caller; returns the caller's name. Deterministic per case (seeded by what was generated)."""
    rng = random.Random(
        zlib.crc32(
            repr((case.operation.label, case.path_parameters, case.query, case.body)).encode("utf-8", "surrogatepass")
        )
    )
    params = case.path_parameters or {}
    destructive = case.method.upper() == "DELETE"
    district = None
    if "districtId" in params and rng.random() < 0.8:
        district = world.scratch if destructive else rng.choice([world.a, world.a, world.b, world.scratch])
        params["districtId"] = district
    owner = district if district in world.class_ids else rng.choice([world.a, world.b])
    if "classId" in params and rng.random() < 0.7:
        params["classId"] = rng.choice(world.class_ids[owner])
    if "runId" in params and rng.random() < 0.7:
        params["runId"] = rng.choice(world.run_ids[owner])
    if isinstance(case.query, dict) and "schoolId" in case.query and rng.random() < 0.5:
        case.query["schoolId"] = rng.choice(world.school_ids[owner])
    if isinstance(case.body, dict):  # the connection test must only ever reach the loopback sandbox
        if isinstance(case.body.get("hostUrl"), str):
            case.body["hostUrl"] = world.sis.prefixed_host_url
        if isinstance(case.body.get("tokenUrl"), str):
            case.body["tokenUrl"] = world.sis.token_url
        if "clientSecret" in case.body and rng.random() < 0.3:
            case.body["clientSecret"] = SECRET
    if district == world.scratch:
        return rng.choice(["platform", "admin_scratch", "admin_a", "none"])
    return rng.choice(["platform", "admin_a", "admin_a", "admin_b", "teacher", "expired", "none"])


def check_contract(response, caller: str, valid_token: bool) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert SECRET not in response.text
    if not valid_token:  # refused by the authorizer (the adapter), before the function
        assert response.status_code == 401 and response.json() == {"message": "Unauthorized"}
        return
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        error = body["error"]
        assert SNAKE.match(error["code"]) and isinstance(error["message"], str) and error["message"], body
        # The documented extras: the run a 409 is about, and when a refused test message may go again.
        assert set(error) - {"code", "message"} <= {"runId", "runStatus", "retryAfterSeconds"}, body


def exercise(case, world: World) -> None:
    caller = aim(case, world)
    token = world.tokens[caller]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = case.call(base_url=world.stack.api_url, headers=headers, timeout=60)
    figures.add("api_inputs_tried")
    # The generator also sends requests without the token or with one of its own (auth cases).
    sent = response.request.headers.get("Authorization")
    valid_token = token is not None and caller != "expired" and sent == headers.get("Authorization")
    check_contract(response, caller, valid_token)
    if valid_token:
        case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_route_answers_within_the_contract(case, world):
    exercise(case, world)


@pytest.mark.soak
@schema_soak.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_route_answers_within_the_contract_soak(case, world):
    exercise(case, world)


# ---------------------------------------------------------------- bodies over the limits
BODY_ROUTES = [
    ("POST", "/districts"),
    ("POST", "/districts/{d}/schools"),
    ("PUT", "/districts/{d}/sis/connection"),
    ("PUT", "/districts/{d}/school-matches"),
    ("PUT", "/districts/{d}/sync-config"),
    ("POST", "/districts/{d}/syncs"),
]


@pytest.mark.parametrize("method, path", BODY_ROUTES)
def test_request_bodies_over_64_kb_are_refused_by_every_route(world, method, path):
    url = world.stack.api_url + path.format(d=world.a)
    headers = {"Authorization": f"Bearer {world.tokens['platform']}", "Content-Type": "application/json"}
    body = '{"name": "' + "x" * (65 * 1024) + '", "clientSecret": "' + SECRET + '"}'
    response = requests.request(method, url, data=body.encode(), headers=headers, timeout=30)
    figures.add("api_inputs_tried")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "request_too_large")
    assert SECRET not in response.text


def test_a_body_over_api_gateways_10_mb_is_refused_before_the_function(world):
    url = world.stack.api_url + f"/districts/{world.a}/sis/connection"
    headers = {"Authorization": f"Bearer {world.tokens['admin_a']}", "Content-Type": "application/json"}
    response = requests.put(url, data=b"{" + b" " * (11 * 1024 * 1024) + b"}", headers=headers, timeout=60)
    figures.add("api_inputs_tried")
    assert response.status_code == 413
