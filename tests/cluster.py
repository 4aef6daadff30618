"""A deployment of several machines on 127.0.0.1, for tests/test_two_machines.py and bench/two_machines.py.

One real redis-server and one real Postgres (`tests/services/redis_server.py`, `postgres_server.py`), web processes
(`gunicorn app:server -c gunicorn.conf.py --workers 1`, the Procfile's `web`), each with its own DATA_DIR and
metrics folder (a machine of its own), and Celery workers (the Procfile's `worker` line), all with the demo
provider, logins off (loopback) and the same REDIS_URL, key prefix and DATABASE_URL. Everything runs in a session
of its own and is stopped by `close()`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.browser.support import free_port
from tests.processes import stop_process_group
from tests.services.postgres_server import PostgresServer, postgres_missing
from tests.services.redis_server import RedisServer, redis_missing

ROOT = Path(__file__).resolve().parents[1]
BOOT_S = 60.0
# The app's own variables must not leak in from the shell that runs this (tests/test_deployment.py does the same).
_DROPPED = ("CACHE_DIR", "DATABASE_URL", "WEB_CONCURRENCY", "REDIS_URL", "DYNO", "APP_ENV", "AUTH_REQUIRED",
            "DATA_DIR", "PORT", "PROMETHEUS_MULTIPROC_DIR", "REDIS_KEY_PREFIX")
WORKER_COMMAND = ("-m", "celery", "-A", "services.celery_app", "worker", "--beat", "--scheduler",
                  "services.celery_app.LeaderBeat", "--pool", "threads", "--concurrency", "2", "--without-gossip",
                  "--without-mingle", "--loglevel", "INFO")


def servers_missing() -> str | None:
    """Why this deployment cannot be started here (no redis-server or Postgres binaries), or None."""
    return redis_missing() or postgres_missing()


class _Process:
    """A child in a session of its own, its output in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path):
        self.log_path = log_path
        with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def pids(self) -> list[int]:
        """This process and its descendants (gunicorn's master and worker; celery's beat), from /proc."""
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()  # after "pid (comm)": state, ppid, ...
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def kill(self) -> None:
        """SIGKILL the whole group: a machine that dies without cleaning up."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        self.process.wait(10)

    def stop(self) -> None:
        stop_process_group(self.process, term_wait_s=10)


class Web(_Process):
    """One machine's web process: gunicorn with one worker on a free port."""

    def __init__(self, env: dict[str, str], root: Path, name: str, threads: int):
        self.name, self.port = name, free_port()
        machine = root / name
        env = {**env, "PORT": str(self.port), "DATA_DIR": str(machine / "data"),
               "PROMETHEUS_MULTIPROC_DIR": str(machine / "prometheus"), "GUNICORN_THREADS": str(threads)}
        machine.mkdir(parents=True)
        super().__init__([sys.executable, "-m", "gunicorn", "app:server", "-c", "gunicorn.conf.py", "--workers",
                          "1", "--bind", f"127.0.0.1:{self.port}"], env, machine / "gunicorn.log")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: dict | None = None, timeout_s: float = 10.0,
                ) -> tuple[int, bytes, float]:
        """(status, body, seconds) of one request."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"} if data else {})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return response.status, response.read(), time.perf_counter() - started
        except urllib.error.HTTPError as error:
            return error.code, error.read(), time.perf_counter() - started

    def json(self, path: str, method: str = "GET", body: dict | None = None, expect: int = 200) -> dict:
        status, answer, _ = self.request(method, path, body)
        assert status == expect, (self.name, method, path, status, answer[:500])
        return json.loads(answer)

    def health(self) -> dict:
        """/healthz's JSON whatever its status (503 says a check fails, and what)."""
        return json.loads(self.request("GET", "/healthz")[1])

    def counter(self, name: str) -> float:
        """A counter of this machine's /metrics, summed over its label sets."""
        status, body, _ = self.request("GET", "/metrics")
        assert status == 200, (self.name, status)
        return sum(sample.value for family in text_string_to_metric_families(body.decode())
                   for sample in family.samples if sample.name == f"{name}_total")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + BOOT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                if self.request("GET", "/healthz", timeout_s=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer /healthz in {BOOT_S} s:\n{self.log_tail()}")


class Worker(_Process):
    """One machine's Celery worker with its beat (the Procfile's `worker` line)."""

    def __init__(self, env: dict[str, str], root: Path, name: str):
        self.name = name
        machine = root / name
        machine.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, *WORKER_COMMAND, "--hostname", f"{name}@%h"]
        super().__init__(command, {**env, "DATA_DIR": str(machine / "data")}, machine / "worker.log")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + BOOT_S
        while " ready." not in self.log_tail(100_000):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")
            time.sleep(0.05)


class Cluster:
    """Redis, Postgres, `webs` web machines and (optionally) one worker machine; `close()` stops them all."""

    def __init__(self, webs: int = 2, *, worker: bool = True, interval_s: float = 1.0, threads: int = 4,
                 env: dict[str, str] | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="stocktracker-cluster-"))
        self.webs: list[Web] = []
        self.workers: list[Worker] = []
        self.redis: RedisServer | None = None
        self.postgres: PostgresServer | None = None
        try:
            self.redis = RedisServer()
            self.postgres = PostgresServer()
            self.postgres.admin("CREATE DATABASE stocktracker")
            self.env = {k: v for k, v in os.environ.items()
                        if k not in _DROPPED and not k.startswith(("PYTEST", "COV_"))}
            self.env.update(REDIS_URL=self.redis.url, REDIS_KEY_PREFIX="cluster:",
                            DATABASE_URL=self.postgres.url("stocktracker"), PRICE_PROVIDER="demo",
                            DEMO_LATENCY_MS="0", HOST="127.0.0.1", WARMUP_ENABLED="1",
                            WARMUP_INTERVAL_S=f"{interval_s:g}", PYTHONUNBUFFERED="1", **(env or {}))
            # Every machine boots at once, as a deployment's dynos do (their start-up races are part of the test).
            self.webs = [Web(self.env, self.root, f"web{i + 1}", threads) for i in range(webs)]
            if worker:
                self.start_worker("worker1", wait=False)
            for process in [*self.webs, *self.workers]:
                process.wait_ready()
        except BaseException:
            self.close()
            raise

    def start_worker(self, name: str, *, wait: bool = True) -> Worker:
        worker = Worker(self.env, self.root, name)
        self.workers.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    def scheduler(self) -> dict:
        return self.webs[0].health()["scheduler"]

    def close(self) -> None:
        for process in [*self.webs, *self.workers]:
            process.stop()
        for server in (self.postgres, self.redis):
            if server is not None:
                server.stop()
        shutil.rmtree(self.root, ignore_errors=True)
