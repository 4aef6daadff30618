"""`LeanConnection`: a keep-alive HTTP/1.1 GET client on a raw socket, for load generators sharing the machine.

bench.two_machines runs its load generators on the 2 cores it measures, so their CPU is taken from the web
processes': http.client cost ~0.4 ms of CPU per request (its header parsing through the email package, the
buffered reader), a tenth of what a request costs the web. This sends the same request http.client sends
(`GET`, `Host: 127.0.0.1:port`, `Accept-Encoding: identity`), reads the whole response (Content-Length, chunked,
or up to the close) and answers its status; the connection is kept unless the server closes it.
"""

from __future__ import annotations

import socket

_END = b"\r\n\r\n"


class ResponseError(OSError):
    """The server closed the connection mid-response or sent something that is not HTTP/1.x."""


class LeanConnection:
    """One keep-alive connection to 127.0.0.1:`port`, opened on first use and again after a close."""

    def __init__(self, port: int, timeout_s: float = 30.0):
        self.port, self.timeout_s = port, timeout_s
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._host = f"127.0.0.1:{port}".encode()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock, self._buffer = None, b""

    def _recv(self) -> bytes:
        assert self._sock is not None
        chunk = self._sock.recv(262_144)
        if not chunk:
            raise ResponseError("the server closed the connection mid-response")
        return chunk

    def _until(self, marker: bytes) -> bytes:
        """Everything up to `marker` (dropped from the buffer with it)."""
        while marker not in self._buffer:
            self._buffer += self._recv()
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    def _exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._buffer += self._recv()
        body, self._buffer = self._buffer[:size], self._buffer[size:]
        return body

    def get(self, path: str) -> tuple[int, bytes]:
        """(status, body) of `GET path`."""
        if self._sock is None:
            self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout_s)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + self._host
                           + b"\r\nAccept-Encoding: identity\r\n\r\n")
        head = self._until(_END)
        status_line, *lines = head.split(b"\r\n")
        if not status_line.startswith(b"HTTP/1."):
            raise ResponseError(f"not an HTTP/1.x response: {status_line[:80]!r}")
        status = int(status_line[9:12])
        headers = {}
        for line in lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        if status in (204, 304) or status < 200:  # no body, whatever the headers say
            body = b""
        elif b"content-length" in headers:
            body = self._exactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding") == b"chunked":
            parts = []
            while size := int(self._until(b"\r\n").split(b";")[0], 16):
                parts.append(self._exactly(size))
                self._exactly(2)  # the CRLF after each chunk
            self._until(b"\r\n")  # no trailers are sent: the empty line
            body = b"".join(parts)
        else:  # up to the close
            body = self._buffer
            try:
                while True:
                    body += self._recv()
            except ResponseError:
                pass
            self.close()
            return status, body
        if headers.get(b"connection") == b"close":
            self.close()
        return status, body
