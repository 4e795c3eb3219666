"""A tiny, scriptable OneRoster server for the client's unit tests (127.0.0.1 only).

It checks OAuth 1.0a signatures independently of oauthlib (RFC 5849 by hand, with
replayed nonces refused), issues OAuth 2 tokens, pages collections with the quirks real
servers have, and plays scripted faults (statuses, HTML, truncated bodies, dropped
connections, slow answers) in order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit

BASE = "/ims/oneroster/v1p1"


def enc(text: str) -> str:
    return quote(text, safe="~-._")


@dataclass
class Reply:
    status: int = 200
    body: object = None  # dict/list -> JSON; str/bytes -> as is
    headers: dict = field(default_factory=dict)
    action: str | None = None  # "drop" | "truncate" | "slow"
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    query: list
    headers: dict
    body: bytes
    raw_query: str = ""


class FakeSIS:
    def __init__(
        self,
        *,
        client_id="fake-client",
        client_secret="fake-secret",
        auth="oauth1",
        sha1_only=False,
        token_path="/token",
        scope_mode="accept",
        token_ttl=3600,
        data=None,
        page_cap=None,
        total_count=True,
        link=False,
        envelope=None,
        ignore_offset=False,
        ignore_filter=False,
        prefix="",
    ):
        self.client_id = client_id
        self.client_secret = client_secret
        self.auth = auth  # "oauth1" | "oauth2" | "both" | "none"
        self.sha1_only = sha1_only
        self.token_path = token_path
        self.scope_mode = scope_mode  # accept | reject (invalid_scope for any) | require
        self.token_ttl = token_ttl
        self.data = data or {}
        self.page_cap = page_cap
        self.total_count = total_count
        self.link = link
        self.envelope = envelope or {}
        self.ignore_offset = ignore_offset
        self.ignore_filter = ignore_filter
        self.prefix = prefix
        self.faults: dict[str, deque[Reply]] = {}
        self.routes: dict[str, object] = {}  # exact path -> callable(Seen) -> Reply
        self.seen: list[Seen] = []
        self.nonces: set[str] = set()
        self.tokens: dict[str, float] = {}  # token -> expiry
        self.tokens_issued = 0
        self.scopes_asked: list[str | None] = []
        self.signature_methods: list[str] = []
        self.revoked = False
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.latency = 0.0
        self._server = None

    # -- lifecycle

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # headers and body go out in two writes: without this, Nagle + delayed ACK cost 40 ms each
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._handle(self)

            def do_POST(self):
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    # -- scripting

    def fail(self, path: str, *replies: Reply):
        self.faults.setdefault(self.prefix + path, deque()).extend(replies)

    def data_requests(self, collection: str | None = None) -> list[Seen]:
        want = self.prefix + BASE + ("/" + collection if collection else "")
        return [s for s in self.seen if s.path.startswith(want) and s.method == "GET"]

    # -- handling

    def _handle(self, handler: BaseHTTPRequestHandler):
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        seen = Seen(
            handler.command,
            parts.path,
            parse_qsl(parts.query, keep_blank_values=True),
            {k.lower(): v for k, v in handler.headers.items()},
            body,
            parts.query,
        )
        with self._lock:
            self.seen.append(seen)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            reply = self._reply(seen, parts.query)
            try:
                self._send(handler, reply)
            except (BrokenPipeError, ConnectionResetError):
                handler.close_connection = True  # the client gave up (a timeout test)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _send(self, handler, reply: Reply):
        if reply.delay:
            time.sleep(reply.delay)
        if reply.action == "drop":
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
            return
        body = reply.body
        if isinstance(body, (dict, list)):
            payload = json.dumps(body).encode()
            ctype = "application/json"
        elif isinstance(body, str):
            payload = body.encode()
            ctype = "text/html" if body.lstrip().startswith("<") else "application/json"
        elif isinstance(body, bytes):
            payload = body
            ctype = "application/json"
        else:
            payload = b""
            ctype = "application/json"
        handler.send_response(reply.status)
        headers = {"Content-Type": ctype, **reply.headers}
        for key, value in headers.items():
            handler.send_header(key, value)
        if reply.action == "truncate":
            handler.send_header("Content-Length", str(len(payload) + 100))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(payload[: len(payload) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            return
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _reply(self, seen: Seen, raw_query: str) -> Reply:
        queue = self.faults.get(seen.path)
        if queue:
            return queue.popleft()
        if seen.path in self.routes:
            return self.routes[seen.path](seen)
        if seen.method == "POST" and seen.path == self.prefix + self.token_path and self.auth in ("oauth2", "both"):
            return self._token(seen)
        base = self.prefix + BASE
        if seen.method == "GET" and seen.path.startswith(base + "/"):
            denied = self._check_auth(seen)
            if denied:
                return denied
            return self._collection(seen, seen.path[len(base) + 1 :])
        return Reply(404, "<html><body>Not Found</body></html>")

    # -- auth

    def _check_auth(self, seen: Seen) -> Reply | None:
        if self.auth == "none":
            return None
        header = seen.headers.get("authorization", "")
        if self.revoked:
            return Reply(
                401,
                {
                    "imsx_codeMajor": "failure",
                    "imsx_severity": "error",
                    "imsx_CodeMinor": "unauthorisedrequest",
                    "imsx_description": "revoked",
                },
            )
        if header.startswith("Bearer ") and self.auth in ("oauth2", "both"):
            expiry = self.tokens.get(header[7:])
            if expiry is not None and expiry > time.time():
                return None
            return Reply(401, {"error": "invalid_token"})
        if header.startswith("OAuth ") and self.auth in ("oauth1", "both"):
            problem = self._verify_oauth1(seen, header)
            if problem is None:
                return None
            return Reply(
                401,
                {
                    "imsx_codeMajor": "failure",
                    "imsx_severity": "error",
                    "imsx_CodeMinor": "unauthorisedrequest",
                    "imsx_description": problem,
                },
            )
        return Reply(
            401,
            {
                "imsx_codeMajor": "failure",
                "imsx_CodeMinor": "unauthorisedrequest",
                "imsx_description": "no credentials",
            },
        )

    def _verify_oauth1(self, seen: Seen, header: str) -> str | None:
        params = {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header[6:])}
        method = params.get("oauth_signature_method")
        self.signature_methods.append(method)
        if params.get("oauth_consumer_key") != self.client_id:
            return "unknown consumer"
        if method not in ("HMAC-SHA256", "HMAC-SHA1") or (self.sha1_only and method != "HMAC-SHA1"):
            return "signature method not supported"
        if abs(int(params.get("oauth_timestamp", "0")) - time.time()) > 300:
            return "stale timestamp"
        nonce = params.get("oauth_nonce", "")
        if not nonce or nonce in self.nonces:
            return "nonce replayed"
        self.nonces.add(nonce)
        signed = [(k, v) for k, v in params.items() if k not in ("oauth_signature", "realm")] + seen.query
        normalised = "&".join(f"{k}={v}" for k, v in sorted((enc(k), enc(v)) for k, v in signed))
        uri = f"http://{seen.headers['host'].lower()}{seen.path}"
        base_string = "&".join(("GET", enc(uri), enc(normalised)))
        digest = hashlib.sha256 if method == "HMAC-SHA256" else hashlib.sha1
        expected = base64.b64encode(
            hmac.new(f"{enc(self.client_secret)}&".encode(), base_string.encode(), digest).digest()
        ).decode()
        if not hmac.compare_digest(expected, params.get("oauth_signature", "")):
            return "invalid signature"
        return None

    def _token(self, seen: Seen) -> Reply:
        header = seen.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        form = dict(parse_qsl(seen.body.decode()))
        scope = form.get("scope")
        self.scopes_asked.append(scope)
        if form.get("grant_type") != "client_credentials":
            return Reply(400, {"error": "unsupported_grant_type"})
        if header != expected or self.revoked:
            return Reply(401, {"error": "invalid_client", "error_description": "bad client credentials"})
        if self.scope_mode == "reject" and scope:
            return Reply(400, {"error": "invalid_scope"})
        if self.scope_mode == "require" and not scope:
            return Reply(400, {"error": "invalid_scope", "error_description": "scope required"})
        self.tokens_issued += 1
        token = f"token-{self.tokens_issued}-{time.time_ns()}"
        self.tokens[token] = time.time() + self.token_ttl
        return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": self.token_ttl})

    # -- collections

    def _collection(self, seen: Seen, rest: str) -> Reply:
        parts = rest.split("/")
        name = parts[0]
        if name not in self.data:
            return Reply(404, {"imsx_codeMajor": "failure", "imsx_CodeMinor": "unknownobject"})
        records = self.data[name]
        key = self.envelope.get(name, _spec_key(name))
        if len(parts) == 2:
            match = [r for r in records if r.get("sourcedId") == unquote(parts[1])]
            if not match:
                return Reply(404, {"imsx_codeMajor": "failure", "imsx_CodeMinor": "unknownobject"})
            return Reply(200, {_single(key): match[0]})
        query = dict(seen.query)
        limit = int(query.get("limit", 100))
        offset = 0 if self.ignore_offset else int(query.get("offset", 0))
        if self.page_cap:
            limit = min(limit, self.page_cap)
        if "filter" in query and not self.ignore_filter:
            records = _apply_filter(records, query["filter"])
        page = records[offset : offset + limit]
        headers = {}
        if self.total_count:
            headers["X-Total-Count"] = str(len(records))
        if self.link:
            links = []
            if offset + limit < len(records):
                links.append(f'<{BASE}/{name}?limit={limit}&offset={offset + limit}>; rel="next"')
            links.append(f'<{BASE}/{name}?limit={limit}&offset={max(0, len(records) - limit)}>; rel="last"')
            headers["Link"] = ", ".join(links)
        return Reply(200, {key: page}, headers)


def _spec_key(name: str) -> str:
    return {"schools": "orgs", "students": "users", "teachers": "users", "terms": "academicSessions"}.get(name, name)


def _single(key: str) -> str:
    return {"classes": "class", "academicSessions": "academicSession"}.get(key, key[:-1])


def _apply_filter(records, text):
    match = re.fullmatch(r"(\w+)(>=|>|=)'(.*)'", text)
    if not match:
        return records
    field_, op, value = match.groups()
    if op == "=":
        return [r for r in records if str(r.get(field_)) == value]
    if op == ">":
        return [r for r in records if str(r.get(field_, "")) > value]
    return [r for r in records if str(r.get(field_, "")) >= value]


def make_users(count: int, *, stamp="2026-11-02T10:00:00.000Z", prefix="u"):
    return [
        {
            "sourcedId": f"{prefix}{i:05d}",
            "status": "active",
            "dateLastModified": stamp,
            "role": "student",
            "givenName": f"G{i}",
            "familyName": f"F{i}",
            "username": f"user{i}",
            "enabledUser": "true",
            "orgs": [{"sourcedId": "s1", "type": "org", "href": "/orgs/s1"}],
            "grades": ["05"],
        }
        for i in range(count)
    ]
