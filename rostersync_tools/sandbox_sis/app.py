"""SandboxApp: every HTTP request -> Response, without sockets (server.py does the wire).

Paths, with P the optional vendor prefix, B = P + /ims/oneroster/v1p1 and B2 = P +
/ims/oneroster/rostering/v1p2 (each served while config.versions names its version):
  /_admin/... and P/_admin/...   admin (no auth): state, advance, quirks, inject, stats
  POST P/token, POST B/token, POST B2/token   OAuth 2 client-credentials token endpoint
  GET B/...                      OneRoster 1.1 (OAuth 1.0a signature or bearer token)
  GET B2/...                     OneRoster 1.2: the same district in 1.2's shapes (v1p2.py)
OneRoster and token requests are counted, delayed by latency_ms and subject to injected faults.
"""

import json
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import parse_qsl

from . import admin, fault_responses, v1p2
from .api import OneRosterApi
from .config import ONEROSTER_BASE_PATHS, SandboxConfig
from .daily_changes import advance_one_day
from .faults import FaultInjector, Quirks
from .generator import generate_district
from .oauth_server import ROSTER_SCOPE, AuthGate
from .responses import Response, json_response
from .rollover import end_school_year, roll_over
from .stats import RequestStats
from .store import DistrictStore
from .timestamps import utc_now


@dataclass
class Request:
    method: str
    path: str  # without query, still percent-encoded as sent
    query: str  # raw query string
    headers: dict[str, str]  # lower-case names
    body: bytes
    host: str  # host[:port] the client addressed (Host header)


class SandboxApp:
    def __init__(self, config: SandboxConfig):
        self.config = config
        self.store = DistrictStore(generate_district(config))
        self.quirks = Quirks(latency_ms=config.latency_ms, page_cap=config.page_cap)
        self.faults = FaultInjector()
        self.auth = AuthGate(config.client_id, config.client_secret, config.token_ttl_s, self.quirks)
        self.api = OneRosterApi(self.store, self.quirks)
        self.stats = RequestStats()
        self._advance_lock = threading.Lock()

    # -- operations (SandboxSIS and the admin endpoints both use these)
    def set_quirks(self, **changes) -> dict:
        self.quirks.update(**changes)
        if changes.get("revoke_credentials"):
            self.auth.revoke_all_tokens()
        return self.quirks.as_dict()

    def advance_day(self, to_day: int | None = None, now: datetime | None = None) -> dict:
        """One day forward, or until `to_day`; the changes of every day advanced."""
        with self._advance_lock:
            target = self.store.day + 1 if to_day is None else int(to_day)
            changes = []
            while self.store.day < target:
                changes += advance_one_day(self.store, self.config.seed, now or utc_now(), self.config.path_prefix)[
                    "changes"
                ]
            return {"day": self.store.day, "changes": changes}

    def withdraw(self, role: str, share: float) -> dict:
        """Hard-delete the first `share` of the users with `role` (in the SIS's order) and their
        enrollments: what a mass withdrawal or a botched SIS export looks like to a sync."""
        with self.store.lock:
            users = [u for u in self.store.records("users") if u.get("role") == role]
            chosen = users[: round(len(users) * share)]
            by_user = self.store.enrollments_by("user")
            enrollments = [e["sourcedId"] for u in chosen for e in list(by_user.get(u["sourcedId"], []))]
            for sourced_id in enrollments:
                self.store.delete("enrollments", sourced_id)
            for user in chosen:
                self.store.delete("users", user["sourcedId"])
        return {"removed": len(chosen), "enrollmentsRemoved": len(enrollments)}

    def rollover(self, old_classes: str = "delete", now: datetime | None = None) -> dict:
        """The school year ends and the next begins (rollover.py)."""
        with self._advance_lock:
            return roll_over(self.store, self.config.seed, now or utc_now(), self.config.path_prefix, old_classes)

    def end_year(self, now: datetime | None = None) -> dict:
        """The school year ends and no new one is set up (rollover.py)."""
        with self._advance_lock:
            return end_school_year(self.store, now or utc_now())

    def rekey(self, share: float, role: str | None, classes: bool, prefix: str) -> dict:
        """New sourcedIds (prefix + old) for the first `share` of the users (of `role`, or all) and,
        with `classes`, of the classes, and for every enrollment naming one of them, the references
        changed to match: what an SIS migration or a vendor change does to a district. Every other
        field stays, so a sync can pair old and new by identifier and email."""
        from .timestamps import format_instant

        stamp = format_instant(utc_now(), "milliseconds")
        with self.store.lock:
            users = [u for u in self.store.records("users") if role is None or u.get("role") == role]
            chosen_users = {u["sourcedId"] for u in users[: round(len(users) * share)]}
            all_classes = self.store.records("classes")
            chosen_classes = (
                {c["sourcedId"] for c in all_classes[: round(len(all_classes) * share)]} if classes else set()
            )
            for collection, chosen in (("users", chosen_users), ("classes", chosen_classes)):
                for sid in chosen:
                    record = self.store.delete(collection, sid)
                    if record is None:  # chosen from the store under its lock: always there
                        continue
                    self.store.put(collection, dict(record, sourcedId=prefix + sid, dateLastModified=stamp))
            moved = 0
            for enrollment in self.store.records("enrollments"):
                user, klass = enrollment["user"]["sourcedId"], enrollment["class"]["sourcedId"]
                if user not in chosen_users and klass not in chosen_classes:
                    continue
                self.store.delete("enrollments", enrollment["sourcedId"])
                changed = dict(enrollment, sourcedId=prefix + enrollment["sourcedId"], dateLastModified=stamp)
                for field, chosen in (("user", chosen_users), ("class", chosen_classes)):
                    ref = enrollment[field]
                    if ref["sourcedId"] in chosen:
                        href = ref.get("href") or ""
                        changed[field] = dict(
                            ref,
                            sourcedId=prefix + ref["sourcedId"],
                            href=href[: len(href) - len(ref["sourcedId"])] + prefix + ref["sourcedId"]
                            if href.endswith(ref["sourcedId"])
                            else href,
                        )
                self.store.put("enrollments", changed)
                moved += 1
        return {"users": len(chosen_users), "classes": len(chosen_classes), "enrollments": moved}

    def state(self) -> dict:
        with self.store.lock:
            return {
                "day": self.store.day,
                "data": self.store.snapshot(),
                "history": json.loads(json.dumps(self.store.history)),
            }

    # -- HTTP
    def handle(self, request: Request) -> Response:
        prefix = self.config.path_prefix
        for root in dict.fromkeys(("", prefix)):
            if request.path == root + "/_admin" or request.path.startswith(root + "/_admin/"):
                return admin.handle(self, request.method, request.path[len(root) :], request.body)
        if prefix and not request.path.startswith(prefix + "/"):
            return json_response(404, {"error": "not_found"})
        below_prefix = request.path[len(prefix) :]
        bases = [ONEROSTER_BASE_PATHS[v] for v in self.config.versions]
        is_token = below_prefix == "/token" or any(below_prefix == base + "/token" for base in bases)
        base = next((b for b in bases if below_prefix.startswith(b + "/")), None)
        if not is_token and base is None:
            return json_response(404, {"error": "not_found"})
        api_path = "/token" if is_token else below_prefix[len(base or "") :]
        reshape = base == ONEROSTER_BASE_PATHS["1.2"] and not is_token
        self.stats.count(api_path, is_token)
        self.stats.started()
        try:
            return self._answer(request, api_path, is_token, reshape)
        finally:
            self.stats.finished()

    def _answer(self, request: Request, api_path: str, is_token: bool, reshape: bool) -> Response:
        if self.quirks.latency_ms:
            time.sleep(self.quirks.latency_ms / 1000)
        fault = self.faults.take(request.path, is_token)
        if fault is not None and fault.kind in fault_responses.REPLACING:
            response = fault_responses.replacement(fault, api_path)
        else:
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.ms / 1000)
            response = self._token(request) if is_token else self._oneroster(request, api_path)
            if reshape and response.status == 200:
                response = replace(response, body=v1p2.body(response.body))
            if fault is not None:
                response = fault_responses.spoil(response, fault)
        self.stats.answered(response.status, fault is not None)
        return response

    def _token(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(405, b'{"error":"method_not_allowed"}', headers={"Allow": "POST"})
        text = request.body.decode("utf-8", "replace")
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                form = {k: str(v) for k, v in json.loads(text or "{}").items()}
            except (ValueError, AttributeError):
                form = {}
        else:
            form = dict(parse_qsl(text, keep_blank_values=True))
        return self.auth.issue_token(request.headers.get("authorization"), form)

    def _oneroster(self, request: Request, api_path: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b'{"error":"method_not_allowed"}', headers={"Allow": "GET"})
        query = parse_qsl(request.query, keep_blank_values=True)
        url = f"http://{request.host}{request.path}"
        # RFC 5849 3.4.1.2: the signed URI has a lower-case host and no default port.
        signed_uri = f"http://{request.host.lower().removesuffix(':80')}{request.path}"
        nested = api_path.count("/") >= 3  # /classes/{id}/students, not /classes or /classes/{id}
        needs_scope = ROSTER_SCOPE if nested and self.quirks.nested_requires_roster_scope else None
        refusal = self.auth.check(request.method, signed_uri, query, request.headers.get("authorization"), needs_scope)
        if refusal is not None:
            return refusal
        return self.api.answer(api_path, query, url)
