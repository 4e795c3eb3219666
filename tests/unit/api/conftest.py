"""Driving the API through rostersync.api.app.handle with HTTP API 2.0 events, on the embedded AWS,
with a fake SIS standing in for the OneRoster client (the integration and e2e tests use the
sandbox SIS)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from rostersync.oneroster import (
    BadRecord,
    Class,
    ConnectionReport,
    Course,
    OneRosterError,
    Org,
    normalise_host_url,
)

SECRET = "fake-sis-secret-7f3a9c"


def make_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    raw_body: str | None = None,
    claims: dict | None = None,
    query: dict | None = None,
    base64_body: bool = False,
    stage: str = "$default",
) -> dict:
    """An API Gateway HTTP API (payload 2.0) event, as the JWT authorizer passes it on."""
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": "application/json", "host": "api.example.org"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.org",
            "domainPrefix": "api",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "pytest"},
            "requestId": "req",
            "routeKey": "$default",
            "stage": stage,
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if text is not None:
        event["body"] = base64.b64encode(text.encode()).decode() if base64_body else text
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return event


def claims(role: str | None, district_id: str | None = None, sub: str = "user-1") -> dict | None:
    if role is None:
        return None
    found = {"sub": sub, "custom:role": role}
    if district_id is not None:
        found["custom:district_id"] = district_id
    return found


@dataclass
class Answer:
    status: int
    body: Any
    raw: dict

    @property
    def code(self) -> str | None:
        return (self.body or {}).get("error", {}).get("code") if isinstance(self.body, dict) else None

    @property
    def message(self) -> str:
        return (self.body or {}).get("error", {}).get("message", "") if isinstance(self.body, dict) else ""


class Api:
    """Calls the Lambda handler the way API Gateway would, as a given caller."""

    def __init__(self, handle):
        self._handle = handle

    def call(self, method: str, path: str, *, role: str | None = "platform_admin", district: str | None = None,
             **event_options) -> Answer:
        event = make_event(method, path, claims=claims(role, district), **event_options)
        response = self._handle(event, None)
        text = response.get("body")
        if response.get("isBase64Encoded") and text:
            text = base64.b64decode(text).decode()
        return Answer(response["statusCode"], json.loads(text) if text else None, response)

    # What a district setup needs, as the platform admin does it.
    def new_district(self, timezone: str = "America/Chicago", name: str = "Springfield USD") -> str:
        answer = self.call("POST", "/districts", body={"name": name, "timezone": timezone})
        assert answer.status == 201, answer.body
        return answer.body["districtId"]

    def new_school(self, district_id: str, name: str, identifier: str | None = None) -> str:
        body = {"name": name} if identifier is None else {"name": name, "identifier": identifier}
        answer = self.call("POST", f"/districts/{district_id}/schools", body=body)
        assert answer.status == 201, answer.body
        return answer.body["schoolId"]

    def connect(self, district_id: str, **overrides) -> Answer:
        body = {"hostUrl": "https://sis.example.org", "clientId": "client-1", "clientSecret": SECRET, **overrides}
        return self.call("PUT", f"/districts/{district_id}/sis/connection", role="district_admin",
                         district=district_id, body=body)


def org(sourced_id: str, name: str, identifier: str | None = None, status: str = "active", type: str = "school") -> Org:
    return Org(sourced_id=sourced_id, status=status, date_last_modified=None, name=name, type=type,
               identifier=identifier, parent_id=None)


def klass(sourced_id: str, grades=(), subjects=(), course_id: str | None = None, status: str = "active",
          school_id: str = "org-1") -> Class:
    return Class(sourced_id=sourced_id, status=status, date_last_modified=None, title=sourced_id, class_code=None,
                 class_type="scheduled", course_id=course_id, school_id=school_id, term_ids=(), grades=tuple(grades),
                 subjects=tuple(subjects), subject_codes=(), periods=())


def course(sourced_id: str, grades=(), subjects=(), status: str = "active") -> Course:
    return Course(sourced_id=sourced_id, status=status, date_last_modified=None, title=sourced_id, course_code=None,
                  grades=tuple(grades), subjects=tuple(subjects), subject_codes=(), org_id=None)


def bad_record(collection: str) -> BadRecord:
    return BadRecord(collection=collection, sourced_id=None, code="missing_sourced_id", message="no id", raw_excerpt="{}")


@dataclass
class FakeSis:
    """What the OneRoster client would read from an SIS, and the failure it would raise."""

    orgs: list = field(default_factory=lambda: [org("org-1", "Lincoln Elementary", "100"), org("org-2", "Roosevelt High", "200")])
    classes: Any = field(default_factory=list)  # a list, or a callable returning an iterator
    courses: list = field(default_factory=list)
    auth_method: str = "oauth2"
    error: OneRosterError | None = None  # raised by the connection test and by reads
    tested: list = field(default_factory=list)  # (settings, secret) of every connection test
    streamed: list = field(default_factory=list)  # collections read

    def test_connection(self, settings, client_secret, allow_private=False, **_):
        self.tested.append((settings, client_secret))
        host = normalise_host_url(settings.host_url, allow_private=allow_private)
        if self.error is not None:
            raise self.error
        return ConnectionReport(auth_method=self.auth_method if settings.auth_method == "auto" else settings.auth_method,
                                host_url=host.host_url, warnings=list(host.warnings),
                                schools=[o for o in self.orgs if isinstance(o, Org) and o.type == "school"], users_seen=3, classes_seen=3)

    def client(self, settings, client_secret, allow_private=False, **_):
        return FakeClient(self)


class FakeClient:
    def __init__(self, sis: FakeSis):
        self.sis = sis

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        pass

    def stream(self, collection: str, *args, **kwargs):
        self.sis.streamed.append(collection)
        if self.sis.error is not None:
            raise self.sis.error
        records = {"orgs": self.sis.orgs, "classes": self.sis.classes, "courses": self.sis.courses}[collection]
        return iter(records() if callable(records) else records)


@pytest.fixture
def fake_sis(monkeypatch, aws) -> FakeSis:
    from rostersync.api import connection

    sis = FakeSis()
    monkeypatch.setattr(connection, "test_connection", sis.test_connection)
    monkeypatch.setattr(connection, "OneRosterClient", sis.client)
    return sis


@pytest.fixture
def api(aws) -> Api:
    # Imported after `aws`: the store models take their table names from its environment.
    from rostersync.api.app import handle

    return Api(handle)
