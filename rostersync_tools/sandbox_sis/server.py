"""SandboxSIS: the sandbox OneRoster 1.1 server on 127.0.0.1, started and stopped from Python.

    sis = SandboxSIS(SandboxConfig(seed=42, students=200))
    host_url = sis.start(port=0)       # "http://127.0.0.1:PORT"; OneRoster at sis.base_url
    ...
    sis.stop()

The standard library's ThreadingHTTPServer, so that the "drop" fault can close a socket half
way through a body; SandboxApp (app.py) decides every answer.
"""

import contextlib
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from .app import Request, SandboxApp
from .config import ONEROSTER_BASE_PATH, ONEROSTER_BASE_PATHS, SandboxConfig
from .responses import Response

LOOPBACK = "127.0.0.1"
MAX_BODY_BYTES = 1 << 20


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"  # the server this handler serves (its app, its port)
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections across pages
    server_version = "SandboxSIS/1.0"
    timeout = 60  # an idle keep-alive connection is closed after this
    # Headers and body go out in two writes; with Nagle on, the second waits ~40 ms for an ACK.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        # Quiet: request lines carry OAuth signatures and filters nobody asked to see.
        pass

    def _serve(self):
        split = urlsplit(self.path)
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True  # the rest of the body must not pass for a request
            self._send(Response(400, json.dumps({"error": str(exc)}).encode()))
            return
        request = Request(
            method=self.command,
            path=split.path,
            query=split.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            host=self.headers.get("Host") or f"{LOOPBACK}:{self.server.server_port}",
        )
        self._send(self.server.app.handle(request))

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunks()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ValueError("Content-Length is not a number") from None
        if not 0 <= length <= MAX_BODY_BYTES:
            raise ValueError("Content-Length out of range")
        return self.rfile.read(length) if length else b""

    def _read_chunks(self) -> bytes:
        body = b""
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return body
            body += self.rfile.read(size)
            self.rfile.readline(1024)  # the CRLF after each chunk
            if len(body) > MAX_BODY_BYTES:
                raise ValueError("body too large")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def _send(self, response: Response):
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if response.drop_after_bytes is None:
            self.wfile.write(response.body)
            return
        # The "drop" fault: part of the promised body, then the connection goes away.
        self.wfile.write(response.body[: response.drop_after_bytes])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, port: int, app: SandboxApp):
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((LOOPBACK, port), _Handler)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # Clients hanging up mid-answer (timeouts, the "drop" fault) are normal here; anything else
        # gets one line on stderr, without the request (it may carry credentials).
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            print(f"sandbox-sis: error while answering a request: {type(error).__name__}: {error}", file=sys.stderr)

    def close_connections(self):
        """Hang up on keep-alive clients, so that a stopped server answers nothing more."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class SandboxSIS:
    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        self.app = SandboxApp(self.config)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self, port: int = 0) -> str:
        """Listen on 127.0.0.1:`port` (0: any free port) in a background thread; the host URL."""
        if self._server is not None:
            raise RuntimeError("the sandbox SIS is already running")
        self._server = _Server(port, self.app)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sandbox-sis:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self.host_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None
        self._thread = None

    def __enter__(self):
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- where it listens
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox SIS is not running")
        return self._server.server_port

    @property
    def host_url(self) -> str:
        """Scheme, host and port: "http://127.0.0.1:PORT" (without any vendor prefix)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def prefixed_host_url(self) -> str:
        """What a district admin enters as the SIS host: host_url plus the vendor prefix, if any."""
        return self.host_url + self.config.path_prefix

    @property
    def base_url(self) -> str:
        """The OneRoster base: host_url + prefix + /ims/oneroster/v1p1."""
        return self.prefixed_host_url + ONEROSTER_BASE_PATH

    def base_url_for(self, version: str) -> str:
        """Where OneRoster `version` ("1.1" or "1.2") is served: host_url + prefix + its base path."""
        return self.prefixed_host_url + ONEROSTER_BASE_PATHS[version]

    @property
    def token_url(self) -> str:
        """host_url + prefix + /token (base_url + /token answers too)."""
        return self.prefixed_host_url + "/token"

    # -- behaviour
    def set_quirks(self, **quirks) -> dict:
        """Switch quirks on or off (see faults.Quirks); the quirks now."""
        return self.app.set_quirks(**quirks)

    def inject(self, kind: str, count: int = 1, path: str | None = None, retry_after=None, **params) -> None:
        """The next `count` matching requests fail as `kind` (faults.FAULT_KINDS); params: ms, status."""
        self.app.faults.arm(kind, count=count, path=path, retry_after=retry_after, **params)

    def clear_faults(self) -> None:
        self.app.faults.clear()

    # -- the district
    def advance_day(self, day: int | None = None) -> dict:
        """One day forward (or until `day`): {"day": n, "changes": [{"change", "sourcedId"}, ...]}."""
        return self.app.advance_day(day)

    def rollover(self, old_classes: str = "delete") -> dict:
        """The school year rolls over (rollover.py); old_classes: keep | tobedeleted | delete."""
        return self.app.rollover(old_classes)

    def end_year(self) -> dict:
        """The school year ends and no new one is set up (rollover.py, end_school_year)."""
        return self.app.end_year()

    def state(self) -> dict:
        """{"day": n, "data": {collection: [records]}, "history": [...]}: copies of the current truth."""
        return self.app.state()

    @property
    def day(self) -> int:
        return self.app.store.day

    # -- counters
    def stats(self) -> dict:
        return self.app.stats.as_dict()

    def reset_stats(self) -> None:
        self.app.stats.reset()
