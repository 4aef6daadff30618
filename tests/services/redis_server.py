"""A throwaway Redis server for the tests: Debian's `redis-server` on 127.0.0.1, a free port, no persistence.

`.ci/run` installs the package where it is missing; elsewhere the tests that need it skip, saying why. The store
suites (`store_implementations.py`) share one server per test process, each test under a namespace of its own;
a test that stops or pauses its server starts one of its own (`RedisServer()`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
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


class RedisServer:
    """redis-server in a session of its own, in a temporary folder; `url`; `stop()`, `pause()`/`resume()`."""

    def __init__(self, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, redis_missing()
        self.root = Path(tempfile.mkdtemp(prefix="stocktracker-redis-"))
        self.port = port or free_port()
        # No RDB snapshots, no AOF: a test server keeps nothing; protected mode off is harmless on 127.0.0.1.
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root),
                   "--save", "", "--appendonly", "no", "--protected-mode", "no", "--logfile",
                   str(self.root / "server.log")]
        self.process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self._wait_until_listening()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _wait_until_listening(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log_file = self.root / "server.log"
                log = log_file.read_text(errors="replace") if log_file.exists() else ""
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {log[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
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
