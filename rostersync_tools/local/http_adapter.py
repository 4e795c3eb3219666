"""The local HTTP API: what API Gateway does in front of functions/api/app.py, on loopback.

For each request, in API Gateway's order: answer CORS preflights; refuse bodies over the
10 MB payload limit (413); check the bearer token as the JWT authorizer does (401
`{"message":"Unauthorized"}` without invoking the function); build the payload 2.0 event;
invoke the real handler; write its response back with the CORS headers.
`GET /openapi.json` is served here, without a token, for people and front-end tooling; `GET /docs`
(the Redoc page) reaches the function without a token, as the template's route without an
authorizer does deployed.

Lambda runs one request per instance at a time and the Powertools resolver keeps the current
event on a module-level object, so invocations are serialised: one warm instance.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from rostersync_tools.local.api_events import HttpRequest, build_event, lowercase_headers, parse_result
from rostersync_tools.local.cors import CorsPolicy, without_cors_headers
from rostersync_tools.local.functions import LambdaContext, load_handler
from rostersync_tools.local.serving import serve_in_background, stop_serving
from rostersync_tools.local.tokens import (
    InvalidToken,
    KeyPair,
    authorizer_claims,
    authorizer_scopes,
    bearer_from_header,
    verify_token,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API's payload limit
OPENAPI_PATH = "/openapi.json"
UNAUTHENTICATED_PATHS = ("/docs",)  # template.yaml: routes with Authorizer NONE
Handler = Callable[[dict, object], object]


def _json(data: dict) -> bytes:
    return json.dumps(data).encode()


def default_openapi() -> str:
    from rostersync.api.app import openapi_document

    return openapi_document()


class _BodyTooLarge(Exception):
    pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every response carries Content-Length
    server: "_Server"

    # Every method goes the same way; API Gateway's route is ANY.
    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def __getattr__(self, name: str):
        # Any other method (TRACE, ...) goes the same way too, to a JSON answer in the
        # contract's shape, rather than http.server's HTML 501 page.
        if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper():
            return self._handle
        raise AttributeError(name)

    def _handle(self) -> None:
        started = time.monotonic()
        adapter = self.server.adapter
        headers = lowercase_headers(list(self.headers.items()))
        path = self.path.partition("?")[0]
        try:
            status = self._route(adapter, headers, path)
        except _BodyTooLarge:
            self.close_connection = True  # the rest of the body is never read
            status = self._send(
                413, [("content-type", "application/json")], _json({"message": "Request Entity Too Large"}), headers
            )
        # Request lines only: never bodies, query strings or headers (tokens, secrets).
        log.info("%s %s -> %s (%d ms)", self.command, path, status, (time.monotonic() - started) * 1000)

    def _route(self, adapter: "LocalHttpApi", headers: dict[str, str], path: str) -> int:
        if adapter.cors.is_preflight(self.command, headers):
            return self._send(204, adapter.cors.preflight_headers(headers), b"", headers, add_cors=False)

        body = self._read_body(headers)

        if path == OPENAPI_PATH and self.command in ("GET", "HEAD"):
            try:
                document = adapter.openapi().encode()
            except Exception:
                log.exception("openapi document failed")
                return self._send(
                    500, [("content-type", "application/json")], _json({"message": "Internal Server Error"}), headers
                )
            return self._send(200, [("content-type", "application/json")], document, headers)

        try:
            if path in UNAUTHENTICATED_PATHS and self.command in ("GET", "HEAD"):
                claims = {}
            else:
                claims = verify_token(adapter.keys, bearer_from_header(headers.get("authorization")))
        except InvalidToken as why:
            log.info("token refused: %s", why)
            return self._send(
                401,
                [("content-type", "application/json"), ("www-authenticate", "Bearer")],
                _json({"message": "Unauthorized"}),
                headers,
            )

        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            server_port=self.server.server_address[1],
            protocol=self.request_version,
            claims=authorizer_claims(claims),
            scopes=authorizer_scopes(claims),
        )
        event = build_event(request)
        try:
            result = adapter.invoke(event)
            response = parse_result(result)
        except Exception:
            log.exception("the API function failed")  # a traceback, never the event
            return self._send(
                500,
                [("content-type", "application/json")],
                _json({"message": "Internal Server Error"}),
                headers,
                request_id=event["requestContext"]["requestId"],
            )
        return self._send(
            response.status,
            without_cors_headers(response.headers),
            response.body,
            headers,
            request_id=event["requestContext"]["requestId"],
        )

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        length = int(headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            raise _BodyTooLarge()
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BodyTooLarge()
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        request_headers: dict[str, str],
        add_cors: bool = True,
        request_id: str | None = None,
    ) -> int:
        self.send_response_only(status)
        self.send_header("date", self.date_time_string())
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding", "date"):
                self.send_header(name, value)
        if add_cors:
            for name, value in self.server.adapter.cors.response_headers(request_headers):
                self.send_header(name, value)
        if request_id:
            self.send_header("apigw-requestid", request_id)
        self.send_header("content-length", str(len(body)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        return status

    def log_message(self, format, *args):
        pass  # _handle logs one line per request; the default would print query strings


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    adapter: "LocalHttpApi"


class LocalHttpApi:
    def __init__(
        self,
        keys: KeyPair,
        port: int = 0,
        handler: Handler | None = None,
        cors: CorsPolicy | None = None,
        openapi: Callable[[], str] | None = None,
    ):
        self.keys = keys
        self.port = port
        self.cors = cors or CorsPolicy.from_template()
        self.openapi = openapi or default_openapi
        self._handler = handler
        self._invoke_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def invoke(self, event: dict):
        with self._invoke_lock:
            handler = self._handler or load_handler("api")
            return handler(event, LambdaContext("api"))

    def start(self) -> "LocalHttpApi":
        self._server = _Server(("127.0.0.1", self.port), _RequestHandler)
        self._server.adapter = self
        self.port = self._server.server_address[1]
        self._thread = serve_in_background(self._server, "local-http-api")
        return self

    def stop(self) -> None:
        stop_serving(self._server)
        self._server = None
