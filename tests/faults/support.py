"""What the fault suite shares: a real app server in a subprocess, a timed HTTP client, /metrics parsing, and the
one-line measured result every case reports.

The server is `python app.py --demo` on a free port of 127.0.0.1 with its own DATA_DIR and the demo provider's
fault knobs (DEMO_LATENCY_MS, DEMO_FAILURE_RATE, DEMO_FAILURE_KIND, DEMO_FAILURE_FOR_S, DEMO_FAIL_SYMBOLS).
Nothing here touches the network beyond 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from dashapp import create_app
from services.config import Settings
from services.container import Services, build_services
from tests.browser.support import free_port

ROOT = Path(__file__).resolve().parents[2]

# Every variable the app reads (services/config.py) plus the ones that change how it runs: none may leak in from the
# environment CI runs in, or a case would not test what it says.
_APP_VARIABLES = re.compile(
    r"^(PORT|HOST|DATA_DIR|DATABASE_URL|CACHE_DIR|PRICE_PROVIDER|DEMO_.*|PRICE_WAIT_S|WARMUP_.*|SECRET_KEY|"
    r"REDIS_URL|APP_ENV|DYNO|ALLOW_SQLITE_IN_PRODUCTION|QUOTE_TTL_S|CLOSE_SETTLE_S|FETCH_.*|"
    r"RATE_LIMIT_COOLDOWN_S|FAILURE_RETRY_S|MAX_UPLOAD_BYTES|SEED_SAMPLE|PROMETHEUS_MULTIPROC_DIR|LOG_LEVEL)$"
)

# -- measured results -------------------------------------------------------------------------------------------
MEASUREMENTS: list[str] = []
_MEASUREMENTS_LOCK = threading.Lock()


def report(case: str, result: str) -> str:
    """Record a case's one-line measured result: printed now (pytest -s) and in the run's summary."""
    line = f"{case}: {result}"
    with _MEASUREMENTS_LOCK:
        MEASUREMENTS.append(line)
    print(line)
    return line


# -- the app in a subprocess ------------------------------------------------------------------------------------
class AppServer:
    """`python app.py --demo` with its own DATA_DIR and environment; started at once, waited on by `ready()`."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, *, log_dir: Path | None = None,
                 name: str = "app"):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.env = {"SEED_SAMPLE": "0", "WARMUP_ENABLED": "0", **(env or {})}
        self.name = name
        self.log_dir = Path(log_dir or self.data_dir.parent)
        self.ready_after_s: float | None = None
        self._spawn()

    def _spawn(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = self.log_dir / f"{self.name}-{self.port}.log"
        inherited = {k: v for k, v in os.environ.items() if not _APP_VARIABLES.match(k)}
        full_env = {**inherited, "DATA_DIR": str(self.data_dir), "LOG_LEVEL": "WARNING", **self.env}
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "app.py", "--demo", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=full_env, stdout=self._log, stderr=subprocess.STDOUT)

    def ready(self, timeout_s: float = 90) -> AppServer:
        """Block until /healthz answers (RuntimeError with the log's tail if the app dies or is slow)."""
        if self.ready_after_s is not None:
            return self
        deadline = time.monotonic() + timeout_s
        respawns = 2
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_tail(200)
                # free_port() cannot reserve the port: another program (a parallel test run) may take it first.
                if respawns and "in use" in log:
                    respawns -= 1
                    self._log.close()
                    self._spawn()
                    continue
                raise RuntimeError(f"{self.name} (port {self.port}) exited with {self.process.returncode} before "
                                   f"answering:\n{log}")
            try:
                if requests.get(self.base + "/healthz", timeout=2).status_code in (200, 503):
                    self.ready_after_s = time.monotonic() - self.started
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer /healthz within {timeout_s} s:\n{self.log_tail()}")

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url(path), timeout=kwargs.pop("timeout", 30), **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return requests.post(self.url(path), timeout=kwargs.pop("timeout", 60), **kwargs)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), then for good."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()

    def kill(self) -> None:
        """SIGKILL: no handler, no flush, no clean-up runs (a crash, an OOM kill, a pulled plug)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def errors_logged(self) -> list[str]:
        """Tracebacks and ERROR lines in the server log (an unhandled exception anywhere)."""
        self._log.flush()
        text = self.log_path.read_text(errors="replace")
        return [line for line in text.splitlines() if " ERROR " in line or line.startswith("Traceback")]

    def metrics(self) -> dict[str, float]:
        return parse_metrics(self.get("/metrics").text)


# -- metrics ----------------------------------------------------------------------------------------------------
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)$")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text as {'name{label="v",...}': value}, plus each metric's sum over labels under its bare name."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if not match or line.startswith("#"):
            continue
        name, labels, value = match["name"], match["labels"], float(match["value"])
        if labels:
            samples[f"{name}{{{labels}}}"] = value
        samples[name] = samples.get(name, 0.0) + value if labels else value
    return samples


def metric(samples: dict[str, float], name: str, **labels: str) -> float:
    """One metric summed over every sample whose labels include `labels`."""
    total = 0.0
    for key, value in samples.items():
        if not key.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in key for k, v in labels.items()):
            total += value
    return total


# -- timed requests ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int  # 0: no answer (connection error or client timeout)
    seconds: float
    content_type: str
    body: bytes

    def json(self):
        import json

        return json.loads(self.body)

    @property
    def is_json(self) -> bool:
        return self.content_type.split(";")[0].strip() == "application/json"


@dataclass
class Tally:
    """Answers of a run of requests, and what they add up to."""

    answers: list[Answer] = field(default_factory=list)

    def extend(self, answers: Iterable[Answer]) -> None:
        self.answers.extend(answers)

    @property
    def slowest(self) -> Answer:
        return max(self.answers, key=lambda a: a.seconds)

    def server_errors(self) -> list[Answer]:
        return [a for a in self.answers if a.status >= 500 or a.status == 0]

    def slower_than(self, seconds: float) -> list[Answer]:
        return [a for a in self.answers if a.seconds > seconds]

    def summary(self) -> str:
        return (f"slowest answer {self.slowest.seconds:.2f} s ({self.slowest.path}), "
                f"{len(self.server_errors())} of {len(self.answers)} answers 5xx")


def timed(base: str, method: str, path: str, *, timeout_s: float = 30, **kwargs) -> Answer:
    started = time.perf_counter()
    try:
        response = requests.request(method, base + path, timeout=timeout_s, **kwargs)
    except requests.RequestException as error:
        return Answer(method, path, 0, time.perf_counter() - started, "", str(error).encode())
    return Answer(method, path, response.status_code, time.perf_counter() - started,
                  response.headers.get("Content-Type", ""), response.content)


def hammer(base: str, paths: Sequence[str], *, rounds: int, threads: int = 4, timeout_s: float = 30) -> list[Answer]:
    """GET every path `rounds` times from `threads` threads at once; every answer, timed."""
    work = [path for _ in range(rounds) for path in paths]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda path: timed(base, "GET", path, timeout_s=timeout_s), work))


def json_error_problems(answers: Iterable[Answer]) -> list[str]:
    """Answers under /api, /healthz or /metrics that are errors but not JSON `{"error": ...}`."""
    problems = []
    for answer in answers:
        if answer.status < 400 or not answer.path.startswith(("/api/", "/healthz")):
            continue
        try:
            body = answer.json() if answer.is_json else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("error"), str):
            problems.append(f"{answer.method} {answer.path} -> {answer.status} {answer.content_type} "
                            f"{answer.body[:120]!r}")
    return problems


def hammer_for(base: str, paths: Sequence[str], *, seconds: float, threads: int = 4,
               timeout_s: float = 30) -> list[Answer]:
    """GET the paths round-robin from `threads` threads until `seconds` have passed (every path at least once)."""
    deadline = time.monotonic() + seconds
    answers: list[Answer] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        index = offset
        done_once = False
        while not done_once or time.monotonic() < deadline:
            path = paths[index % len(paths)]
            answer = timed(base, "GET", path, timeout_s=timeout_s)
            with lock:
                answers.append(answer)
            index += 1
            done_once = done_once or index - offset >= len(paths)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return answers


MAX_UPLOAD_BYTES = 64 * 1024  # the in-process apps' upload limit (small, so oversize bodies are cheap to send)


def make_api(tmp_path, **overrides: object) -> tuple[object, Services]:
    """The real app (demo prices, no warm-up) on a temporary SQLite file and cache, and its test client."""
    settings = Settings().with_overrides(**{
        "data_dir": tmp_path, "cache_dir": tmp_path / "cache", "database_url": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "price_provider": "demo", "demo_mode": False, "warmup_enabled": False, "price_wait_s": 0.5,
        "max_upload_bytes": MAX_UPLOAD_BYTES, **overrides})
    services = build_services(settings)
    app = create_app(settings, services)
    return app.server.test_client(), services
