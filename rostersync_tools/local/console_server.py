"""The console, served locally: the static files in console/, its generated config.json, and the
local-only sign-in (`POST /local/token`), on a port of its own so that the browser calls the
API across origins as it does deployed (CloudFront origin -> API Gateway: CORS and preflights).

Deployed, CloudFront serves the same files and a config.json written by `rostersync console
config`; there is no /local/ path there. The sign-in here mints exactly the tokens `rostersync
local token` prints (same key pair, claims, issuer and audience): it exists so that a person can
use the local stack in a browser, and it listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rostersync_tools.console_config import LOCAL_SIGN_IN_PATH, local_config
from rostersync_tools.local.serving import serve_in_background, stop_serving
from rostersync_tools.local.tokens import ROLES, KeyPair, issue_token

log = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parents[2] / "console"
MAX_BODY_BYTES = 4096


# What CloudFront's response headers policy adds deployed (template.yaml, ConsoleHeadersPolicy);
# here connect-src names the local API instead of API Gateway and Cognito.
def security_headers(connect_to: list[str]) -> list[tuple[str, str]]:
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {' '.join(connect_to)}; frame-ancestors 'none'; base-uri 'self'; "
        "form-action 'self'; object-src 'none'"
    )
    return [
        ("content-security-policy", csp),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-cache"),
    ]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self):
        self._serve_file(send_body=True)

    def do_HEAD(self):
        self._serve_file(send_body=False)

    def do_POST(self):
        path = self.path.partition("?")[0]
        if path != LOCAL_SIGN_IN_PATH:
            return self._json(404, {"error": {"code": "not_found", "message": "No such path."}})
        self._issue_token()

    def _issue_token(self) -> None:
        console = self.server.console
        # Only the console's own page may ask: a JSON body (a cross-origin page could only send
        # it after a CORS preflight, which this server never allows) from this origin.
        origin = self.headers.get("Origin")
        if origin is not None and origin != console.url:
            return self._json(403, {"error": {"code": "forbidden", "message": "Sign in from the console's own page."}})
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return self._json(
                400,
                {
                    "error": {
                        "code": "unsupported_content_type",
                        "message": "Send the request body as application/json.",
                    }
                },
            )
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return self._json(
                400, {"error": {"code": "request_too_large", "message": "The request body is too large."}}
            )
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._json(
                400, {"error": {"code": "malformed_json", "message": "The request body is not valid JSON."}}
            )
        if not isinstance(body, dict):
            return self._json(
                400, {"error": {"code": "invalid_body", "message": "The request body must be a JSON object."}}
            )
        role = body.get("role")
        district_id = body.get("districtId") or None
        if role not in ROLES:
            return self._json(
                422, {"error": {"code": "invalid_request", "message": f"role must be one of {', '.join(ROLES)}."}}
            )
        if district_id is not None and (not isinstance(district_id, str) or len(district_id) > 255):
            return self._json(
                422, {"error": {"code": "invalid_request", "message": "districtId must be a district id."}}
            )
        if role != "platform_admin" and district_id is None:
            return self._json(
                422,
                {
                    "error": {
                        "code": "invalid_request",
                        "message": "districtId: choose the district this account belongs to.",
                    }
                },
            )
        token = issue_token(console.keys(), role, district_id=district_id)
        self._json(200, {"idToken": token, "role": role, "districtId": district_id})

    def _serve_file(self, send_body: bool) -> None:
        console = self.server.console
        path = self.path.partition("?")[0].partition("#")[0]
        if path == "/config.json":
            return self._send(200, "application/json", json.dumps(console.config()).encode(), send_body)
        if path in ("", "/"):
            path = "/index.html"
        root = console.directory.resolve()
        try:
            target = (root / path.lstrip("/")).resolve()
        except (OSError, ValueError):
            target = None
        if target is None or root not in target.parents or not target.is_file():
            # The console is one page: unknown paths (e.g. /callback) get it, as CloudFront's
            # error response does deployed; assets that do not exist are 404s.
            if "." not in path.rsplit("/", 1)[-1]:
                target = root / "index.html"
            else:
                return self._send(404, "text/plain; charset=utf-8", b"not found", send_body)
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        self._send(200, content_type, target.read_bytes(), send_body)

    def _json(self, status: int, data: dict) -> None:
        self._send(status, "application/json", json.dumps(data).encode(), True)

    def _send(self, status: int, content_type: str, body: bytes, send_body: bool) -> None:
        self.send_response_only(status)
        self.send_header("date", self.date_time_string())
        self.send_header("content-type", content_type)
        for name, value in security_headers(self.server.console.connect_to()):
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # request lines would carry query strings; nothing here needs a log


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    console: LocalConsole


class LocalConsole:
    """The console on http://127.0.0.1:<port>/; `api_url` and `keys` are read when asked (the
    stack's API port is known only once it listens)."""

    def __init__(
        self,
        api_url: Callable[[], str],
        keys: Callable[[], KeyPair],
        port: int = 0,
        sis_host_url: Callable[[], str | None] = lambda: None,
        directory: Path = CONSOLE_DIR,
        config: dict | None = None,
        any_port_if_busy: bool = False,
        upload_origins: Callable[[], list[str]] = lambda: [],
    ):
        """`config`: serve this config.json instead of the local one (tests of the deployed sign-in).
        `any_port_if_busy`: take a free port when `port` is taken (the default port, not one asked for).
        `upload_origins`: where the page may send CSV bundles (the embedded S3: presigned POSTs)."""
        self.api_url = api_url
        self.keys = keys
        self.port = port
        self.sis_host_url = sis_host_url
        self.directory = Path(directory)
        self._config = config
        self.any_port_if_busy = any_port_if_busy
        self.upload_origins = upload_origins
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict:
        return self._config or local_config(self.api_url(), sis_host_url=self.sis_host_url())

    def connect_to(self) -> list[str]:
        """The origins the page may call (CSP connect-src): the API, S3 for bundle uploads and,
        deployed, the hosted UI."""
        config = self.config()
        hosted_ui = [config["cognito"]["domain"]] if config.get("cognito") else []
        return [config["apiUrl"], *self.upload_origins(), *hosted_ui]

    def start(self) -> LocalConsole:
        if not (self.directory / "index.html").is_file():
            raise RuntimeError(f"the console's files are missing ({self.directory}/index.html)")
        try:
            self._server = _Server(("127.0.0.1", self.port), _Handler)
        except OSError:
            if not self.any_port_if_busy or self.port == 0:
                raise
            log.warning("port %d is taken: the console listens on another one (see the ready line)", self.port)
            self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.console = self
        self.port = self._server.server_address[1]
        self._thread = serve_in_background(self._server, "local-console")
        return self

    def stop(self) -> None:
        stop_serving(self._server)
        self._server = None
