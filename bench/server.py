"""Start the real app as a subprocess on 127.0.0.1 for a benchmark, and read its /metrics."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AppServer:
    """`python app.py --demo` with its own DATA_DIR/CACHE_DIR, sampling its peak RSS while it runs."""

    def __init__(self, data_dir: Path, cache_dir: Path, latency_ms: int, extra_env: dict[str, str] | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATA_DIR": str(data_dir), "CACHE_DIR": str(cache_dir),
               "DEMO_LATENCY_MS": str(latency_ms), "WARMUP_ENABLED": "0", "LOG_LEVEL": "WARNING",
               "PRICE_WAIT_S": "4", "SEED_SAMPLE": "0", **(extra_env or {})}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self._log = open(Path(data_dir) / f"server-{self.port}.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "app.py", "--demo", "--port", str(self.port)], cwd=ROOT, env=env,
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.peak_rss = 0
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample_rss, daemon=True)
        self._sampler.start()
        self._wait_ready()

    def _sample_rss(self) -> None:
        handle = psutil.Process(self.process.pid)
        while self._sampling:
            try:
                self.peak_rss = max(self.peak_rss, handle.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    def _wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app exited with {self.process.returncode}; see {self._log.name}")
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("app did not answer /healthz in time")

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str = "application/json") -> tuple[int, bytes, float]:
        """(status, body, seconds) of one request."""
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers={"Content-Type": content_type})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                payload = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            payload, status = error.read(), error.code
        return status, payload, time.perf_counter() - started

    def get(self, path: str) -> tuple[int, bytes, float]:
        return self.request("GET", path)

    def get_json(self, path: str) -> dict:
        return json.loads(self.get(path)[1])

    def upstream(self) -> tuple[float, float]:
        """(requests, symbols) sent upstream so far, from /metrics."""
        text = self.get("/metrics")[1].decode()

        def total(name: str) -> float:
            return sum(float(v) for v in re.findall(rf"^{name}_total{{[^}}]*}} ([0-9.e+]+)$", text, re.M))

        return total("stocktracker_upstream_requests"), total("stocktracker_upstream_symbols")

    def stop(self) -> None:
        self._sampling = False
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()
