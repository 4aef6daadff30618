"""The deployment as Heroku runs it: real gunicorn, three workers, one warm-up leader among them.

Starts `gunicorn app:server -c gunicorn.conf.py --workers 3` on a free 127.0.0.1 port with the demo provider, a
temporary DATA_DIR, WARMUP_INTERVAL_S=2 and a fresh PROMETHEUS_MULTIPROC_DIR, and checks over HTTP only: warm-ups
run once per interval for the whole deployment (not once per worker), /metrics adds up the workers' counters, a
dashboard load after the first warm-up asks nothing upstream, and SIGKILLing the leader hands the lead to another
worker within about one interval.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.browser.support import free_port
from tests.processes import stop_process_group
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
INTERVAL_S = 2
BOOT_TIMEOUT_S = 30


class Deployment:
    def __init__(self, process: subprocess.Popen, port: int, log_path: Path):
        self.process, self.port, self.log_path = process, port, log_path

    def get(self, path: str, timeout_s: float = 10.0) -> tuple[int, bytes, float]:
        """(status, body, seconds) of one GET; a refused connection (a worker restarting) is retried briefly."""
        deadline = time.monotonic() + 5
        while True:
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout_s) as response:
                    return response.status, response.read(), time.perf_counter() - started
            except urllib.error.HTTPError as error:
                return error.code, error.read(), time.perf_counter() - started
            except (ConnectionError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def json(self, path: str) -> dict:
        status, body, _ = self.get(path)
        assert status == 200, (path, status, body[:500])
        return json.loads(body)

    def scheduler(self) -> dict:
        return self.json("/healthz")["scheduler"]

    def counter(self, name: str) -> float:
        """A counter of /metrics summed over every label set (and, in multiprocess mode, every worker)."""
        status, body, _ = self.get("/metrics")
        assert status == 200
        return sum(sample.value for family in text_string_to_metric_families(body.decode())
                   for sample in family.samples if sample.name == f"{name}_total")

    def worker_pids(self) -> set[int]:
        """The live children of the gunicorn master (Linux /proc)."""
        pids = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()  # after "pid (comm)": state, ppid, ...
            except OSError:  # exited meanwhile
                continue
            if int(fields[1]) == self.process.pid and fields[0] != "Z":
                pids.add(int(stat.parent.name))
        return pids

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def wait_for(predicate, timeout_s: float, what: str, deployment: Deployment, interval_s: float = 0.1):
    """wait_until's answer, or the test fails naming `what` with the gunicorn log's tail."""
    value = wait_until(predicate, timeout_s, interval_s=interval_s)
    if not value:
        pytest.fail(f"timed out after {timeout_s} s waiting for {what}\n--- gunicorn log ---\n"
                    f"{deployment.log_tail()}")
    return value


@pytest.fixture
def deployment(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("CACHE_DIR", "DATABASE_URL", "WEB_CONCURRENCY", "REDIS_URL", "DYNO", "APP_ENV")}
    env.update(PORT=str(port), HOST="127.0.0.1", DATA_DIR=str(tmp_path / "data"), PRICE_PROVIDER="demo",
               WARMUP_INTERVAL_S=str(INTERVAL_S), WARMUP_ENABLED="1",
               PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"), PYTHONUNBUFFERED="1")
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "app:server", "-c", "gunicorn.conf.py", "--workers", "3",
             "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deployment = Deployment(process, port, log_path)
    try:
        yield deployment
    finally:
        # The whole process group: the master and every worker it forked (the group is the master's own).
        stop_process_group(process, term_wait_s=10)


def test_three_workers_one_leader_warm_dashboard_summed_metrics_and_failover(deployment):
    d = deployment

    def healthy():
        try:
            return d.get("/healthz", timeout_s=2)[0] == 200
        except (ConnectionError, urllib.error.URLError, TimeoutError):
            assert d.process.poll() is None, f"gunicorn exited\n{d.log_tail()}"
            return False

    wait_for(healthy, BOOT_TIMEOUT_S, "/healthz", d, interval_s=0.05)
    portfolios = d.json("/api/portfolios")["portfolios"]
    # The dashboard load below comes right after the first warm-up, with no slack for late chart generation.
    first = wait_for(lambda: (s := d.scheduler())["warmup_runs"] >= 1 and s, 3 * INTERVAL_S, "a warm-up", d,
                       interval_s=0.02)

    # -- after the first warm-up a dashboard load asks nothing upstream, and the chart is ready at once ------------
    assert portfolios, "the demo database is seeded with the sample portfolio"
    payloads = ["/api/dashboard-initial-data/{id}", "/api/dashboard-holdings-data/{id}",
                "/api/dashboard-chart-data/{id}?range=1Y", "/api/chart-generator-progress/{id}"]

    def dashboard_load() -> tuple[float, dict[str, tuple[int, float]]]:
        before = d.counter("stocktracker_upstream_requests")
        answers = {}
        for portfolio in portfolios:
            for path in payloads:
                url = path.format(id=portfolio["id"])
                status, _body, seconds = d.get(url)
                answers[url] = (status, seconds)
        return d.counter("stocktracker_upstream_requests") - before, answers

    new_requests, answers = dashboard_load()
    if new_requests:  # a warm-up of the leader may fall in the window (at an open or a close): measure again
        new_requests, answers = dashboard_load()
    assert new_requests == 0, answers
    for url, (status, seconds) in answers.items():
        assert status == 200, url
        # Nothing waits on prices (PRICE_WAIT_S is 3 s); the chart is read from the store, not computed.
        assert seconds < (1.0 if "chart-data" in url else 2.5), (url, seconds)

    workers = wait_for(lambda: len(d.worker_pids()) == 3 and d.worker_pids(), 10, "three workers", d)
    assert first["leader_pid"] in workers

    # -- one warm-up per interval for the whole deployment, not one per worker ----------------------------------
    window_s = 5 * INTERVAL_S
    runs_before, started = d.scheduler()["warmup_runs"], time.monotonic()
    time.sleep(window_s)
    runs_in_window = d.scheduler()["warmup_runs"] - runs_before
    elapsed = time.monotonic() - started
    expected = elapsed / INTERVAL_S  # about 5; three leaders would make about 15
    assert expected - 2 <= runs_in_window <= expected + 1.5, (runs_in_window, elapsed)

    def metrics_match_healthz() -> bool:
        low = d.scheduler()["warmup_runs"]
        counted = d.counter("stocktracker_warmup_runs")
        high = d.scheduler()["warmup_runs"]
        return low == counted == high

    wait_for(metrics_match_healthz, 3 * INTERVAL_S, "/metrics to agree with /healthz", d, interval_s=0.2)

    # -- SIGKILL the leader: another worker leads within about one interval, and warm-ups go on -------------------
    status = d.scheduler()
    leader, runs_at_kill = status["leader_pid"], status["warmup_runs"]
    assert leader in d.worker_pids()
    os.kill(leader, signal.SIGKILL)
    killed_at = time.monotonic()

    def new_leader_warmed_up():
        s = d.scheduler()
        led = s["leader_pid"] not in (None, leader) and s["warmup_runs"] > runs_at_kill
        return led and (s["last_warmup"] or {}).get("pid") == s["leader_pid"] and s

    takeover = wait_for(new_leader_warmed_up, 2 * INTERVAL_S + 1, "another worker to lead", d, interval_s=0.05)
    failover_s = time.monotonic() - killed_at
    assert takeover["leader_pid"] in d.worker_pids()
    wait_for(lambda: d.scheduler()["warmup_runs"] >= takeover["warmup_runs"] + 2, 3 * INTERVAL_S,
               "warm-ups to go on under the new leader", d)
    # The dead leader's runs still count: /metrics adds up every worker that ever ran, as healthz does.
    wait_for(metrics_match_healthz, 3 * INTERVAL_S, "/metrics to agree with /healthz after failover", d,
               interval_s=0.2)
    print(f"\nwarm-ups in {elapsed:.1f} s: {runs_in_window} (interval {INTERVAL_S} s, 3 workers); "
          f"failover after SIGKILL: {failover_s:.2f} s")
