"""Security: tenant isolation on every route and every stored item, the host checks a deployed
stack applies (metadata, loopback and private addresses, also via redirects and DNS), and the
bearer tokens the local adapter refuses. (The SIS secret: test_secret_leaks.py.)"""

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rostersync.oneroster import ConnectionSettings, OneRosterClient
from rostersync.oneroster.errors import InvalidHostUrl
from rostersync.oneroster.hosts import AddressPolicy, is_public_address
from rostersync.oneroster.retries import RetryPolicy
from rostersync_tools.local.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER
from tests.fixtures.districts import connect_district
from tests.fixtures.stack import api
from tests.reliability import figures
from tests.reliability.helpers import TINY

OPENAPI = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())


# ================================================================ tenant isolation
def sync_via_stack(stack, client, district: str) -> str:
    status, body = client.post(f"/districts/{district}/syncs", json={})
    assert status == 202, body
    stack.wait_until_idle(120)
    status, run = client.get(f"/districts/{district}/syncs/{body['runId']}")
    assert run["status"] == "succeeded", run
    return body["runId"]


def identifiers(district: str) -> dict[str, list[str]]:
    """Every id of the district's stored items, by kind."""
    from rostersync.store.roster import ClassModel, EnrollmentModel, UserModel
    from rostersync.store.schools import SchoolModel
    from rostersync.store.sync_runs import SyncRunModel

    return {
        "users": [u.user_id for u in UserModel.query(district)],
        "classes": [c.class_id for c in ClassModel.query(district)],
        "enrollments": [e.enrollment_id for e in EnrollmentModel.query(district)],
        "schools": [s.school_id for s in SchoolModel.query(district)],
        "runs": [r.run_id for r in SyncRunModel.query(district)],
    }


def fill(path: str, district: str, ids: dict) -> str:
    return (
        path.replace("{districtId}", district)
        .replace("{classId}", ids["classes"][0])
        .replace("{runId}", ids["runs"][0])
    )


def test_a_district_admin_never_reaches_another_districts_data(local_stack, make_sandbox_sis):
    stack = local_stack
    sis_a, sis_b = make_sandbox_sis(**{**TINY, "seed": 11}), make_sandbox_sis(**{**TINY, "seed": 12})
    a, b = connect_district(sis_a), connect_district(sis_b)
    admin_a = api(stack, stack.token("district_admin", a))
    admin_b = api(stack, stack.token("district_admin", b))
    for _ in range(2):  # two runs each: the run history pages too
        sync_via_stack(stack, admin_a, a)
        sync_via_stack(stack, admin_b, b)
    ids_a, ids_b = identifiers(a), identifiers(b)
    assert all(ids_b.values()) and all(ids_a.values())
    seen_by_a: list = []

    def as_a(method: str, path: str, **kwargs):
        status, body = admin_a.request(method, path, **kwargs)
        seen_by_a.append((json.dumps([path, kwargs], default=str), json.dumps(body)))
        figures.add("isolation_probes")
        return status, body

    # Every route of the API under B's district id, every method: 403, whatever the ids inside.
    for path, operations in OPENAPI["paths"].items():
        if "{districtId}" not in path:
            continue
        for method in operations:
            status, body = as_a(method.upper(), fill(path, b, ids_b), json={} if method in ("put", "post") else None)
            assert (status, body["error"]["code"]) == (403, "forbidden"), (method, path, body)

    # B's ids under A's own district: not found, or nothing.
    for class_id in ids_b["classes"]:
        for status_filter in ("active", "all"):
            status, body = as_a("GET", f"/districts/{a}/classes/{class_id}/roster", params={"status": status_filter})
            assert status == 404, body
    for run_id in ids_b["runs"]:
        assert as_a("GET", f"/districts/{a}/syncs/{run_id}")[0] == 404
        assert as_a("POST", f"/districts/{a}/syncs/{run_id}/approve")[0] == 404
    for school_id in ids_b["schools"]:
        for route in ("users", "classes"):
            status, body = as_a("GET", f"/districts/{a}/{route}", params={"schoolId": school_id, "status": "all"})
            assert status == 200 and body[route] == [], body
    status, sis_schools = as_a("GET", f"/districts/{a}/sis/schools")
    assert status == 200
    status, body = as_a(
        "PUT",
        f"/districts/{a}/school-matches",
        json={
            "matches": [{"sisSourcedId": sis_schools["schools"][0]["sisSourcedId"], "schoolId": ids_b["schools"][0]}]
        },
    )
    assert status == 422, body

    # B's cursors on A's lists, and cursors forged to point into B: refused or confined to A.
    for route, params in (("users", {}), ("users", {"role": "student"}), ("classes", {}), ("syncs", {})):
        status, page_b = admin_b.get(f"/districts/{b}/{route}", params={**params, "limit": 1})
        assert status == 200 and page_b["nextCursor"], page_b
        status, body = as_a("GET", f"/districts/{a}/{route}", params={**params, "cursor": page_b["nextCursor"]})
        assert (status, body["error"]["code"]) == (400, "invalid_cursor"), body
        status, page_a = admin_a.get(f"/districts/{a}/{route}", params={**params, "limit": 1})
        forged = json.loads(base64.urlsafe_b64decode(page_a["nextCursor"] + "=="))
        into_b = {**forged, "k": {k: (v.replace(a, b) if isinstance(v, str) else v) for k, v in forged["k"].items()}}
        status, body = as_a("GET", f"/districts/{a}/{route}", params={**params, "cursor": encode(into_b)})
        assert (status, body["error"]["code"]) == (400, "invalid_cursor"), body
        # A cursor of A's own whose position is one of B's ids: it may only move within A.
        key = next(k for k in forged["k"] if k != "districtId" and not str(forged["k"][k]).startswith(a))
        b_kind = {"userId": "users", "classId": "classes", "runId": "runs"}[key]
        positioned = {**forged, "k": {**forged["k"], key: ids_b[b_kind][0]}}
        status, body = as_a("GET", f"/districts/{a}/{route}", params={**params, "cursor": encode(positioned)})
        assert status == 200, body
        own = {"users": ids_a["users"], "classes": ids_a["classes"], "syncs": ids_a["runs"]}[route]
        id_field = {"users": "userId", "classes": "classId", "syncs": "runId"}[route]
        assert all(item[id_field] in own for item in body[route]), body

    # Everything A was shown: none of B's ids, nor B's district id (unless A had sent it itself).
    for kind, values in {**ids_b, "district": [b]}.items():
        leaked = [v for sent, shown in seen_by_a for v in values if v in shown and v not in sent]
        assert not leaked, f"A saw B's {kind}: {leaked[:3]}"

    # Every stored item carries its own district in every key it can be found by.
    assert_every_item_is_keyed_by_its_district(stack.aws)


def encode(payload: dict) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


INDEX_KEYS = ("districtRole", "districtSchool", "districtClass", "districtUser")


def assert_every_item_is_keyed_by_its_district(aws) -> None:
    from rostersync.settings import get_settings

    dynamodb = aws.client("dynamodb")
    checked = 0
    # Host leases are the SIS hosts' shared request slots, keyed by host: no district's data in them.
    shared = {get_settings().host_leases_table}
    for table in set(dynamodb.list_tables()["TableNames"]) - shared:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                if "runKey" in item:  # checkpoints: district#run
                    assert "#" in item["runKey"]["S"]
                    continue
                district = item["districtId"]["S"]
                for name in INDEX_KEYS:
                    if name in item:
                        assert item[name]["S"].startswith(district + "#"), (table, name, item[name])
                checked += 1
    assert checked > 100
    figures.add("isolation_probes", checked)


# ================================================================ host checks (deployed rules)
REFUSED_HOSTS = [
    "https://169.254.169.254",
    "http://169.254.169.254/latest/meta-data",
    "https://[fd00:ec2::254]",
    "https://127.0.0.1",
    "https://[::1]",
    "https://localhost",
    "https://sis.localhost",
    "https://0.0.0.0",
    "https://10.0.0.5",
    "https://172.16.3.4",
    "https://192.168.1.10",
    "https://100.64.0.1",
    "https://[fd12::1]",
    "https://[::ffff:169.254.169.254]",
    "https://[::ffff:a9fe:a9fe]",
    "https://[64:ff9b::a9fe:a9fe]",
    "https://2852039166",
    "https://0xa9fea9fe",
    "https://0251.0376.0251.0376",
    "https://169.254.169.254.",
    "https://user:pass@sis.example.org",
    "ftp://sis.example.org",
    "http://sis.example.org",
]


def deployed_client(host: str, resolver=None, **kwargs) -> OneRosterClient:
    return OneRosterClient(
        ConnectionSettings(host_url=host, client_id="c"),
        "a-secret-value",
        allow_private=False,
        resolver=resolver or no_dns,
        connect_timeout=1,
        read_timeout=2,
        retry_policy=RetryPolicy(max_retries=0),
        **kwargs,
    )


def no_dns(hostname: str, port: int):
    raise AssertionError(f"no DNS lookup expected for {hostname}")


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_a_deployed_client_refuses_metadata_loopback_and_private_hosts(host):
    figures.add("host_checks")

    def numeric_only(hostname, port):  # numeric forms resolve locally, names are refused
        return [info[4][0] for info in socket.getaddrinfo(hostname, port, flags=socket.AI_NUMERICHOST)]

    with pytest.raises(InvalidHostUrl):
        client = deployed_client(host, resolver=numeric_only)
        client.first_page("orgs")


@pytest.mark.parametrize("answer", ["169.254.169.254", "10.1.2.3", "127.0.0.1", "::1", "fd00::5", "::ffff:10.0.0.1"])
def test_names_resolving_to_private_addresses_are_refused_before_connecting(answer):
    figures.add("host_checks")
    client = deployed_client("https://sis.district.example", resolver=lambda h, p: ["93.184.216.34", answer])
    with pytest.raises(InvalidHostUrl, match="private, loopback or reserved"):
        client.first_page("orgs")


class _Redirector(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", self.server.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET


@pytest.fixture
def redirector():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://metadata.evil.example/latest/meta-data/",
        "http://internal.evil.example/",
        "http://[::ffff:169.254.169.254]/",
        "http://127.0.0.2:{port}/",
        "http://localhost:{port}/",
        "http://[::1]:{port}/",
        "http://10.0.0.1/",
        "file:///etc/passwd",
        "gopher://169.254.169.254/",
    ],
)
def test_redirects_to_metadata_loopback_and_private_addresses_are_refused(redirector, target, monkeypatch):
    """The SIS (here a loopback server the policy treats as public) redirects the client inward.
    (DNS rebinding at the socket: tests/unit/oneroster/test_hosts.py.)"""
    figures.add("host_checks")
    redirector.target = target.format(port=redirector.server_address[1])
    real = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):  # no DNS leaves this machine
        if host in ("sis.public.example", "127.0.0.1"):
            return real("127.0.0.1", *args, **kwargs)
        raise AssertionError(f"the client tried to connect to {host}")

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    names = {
        "sis.public.example": ["127.0.0.1"],
        "metadata.evil.example": ["169.254.169.254"],
        "internal.evil.example": ["10.20.30.40"],
    }
    policy = AddressPolicy(
        False,
        resolver=lambda host, port: names[host],
        require_https=False,
        is_public=lambda address: address == "127.0.0.1" or is_public_address(address),
    )
    client = OneRosterClient(
        ConnectionSettings(
            host_url=f"http://sis.public.example:{redirector.server_address[1]}", client_id="c", auth_method="oauth1"
        ),
        "a-secret-value",
        allow_private=True,
        address_policy=policy,
        connect_timeout=1,
        read_timeout=2,
        retry_policy=RetryPolicy(max_retries=0),
    )
    started = time.monotonic()
    with pytest.raises(InvalidHostUrl):
        client.first_page("orgs")
    assert time.monotonic() - started < 2  # refused before any connection was tried


@pytest.mark.parametrize(
    "body",
    [
        {"hostUrl": "https://169.254.169.254"},
        {"hostUrl": "http://127.0.0.1:9"},
        {"hostUrl": "https://[::1]"},
        {"hostUrl": "https://10.0.0.8/district"},
        {"hostUrl": "https://localhost"},
        {"hostUrl": "https://2852039166"},
        {"hostUrl": "https://[::ffff:127.0.0.1]"},
        {"hostUrl": "https://sis.example.org", "tokenUrl": "https://169.254.169.254/token"},
        {"hostUrl": "https://sis.example.org", "tokenUrl": "http://127.0.0.1:9/token"},
    ],
)
def test_the_deployed_api_refuses_such_hosts_in_setup_step_2(aws, monkeypatch, body):
    from rostersync.api.app import handle
    from rostersync.settings import get_settings
    from tests.unit.api.handler_client import claims, make_event

    monkeypatch.setenv("ROSTERSYNC_ALLOW_PRIVATE_SIS_HOSTS", "0")
    get_settings.cache_clear()
    try:
        district = connect_district(
            SimpleNamespace(
                host_url="https://sis.example.org",
                config=SimpleNamespace(client_id="c", client_secret="a-secret-value"),
            )
        )
        event = make_event(
            "PUT",
            f"/districts/{district}/sis/connection",
            claims=claims("district_admin", district),
            body={"clientId": "c", "clientSecret": "a-secret-value", "authMethod": "oauth2", **body},
        )
        started = time.monotonic()
        response = handle(event, None)
        answer = json.loads(response["body"])
        assert (response["statusCode"], answer["error"]["code"]) == (422, "invalid_host_url"), answer
        assert time.monotonic() - started < 2
        figures.add("host_checks")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


# ================================================================ bearer tokens at the local adapter
def _other_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def forged_tokens(stack, district: str) -> dict[str, str]:
    keys = stack.keys
    now = int(time.time())
    good = {
        "sub": "u-1",
        "custom:role": "district_admin",
        "custom:district_id": district,
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "token_use": "id",
    }
    header = {"kid": keys.kid}

    def signed(claims, key=None, algorithm="RS256", headers=header):
        return jwt.encode(claims, key or keys.private_key, algorithm=algorithm, headers=headers)

    valid = signed(good)
    head, payload, signature = valid.split(".")
    elevated = base64.urlsafe_b64encode(json.dumps({**good, "custom:role": "platform_admin"}).encode()).decode()
    public_pem = keys.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "signed by another key, same kid": signed(good, key=_other_key()),
        "signed by another key, its own kid": signed(good, key=_other_key(), headers={"kid": "someone-else"}),
        "wrong audience": signed({**good, "aud": "another-app"}),
        "wrong issuer": signed({**good, "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_evil"}),
        "expired": signed({**good, "iat": now - 7200, "exp": now - 3600}),
        "not yet valid": signed({**good, "nbf": now + 3600}),
        "without exp": signed({k: v for k, v in good.items() if k != "exp"}),
        "without sub": signed({k: v for k, v in good.items() if k != "sub"}),
        "claims changed after signing": f"{head}.{elevated.rstrip('=')}.{signature}",
        "signature cut off": f"{head}.{payload}.",
        "alg none": raw_jwt({"alg": "none", "typ": "JWT", "kid": keys.kid}, good, lambda data: b""),
        "HS256 keyed with the public key": raw_jwt(
            {"alg": "HS256", "typ": "JWT", "kid": keys.kid},
            good,
            lambda data: hmac.new(public_pem, data, hashlib.sha256).digest(),
        ),
        "not a JWT": "definitely-not-a-token",
        "empty": "",
    }


def raw_jwt(header: dict, claims: dict, sign) -> str:
    """A JWT built by hand (for algorithms a library would refuse to produce)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    return f"{signing_input}.{part(sign(signing_input.encode()))}"


def test_tokens_with_a_wrong_signature_audience_issuer_or_expiry_are_refused(local_stack):
    stack = local_stack
    platform = api(stack, stack.token("platform_admin"))
    _, created = platform.post("/districts", json={"name": "Token USD", "timezone": "UTC"})
    district = created["districtId"]
    url = f"{stack.api_url}/districts/{district}/schools"
    for name, token in forged_tokens(stack, district).items():
        for scheme in ("Bearer ", ""):
            response = requests.get(url, headers={"Authorization": f"{scheme}{token}"}, timeout=10)
            figures.add("host_checks")
            assert response.status_code == 401, (name, response.status_code, response.text)
            assert response.json() == {"message": "Unauthorized"}, name
    # The same request with a good token gets through (the refusals were about the tokens).
    good = requests.get(url, headers={"Authorization": f"Bearer {stack.token('district_admin', district)}"}, timeout=10)
    assert good.status_code == 200, good.text
    other = requests.get(
        url, headers={"Authorization": f"Bearer {stack.token('district_admin', 'dst_other')}"}, timeout=10
    )
    assert other.status_code == 403
