"""One kept-alive HTTP/1.1 connection that sends POSTs and reads their answers: the transport of
store/dynamodb_wire.py.

Why not http.client: a full sync sends thousands of batch requests, and http.client spends more
CPU on each than building and signing it (header validation line by line, the response's headers
parsed by the email package, several buffered objects per response: bench/README.md, "What took
the CPU"). The requests here have one shape (POST, a few signed headers, a body of known length)
and DynamoDB answers with a status line, headers and a Content-Length body, so this is a few
reads on a buffered socket. It still reads what HTTP/1.1 allows an answer to be: a chunked body,
or one that ends when the server closes; interim 1xx answers are skipped; an answer that says
`Connection: close` (or an HTTP/1.0 one without keep-alive) closes the connection after it.

Errors are http.client's: RemoteDisconnected when the server closes without an answer (a
kept-alive connection it dropped), BadStatusLine / LineTooLong / IncompleteRead for a broken
answer, OSError from the socket. The caller closes the connection on any of them; the next
request opens a new one.
"""

from __future__ import annotations

import http.client
import socket
import ssl

MAX_LINE = 65536
MAX_HEADERS = 100


class WireConnection:
    """Not thread-safe: one per thread (the wire keeps them in a threading.local)."""

    def __init__(self, host: str, port: int | None, timeout: float, tls: ssl.SSLContext | None = None):
        self.host, self.tls, self.timeout = host, tls, timeout
        self.port = port or (443 if tls is not None else 80)
        self._sock: socket.socket | None = None
        self._reader = None

    def post(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        """(status, headers with lower-case names, body) of the answer to one POST."""
        if self._sock is None:
            self._open()
        head = "".join(
            [
                f"POST {path} HTTP/1.1\r\n",
                *(f"{name}: {value}\r\n" for name, value in headers.items()),
                f"content-length: {len(body)}\r\n\r\n",
            ]
        )
        self._sock.sendall(head.encode("latin-1") + body)
        while True:
            version, status = self._status_line()
            answer_headers = self._headers()
            if not 100 <= status < 200:
                break  # interim answers (100 Continue) carry no body
        content, ended_by_close = self._body(answer_headers)
        connection = answer_headers.get("connection", "").lower()
        if ended_by_close or "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection):
            self.close()
        return status, answer_headers, content

    def _open(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self._sock, self._reader = sock, sock.makefile("rb")

    def _line(self) -> bytes:
        line = self._reader.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        return line

    def _status_line(self) -> tuple[str, int]:
        line = self._line()
        if not line:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        version, _, rest = line.decode("latin-1").partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/") or not code.isdigit():
            raise http.client.BadStatusLine(line.decode("latin-1", "replace").rstrip())
        return version, int(code)

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS):
            line = self._line()
            if line in (b"\r\n", b"\n", b""):
                return headers
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")

    def _body(self, headers: dict[str, str]) -> tuple[bytes, bool]:
        """The answer's body, and whether it ended with the connection."""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._chunked(), False
        length = headers.get("content-length")
        if length is None:
            return self._reader.read(), True
        if not length.isdigit():
            raise http.client.HTTPException(f"bad Content-Length {length!r}")
        content = self._reader.read(int(length))
        if len(content) < int(length):
            raise http.client.IncompleteRead(content, int(length) - len(content))
        return content, False

    def _chunked(self) -> bytes:
        parts = []
        while True:
            size_text = self._line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise http.client.HTTPException(f"bad chunk size {size_text!r}") from None
            if size == 0:
                while self._line() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            chunk = self._reader.read(size)
            if len(chunk) < size:
                raise http.client.IncompleteRead(b"".join(parts) + chunk, size - len(chunk))
            parts.append(chunk)
            self._line()  # the CRLF after the chunk

    def close(self) -> None:
        sock, reader, self._sock, self._reader = self._sock, self._reader, None, None
        if reader is not None:
            reader.close()
        if sock is not None:
            sock.close()
