"""Calling the API's Lambda handler as API Gateway does: HTTP API payload 2.0 events with the
JWT authorizer's claims. Shared by the unit tests here and the integration tests."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

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
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "pytest",
            },
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

    def call(
        self,
        method: str,
        path: str,
        *,
        role: str | None = "platform_admin",
        district: str | None = None,
        **event_options,
    ) -> Answer:
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
        return self.call(
            "PUT", f"/districts/{district_id}/sis/connection", role="district_admin", district=district_id, body=body
        )
