"""gunicorn.conf.py as the Procfile runs it: idle and slow sockets cannot starve the workers, recycles are spaced.

Each test starts `gunicorn app:server -c gunicorn.conf.py` on a free 127.0.0.1 port with the demo provider and a
temporary DATA_DIR (warm-ups off), and checks over plain sockets. The stock gthread worker answered /healthz after
24 s with 50 idle connections open, never while 50 clients trickled request heads, and recycled both workers
within the same second.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.browser.support import free_port
from tests.processes import stop_process_group

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BOOT_TIMEOUT_S = 60


class Gunicorn:
    def __init__(self, tmp_path: Path, **env: str):
        self.port = free_port()
        self.log_path = tmp_path / "gunicorn.log"
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("CACHE_DIR", "DATABASE_URL", "WEB_CONCURRENCY", "REDIS_URL", "DYNO", "APP_ENV",
                                    "AUTH_REQUIRED")}
        environment.update(HOST="127.0.0.1", PORT=str(self.port), DATA_DIR=str(tmp_path / "data"),
                           PRICE_PROVIDER="demo", WARMUP_ENABLED="0", PYTHONUNBUFFERED="1",
                           PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"), **env)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "app:server", "-c", "gunicorn.conf.py"],
                cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def healthz(self, timeout_s: float = 30) -> tuple[int, float]:
        """(status, seconds) of GET /healthz on a new connection."""
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout_s)
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            return response.status, time.perf_counter() - started
        finally:
            conn.close()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.skip(f"gunicorn could not start:\n{self.log()[-2000:]}")
            try:
                if self.healthz(timeout_s=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.skip(f"gunicorn did not answer /healthz within {BOOT_TIMEOUT_S} s:\n{self.log()[-2000:]}")

    def stop(self) -> None:
        stop_process_group(self.process, term_wait_s=15)


@pytest.fixture
def start(tmp_path):
    started = []

    def _start(**env: str) -> Gunicorn:
        server = Gunicorn(tmp_path, **env)
        started.append(server)
        server.wait_ready()
        return server

    yield _start
    for server in started:
        server.stop()


def open_sockets(port: int, count: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]


def test_idle_connections_do_not_hold_healthz_and_are_still_served(start):
    server = start()
    assert re.search(r"Worker warmed in [0-9.]+ s: /healthz 200 / 200 /_dash-layout 200 /_dash-dependencies 200",
                     server.log()), server.log()[-2000:]
    for count in (50, 100):
        idle = open_sockets(server.port, count)
        try:
            time.sleep(0.5)  # the workers have accepted them
            status, seconds = server.healthz()
            assert status == 200
            assert seconds < 5, f"/healthz took {seconds:.1f} s with {count} idle connections"
            # An idle connection that speaks later is served like any other.
            idle[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            idle[0].settimeout(10)
            assert idle[0].recv(64).startswith(b"HTTP/1.1 200")
        finally:
            for s in idle:
                s.close()


def test_slow_request_heads_neither_starve_the_workers_nor_stay_forever(start):
    server = start(GUNICORN_HEADER_TIMEOUT="4")
    slow = open_sockets(server.port, 50)
    stop = threading.Event()
    closed = []

    def trickle():
        for byte in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
            for s in slow:
                try:
                    s.send(bytes([byte]))
                except OSError:
                    if s not in closed:
                        closed.append(s)
            if stop.wait(0.5):
                return

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    try:
        time.sleep(1.5)  # every slow client has sent a few bytes
        status, seconds = server.healthz()
        assert status == 200
        assert seconds < 5, f"/healthz took {seconds:.1f} s with 50 slow clients"
        # Past the header timeout the server closes them (a read sees the end, or the trickle a reset).
        for s in slow[:5]:
            s.settimeout(10)
            with contextlib.suppress(ConnectionResetError):
                assert s.recv(64) == b""
    finally:
        stop.set()
        feeder.join()
        for s in slow:
            s.close()


def test_workers_recycle_one_at_a_time(start):
    spacing_s = 3
    server = start(GUNICORN_MAX_REQUESTS="40", GUNICORN_RECYCLE_SPACING_S=str(spacing_s), WEB_CONCURRENCY="2",
                   GUNICORN_WARM_WORKER="0")
    deadline = time.monotonic() + 14
    errors = []

    def client():
        while time.monotonic() < deadline:
            try:
                server.healthz(timeout_s=10)
            except OSError as error:
                errors.append(error)

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log = server.log()
    stamps = [time.mktime(time.strptime(m, "%Y-%m-%d %H:%M:%S"))
              for m in re.findall(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) [^]]*\] \[\d+\] \[INFO\] Autorestarting",
                                  log, re.M)]
    # Both workers reach 40-60 requests within a second or two; without spacing they recycle together.
    assert len(stamps) >= 2, log[-3000:]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= spacing_s - 1, (gaps, log[-3000:])  # the log's stamps are to the second
    assert "Recycle postponed" in log
    assert not errors, errors[:3]
