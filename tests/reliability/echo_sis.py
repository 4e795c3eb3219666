"""A hostile or sloppy OneRoster server on 127.0.0.1 that repeats the credentials it was sent,
and the client secret it knows, in every way a server can: error descriptions, imsx
payloads, HTML pages, redirect targets, headers. For hunting the secret in everything the
product produces. Behaviour is switched per test with `mode`.

Modes: ok (a tiny valid district), token_echo (token endpoint refuses, echoing the Basic header
and the secret), data_500_echo, data_401_echo, data_200_error_echo, html_echo, invalid_json_echo,
redirect_secret_path (data requests redirect to a path that contains the secret),
token_redirect_secret (the token endpoint redirects to such a path), header_echo (echoes the
Authorization header back in a header and the body).
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

BASE = "/ims/oneroster/v1p1"
MODES = (
    "ok",
    "token_echo",
    "data_500_echo",
    "data_401_echo",
    "data_200_error_echo",
    "html_echo",
    "invalid_json_echo",
    "redirect_secret_path",
    "token_redirect_secret",
    "header_echo",
)

SCHOOL = {"sourcedId": "sch-echo", "status": "active", "name": "Echo School", "type": "school"}
DATA = {
    "schools": ("orgs", [SCHOOL]),
    "orgs": ("orgs", [SCHOOL]),
    "courses": ("courses", []),
    "classes": ("classes", []),
    "users": ("users", []),
    "enrollments": ("enrollments", []),
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data, headers=()):
        self._send(status, json.dumps(data).encode(), headers=headers)

    def do_POST(self):
        server: EchoSIS = self.server.sis
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode("utf-8", "replace")))
        path = urlsplit(self.path).path
        server.requests += 1
        if not path.endswith("token") and "/token-" not in path:
            return self._json(404, {"error": "not_found"})
        said = f"client {server.client_id} secret {server.secret} auth {self.headers.get('Authorization')} form {form}"
        if server.mode == "token_echo":
            return self._json(401, {"error": "invalid_client", "error_description": said})
        if server.mode == "token_redirect_secret" and "/token-" not in path:
            return self._send(307, b"", headers=[("Location", f"/token-{server.secret}")])
        if server.mode == "token_redirect_secret":
            return self._json(400, {"error": "invalid_request", "error_description": said})
        return self._json(200, {"access_token": f"tok-{server.requests}", "token_type": "bearer", "expires_in": 3600})

    def do_GET(self):
        server: EchoSIS = self.server.sis
        server.requests += 1
        parts = urlsplit(self.path)
        said = f"secret {server.secret} auth {self.headers.get('Authorization')} query {parts.query}"
        mode = server.mode
        if mode == "data_500_echo":
            return self._json(
                500,
                {
                    "imsx_codeMajor": "failure",
                    "imsx_severity": "error",
                    "imsx_CodeMinor": "server_busy",
                    "imsx_description": said,
                },
            )
        if mode == "data_401_echo":
            return self._json(
                401,
                {"imsx_codeMajor": "failure", "imsx_CodeMinor": "unauthorisedrequest", "imsx_description": said},
                headers=[("WWW-Authenticate", f"Bearer {said}")],
            )
        if mode == "data_200_error_echo":
            return self._json(200, {"error": said, "message": said})
        if mode == "html_echo":
            return self._send(200, f"<html><body>{said}</body></html>".encode(), "text/html")
        if mode == "invalid_json_echo":
            return self._send(200, f'{{"users": [ {said}'.encode())
        if mode == "redirect_secret_path" and server.secret not in parts.path:
            return self._send(302, b"", headers=[("Location", f"{BASE}/{server.secret}/users?x={server.secret}")])
        if mode == "redirect_secret_path":
            return self._json(
                404, {"imsx_codeMajor": "failure", "imsx_CodeMinor": "unknownobject", "imsx_description": said}
            )
        if mode == "header_echo":
            return self._json(503, {"error": said}, headers=[("X-Echo", said), ("Retry-After", "0")])
        collection = parts.path.rsplit("/", 1)[-1]
        if not parts.path.startswith(BASE) or collection not in DATA:
            return self._json(
                404,
                {
                    "imsx_codeMajor": "failure",
                    "imsx_CodeMinor": "unknownobject",
                    "imsx_description": "no such collection",
                },
            )
        key, records = DATA[collection]
        return self._json(200, {key: records}, headers=[("X-Total-Count", str(len(records)))])


class EchoSIS:
    """Looks enough like SandboxSIS for tests.fixtures.districts.connect_district."""

    def __init__(self, secret: str, client_id: str = "echo-client"):
        self.secret = secret
        self.client_id = client_id
        self.config = SimpleNamespace(client_id=client_id, client_secret=secret)
        self.mode = "ok"
        self.requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.sis = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> "EchoSIS":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def host_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    prefixed_host_url = host_url
