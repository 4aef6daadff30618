"""bench/lean_client.py against a real HTTP/1.1 server on 127.0.0.1: bodies by length, chunked and up to the
close, no body for a 204, one connection kept across requests, and a new one after the server closes it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from bench.lean_client import LeanConnection


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
            self._send(404, {"Connection": "close"}, b"gone")
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
