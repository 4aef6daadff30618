"""A throwaway Redis server for the tests: Debian's `redis-server` on 127.0.0.1, a free port, no persistence.

`.ci/run` installs the package where it is missing; elsewhere the tests that need it skip, saying why. The store
suites (`store_implementations.py`) share one server per test process, each test under a namespace of its own;
a test that stops or pauses its server starts one of its own (`RedisServer()`).

`RedisServer(tls=True)` speaks only TLS (`--port 0 --tls-port N`, no client certificates), with a self-signed
certificate made by `openssl req -x509` for `localhost` and 127.0.0.1, as Heroku Redis's is self-signed: its
`url` is `rediss://`, and `ca_file` the certificate itself (to trust it as one's own CA). Debian's redis-server
is built with TLS; `tls_missing()` says why not when one is not (or openssl is missing).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from tests.browser.support import free_port
from tests.processes import stop_process_group


def redis_missing() -> str | None:
    """Why no test server can be started here, or None."""
    return None if shutil.which("redis-server") else "no redis-server binary (apt-get install -y redis-server)"


def make_self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) of a self-signed certificate for localhost and 127.0.0.1, valid one day."""
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


_tls_missing: list[str | None] = []


def tls_missing() -> str | None:
    """Why no TLS test server can be started here, or None (found by starting one, once per process)."""
    if not _tls_missing:
        reason = redis_missing() or (None if shutil.which("openssl") else "no openssl binary for the certificate")
        if reason is None:
            try:
                RedisServer(tls=True).stop()
            except (RuntimeError, subprocess.SubprocessError) as error:
                reason = f"redis-server could not serve TLS here (built without it?): {error}"
        _tls_missing.append(reason)
    return _tls_missing[0]


class RedisServer:
    """redis-server in a session of its own, in a temporary folder; `url`; `stop()`, `pause()`/`resume()`."""

    def __init__(self, port: int | None = None, *, tls: bool = False) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, redis_missing()
        self.root = Path(tempfile.mkdtemp(prefix="stocktracker-redis-"))
        self.port = port or free_port()
        self.tls = tls
        self.ca_file: Path | None = None
        # No RDB snapshots, no AOF: a test server keeps nothing; protected mode off is harmless on 127.0.0.1.
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root),
                   "--save", "", "--appendonly", "no", "--protected-mode", "no", "--logfile",
                   str(self.root / "server.log")]
        if tls:
            try:
                cert, key = make_self_signed_certificate(self.root)
            except (OSError, subprocess.SubprocessError):
                shutil.rmtree(self.root, ignore_errors=True)
                raise
            self.ca_file = cert  # self-signed: the certificate is its own CA
            command[1:3] = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(cert),
                            "--tls-key-file", str(key), "--tls-auth-clients", "no"]
        self.process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self._wait_until_listening()

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    def _ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as raw:
            probe = raw
            if self.tls:  # this probe only asks whether it answers: no certificate check
                context = ssl.create_default_context()
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                probe = context.wrap_socket(raw, server_hostname="localhost")
            probe.sendall(b"PING\r\n")
            return probe.recv(16).startswith(b"+PONG")

    def _wait_until_listening(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log_file = self.root / "server.log"
                log = log_file.read_text(errors="replace") if log_file.exists() else ""
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {log[-2000:]}")
            try:
                if self._ping():
                    return
            except OSError:  # ssl.SSLError too
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout_s} s")

    def pause(self) -> None:
        """SIGSTOP: the server keeps its socket open but answers nothing (a hung Redis)."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        try:
            if self.process.poll() is None:
                self.resume()  # a paused server would not act on SIGTERM until the SIGKILL
            stop_process_group(self.process, term_wait_s=5)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


_shared: RedisServer | None = None
_shared_lock = threading.Lock()


def shared_redis_url() -> str:
    """The URL of this test process's shared server, started on first use and stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.process.poll() is not None:
            _shared = RedisServer()
            atexit.register(_shared.stop)
        return _shared.url
