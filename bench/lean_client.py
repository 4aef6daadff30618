"""Lean HTTP/1.1 GET clients for load generators that share the machine they measure.

bench.two_machines runs its load generators on the 2 cores it measures, so their CPU is taken from the web
processes': http.client in a thread per client cost ~0.4 ms of CPU per request (its header parsing through the
email package, the buffered reader, and the GIL handed between the threads at every reply). Here:

- `parse_response(buffer)`: the first complete response in a buffer (Content-Length, chunked, no body for
  1xx/204/304), or None while it is incomplete;
- `LeanConnection`: one keep-alive connection, one GET at a time (tests and one-off requests);
- `run_clients`: many keep-alive clients in one thread, each with one request outstanding, on `selectors`.

Every request is the one http.client sends (`GET`, `Host: 127.0.0.1:port`, `Accept-Encoding: identity`).
"""

from __future__ import annotations

import selectors
import socket
import time
from dataclasses import dataclass, field

_END = b"\r\n\r\n"


class ResponseError(OSError):
    """The server closed the connection mid-response or sent something that is not HTTP/1.x."""


def request_bytes(port: int, path: str) -> bytes:
    return (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1:" + str(port).encode()
            + b"\r\nAccept-Encoding: identity\r\n\r\n")


def parse_response(buffer: bytes) -> tuple[int, int, bool] | None:
    """(status, bytes the response takes, whether the server closes after it) of the first complete response in
    `buffer`, or None while more is to come. A response framed only by the close is refused (ResponseError)."""
    end = buffer.find(_END)
    if end < 0:
        return None
    status_line, *lines = buffer[:end].split(b"\r\n")
    if not status_line.startswith(b"HTTP/1."):
        raise ResponseError(f"not an HTTP/1.x response: {status_line[:80]!r}")
    status = int(status_line[9:12])
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    close = headers.get(b"connection") == b"close"
    start = end + len(_END)
    if status in (204, 304) or status < 200:  # no body, whatever the headers say
        return status, start, close
    if b"content-length" in headers:
        used = start + int(headers[b"content-length"])
        return (status, used, close) if len(buffer) >= used else None
    if headers.get(b"transfer-encoding") == b"chunked":
        position = start
        while True:
            line_end = buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(buffer[position:line_end].split(b";")[0], 16)
            position = line_end + 2 + size + 2  # the chunk and its CRLF; after the last (0) chunk, the empty line
            if position > len(buffer):
                return None
            if size == 0:
                return status, position, close
    raise ResponseError("a response without Content-Length or chunked framing")


class LeanConnection:
    """One keep-alive connection to 127.0.0.1:`port`, opened on first use and again after a close."""

    def __init__(self, port: int, timeout_s: float = 30.0):
        self.port, self.timeout_s = port, timeout_s
        self._sock: socket.socket | None = None
        self._buffer = b""

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock, self._buffer = None, b""

    def get(self, path: str) -> tuple[int, bytes]:
        """(status, body) of `GET path`."""
        if self._sock is None:
            self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout_s)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.sendall(request_bytes(self.port, path))
        while (parsed := parse_response(self._buffer)) is None:
            chunk = self._sock.recv(262_144)
            if not chunk:
                raise ResponseError("the server closed the connection mid-response")
            self._buffer += chunk
        status, used, close = parsed
        response, self._buffer = self._buffer[:used], self._buffer[used:]
        if close:
            self.close()
        head, _, body = response.partition(_END)
        return status, _dechunk(body) if b"transfer-encoding: chunked" in head.lower() else body


def _dechunk(body: bytes) -> bytes:
    """The data of a complete chunked body."""
    parts, position = [], 0
    while size := int(body[position:body.index(b"\r\n", position)].split(b";")[0], 16):
        start = body.index(b"\r\n", position) + 2
        parts.append(body[start:start + size])
        position = start + size + 2
    return b"".join(parts)


@dataclass
class _Client:
    port: int
    step: int
    sock: socket.socket | None = None
    buffer: bytes = b""
    sent_at: float = 0.0
    latencies: list[float] = field(default_factory=list)


def run_clients(ports: list[int], paths: list[str], clients: range, start_at: float, duration_s: float,
                timeout_s: float = 30.0) -> tuple[list[float], int]:
    """Clients `clients` (client i on ports[i % len(ports)], starting at paths[i % len(paths)] and going round
    them), each one keep-alive connection with one request outstanding, from `start_at` for `duration_s`, in this
    thread. Answers (seconds of every request, errors: status >= 400, a broken connection or no answer in
    `timeout_s`). A broken connection is opened again."""
    selector = selectors.DefaultSelector()
    everyone = [_Client(ports[i % len(ports)], i % len(paths)) for i in clients]
    errors = 0
    end = start_at + duration_s

    def send(client: _Client) -> None:
        if client.sock is None:
            client.sock = socket.create_connection(("127.0.0.1", client.port), timeout=timeout_s)
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            selector.register(client.sock, selectors.EVENT_READ, client)
        client.buffer = b""
        client.sent_at = time.perf_counter()
        client.sock.sendall(request_bytes(client.port, paths[client.step % len(paths)]))

    def drop(client: _Client) -> None:
        if client.sock is not None:
            selector.unregister(client.sock)
            client.sock.close()
        client.sock = None

    def fail(client: _Client) -> None:
        nonlocal errors
        errors += 1
        client.latencies.append(time.perf_counter() - client.sent_at)
        client.step += 1
        drop(client)

    def next_request(client: _Client) -> None:
        try:
            send(client)
        except OSError:
            fail(client)

    time.sleep(max(0.0, start_at - time.time()))
    for client in everyone:
        next_request(client)
    while time.time() < end:
        for key, _events in selector.select(timeout=0.5):
            client = key.data
            try:
                chunk = client.sock.recv(262_144)
                if not chunk:
                    raise ResponseError("closed mid-response")
                client.buffer += chunk
                parsed = parse_response(client.buffer)
            except OSError:
                fail(client)
                parsed = None
            if parsed is not None:
                status, _used, close = parsed
                client.latencies.append(time.perf_counter() - client.sent_at)
                client.step += 1
                if status >= 400:
                    errors += 1
                if close:
                    drop(client)
            if (parsed is not None or client.sock is None) and time.time() < end:
                next_request(client)
        now = time.perf_counter()
        for client in everyone:  # no answer in time: counted as an error, the connection opened again
            if client.sock is not None and now - client.sent_at > timeout_s:
                fail(client)
                next_request(client)
    for client in everyone:
        drop(client)
    selector.close()
    return [x for client in everyone for x in client.latencies], errors
