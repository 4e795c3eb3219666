"""Runtime misbehaviour: quirks (switches that stay on) and injected faults (the next N requests).

Quirks are the ways real SIS servers differ from the specification; faults are the ways a
network and a busy server fail. Both are set from Python (SandboxSIS.set_quirks / inject) or
over HTTP (POST /_admin/quirks, POST /_admin/inject).
"""

import threading
from dataclasses import asdict, dataclass, fields


@dataclass
class Quirks:
    latency_ms: int = 0  # added before every OneRoster and token answer
    page_cap: int = 1000  # limit is silently capped at this
    no_total_count: bool = False  # no X-Total-Count header
    no_link: bool = False  # no Link header
    endpoint_envelopes: bool = False  # /schools -> "schools", /students -> "students", /terms -> "terms", ...
    ignore_filters: bool = False  # filter is ignored: everything comes back
    filters_return_empty: bool = False  # any filtered request returns an empty list
    repeat_pages: bool = False  # offset is ignored: always the first page
    empty_students: bool = False  # no students anywhere (users, nested routes, enrollments)
    wrong_collection: bool = False  # /users answers with a classes envelope
    # auth
    oauth1_sha1_only: bool = False  # OAuth 1 signatures must be HMAC-SHA1
    only_oauth1: bool = False  # no token endpoint, bearer tokens refused
    only_oauth2: bool = False  # OAuth 1 signatures refused
    reject_scope: bool = False  # token request with a scope -> 400 invalid_scope
    require_scope: bool = False  # token request without a scope -> 400 invalid_scope
    revoke_credentials: bool = False  # every request 401, issued tokens invalid
    # Nested routes (/classes/{id}/students, ...) want roster.readonly besides roster-core.readonly:
    # a bearer token without it gets 403 (imsx forbidden, insufficient_scope).
    nested_requires_roster_scope: bool = False

    def update(self, **changes) -> None:
        known = {f.name: f.type for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown quirks: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        for name, value in changes.items():
            if name in ("latency_ms", "page_cap"):
                value = int(value)
                if value < (1 if name == "page_cap" else 0):
                    raise ValueError(f"{name} out of range: {value}")
            elif not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false")
            setattr(self, name, value)

    def as_dict(self) -> dict:
        return asdict(self)


FAULT_KINDS = (
    "429",
    "500",
    "503",
    "html",
    "truncate",
    "invalid_json",
    "drop",
    "slow",
    "imsx_failure",
    "imsx_failure_empty",
)


@dataclass
class Fault:
    kind: str
    remaining: int
    path: str | None = None  # only requests whose path contains this; None: every data request
    retry_after: int | str | None = None  # Retry-After header value (429, 503)
    ms: int = 2000  # how long "slow" sleeps
    status: int = 200  # HTTP status of "imsx_failure" (200 or 500)

    def matches(self, path: str, is_token_request: bool) -> bool:
        if self.path is None:
            # Without a path a fault hits the roster reads, not the token endpoint: a client's
            # first request is often a token request, and faulting it by surprise confuses tests.
            return not is_token_request
        return self.path in path


class FaultInjector:
    """A queue of armed faults; each matching request takes one shot of the first that matches."""

    def __init__(self):
        self._lock = threading.Lock()
        self._armed: list[Fault] = []
        self.fired = 0

    def arm(
        self, kind: str, count: int = 1, path: str | None = None, retry_after=None, ms: int = 2000, status: int = 200
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (known: {', '.join(FAULT_KINDS)})")
        if int(count) < 1:
            raise ValueError("count must be at least 1")
        if kind == "imsx_failure" and int(status) not in (200, 500):
            raise ValueError("imsx_failure status must be 200 or 500")
        fault = Fault(kind, int(count), path or None, retry_after, int(ms), int(status))
        with self._lock:
            self._armed.append(fault)
        return fault

    def take(self, path: str, is_token_request: bool) -> Fault | None:
        with self._lock:
            for fault in self._armed:
                if fault.matches(path, is_token_request):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._armed.remove(fault)
                    self.fired += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def pending(self) -> list[dict]:
        with self._lock:
            return [asdict(f) for f in self._armed]
