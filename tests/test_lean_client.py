"""bench/lean_client.py: responses parsed from a buffer (by length, chunked, no body for a 204), and against a real
HTTP/1.1 server on 127.0.0.1 one connection kept across requests, a new one after the server closes it, and many
clients driven from one thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from bench.lean_client import LeanConnection, ResponseError, parse_response, run_clients


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: ClassVar[set[int]] = set()  # the client ports seen: one per connection

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        Handler.connections.add(self.client_address[1])
        if self.path == "/length":
            self._send(200, {"Content-Length": "5"}, b"hello")
        elif self.path == "/chunked":
            self._send(200, {"Transfer-Encoding": "chunked"}, b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        elif self.path == "/empty":
            self._send(204, {}, b"")
        elif self.path == "/close":
            self.close_connection = True
            self._send(404, {"Connection": "close", "Content-Length": "4"}, b"gone")
        else:
            self._send(200, {"Content-Length": str(len(self.headers["Host"]))}, self.headers["Host"].encode())

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Handler.connections.clear()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_responses_of_every_framing_on_one_kept_connection(port):
    conn = LeanConnection(port, timeout_s=5)
    try:
        assert conn.get("/length") == (200, b"hello")
        assert conn.get("/chunked") == (200, b"abcde")  # 3 + 2 bytes in two chunks
        assert conn.get("/empty") == (204, b"")
        assert conn.get("/host") == (200, f"127.0.0.1:{port}".encode())  # the Host http.client sends
        assert len(Handler.connections) == 1
    finally:
        conn.close()


def test_a_connection_the_server_closes_is_opened_again(port):
    conn = LeanConnection(port, timeout_s=5)
    try:
        assert conn.get("/close") == (404, b"gone")
        assert conn.get("/length") == (200, b"hello")
        assert len(Handler.connections) == 2
    finally:
        conn.close()


def test_parse_response_waits_for_the_whole_response():
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    assert parse_response(head + b"hel") is None
    assert parse_response(head + b"hello" + b"HTTP/1.1") == (200, len(head) + 5, False)  # 37 + 5 bytes
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    assert parse_response(chunked[:-2]) is None and parse_response(chunked) == (200, len(chunked), False)
    closing = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
    assert parse_response(closing) == (204, len(closing), True)
    with pytest.raises(ResponseError, match="not an HTTP"):
        parse_response(b"SSH-2.0\r\n\r\n")


def test_many_clients_from_one_thread(port):
    # 3 clients going round /length, /chunked, /close for 0.5 s: /close answers 404 (an error each time) and
    # closes, and the client opens a new connection for its next request.
    latencies, errors = run_clients([port], ["/length", "/chunked", "/close"], range(3), time.time(), 0.5,
                                    timeout_s=5)
    assert len(latencies) >= 30  # a local server answers in well under the 50 ms that would allow fewer
    # Each client cycles through the three paths, so a third of the requests (give or take the cut at the end) are
    # /close's 404s.
    assert abs(errors - len(latencies) / 3) <= 3
    assert len(Handler.connections) >= errors  # a new connection after every close
