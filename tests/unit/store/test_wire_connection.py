"""The store wire's HTTP/1.1 connection (store/wire_connection.py) against scripted servers on
loopback: what it sends, and every way HTTP/1.1 lets an answer end."""

import http.client
import socket
import threading

import pytest

from rostersync.store.wire_connection import WireConnection


class ScriptedServer:
    """Accepts connections on loopback; for each request read, sends the next scripted answer
    (bytes) and closes the connection after it when the answer is followed by None."""

    def __init__(self, answers: list):
        self.answers, self.requests, self.connections = list(answers), [], 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while self.answers:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn, conn.makefile("rb") as reader:
                while self.answers:
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        line = reader.readline()
                        if not line:
                            break
                        head += line
                    if not head:
                        break
                    length = next(
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    )
                    self.requests.append((head, reader.read(length)))
                    conn.sendall(self.answers.pop(0))
                    if self.answers and self.answers[0] is None:
                        self.answers.pop(0)
                        break

    def close(self):
        self.sock.close()


def answer(body: bytes, *headers: str, status: str = "200 OK", version: str = "HTTP/1.1") -> bytes:
    lines = [f"{version} {status}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.fixture
def serve():
    servers = []

    def start(*answers):
        servers.append(ScriptedServer(list(answers)))
        return servers[-1], WireConnection("127.0.0.1", servers[-1].port, timeout=5)

    yield start
    for server in servers:
        server.close()


def test_a_post_sends_its_headers_and_body_and_reads_a_sized_answer_on_a_kept_connection(serve):
    ok = answer(b'{"a":1}', "Content-Length: 7", "X-Amz-Crc32: 42")
    server, connection = serve(ok, ok)
    for _ in range(2):
        status, headers, body = connection.post("/", {"host": "h", "x-amz-target": "T"}, b'{"x":"\xc3\xa9"}')
        assert (status, body, headers["x-amz-crc32"]) == (200, b'{"a":1}', "42")
    head, sent = server.requests[0]
    assert head.startswith(b"POST / HTTP/1.1\r\n") and b"host: h\r\n" in head and b"x-amz-target: T\r\n" in head
    assert b"content-length: 10\r\n" in head and sent == b'{"x":"\xc3\xa9"}'
    assert server.connections == 1
    connection.close()


def test_answers_that_end_the_connection_close_it_and_the_next_post_opens_another(serve):
    server, connection = serve(
        answer(b"{}", "Content-Length: 2", "Connection: close"),
        None,
        answer(b"{}", "Content-Length: 2", version="HTTP/1.0"),
        None,
        answer(b'{"until":"eof"}'),
        None,
        answer(b"{}", "Content-Length: 2"),
    )
    for expected in (b"{}", b"{}", b'{"until":"eof"}', b"{}"):
        assert connection.post("/", {}, b"{}")[2] == expected
    assert server.connections == 4
    connection.close()


def test_chunked_and_interim_answers(serve):
    chunked = answer(b'4;ext=1\r\n{"a"\r\n3\r\n:1}\r\n0\r\nTrailer: x\r\n\r\n', "Transfer-Encoding: chunked")
    server, connection = serve(answer(b"", status="100 Continue") + chunked, answer(b"{}", "Content-Length: 2"))
    assert connection.post("/", {}, b"{}") == (200, {"transfer-encoding": "chunked"}, b'{"a":1}')
    assert connection.post("/", {}, b"{}")[2] == b"{}"  # the connection was left at the next answer
    assert server.connections == 1
    connection.close()


@pytest.mark.parametrize(
    "broken, error",
    [
        (None, http.client.RemoteDisconnected),  # closed without an answer (a kept-alive connection dropped)
        (answer(b"{", "Content-Length: 9"), http.client.IncompleteRead),
        (b"garbage\r\n\r\n", http.client.BadStatusLine),
        (answer(b"{}", "Content-Length: x"), http.client.HTTPException),
    ],
)
def test_broken_answers_raise_what_http_client_would(serve, broken, error):
    server, connection = serve(*([b""] if broken is None else [broken]), None)
    with pytest.raises(error):
        connection.post("/", {}, b"{}")
    connection.close()
