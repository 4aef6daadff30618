"""`python -m bench.load`: the app under gunicorn, loaded as browsers load the dashboard, and idle or slow sockets.

Starts `gunicorn app:server -c <config>` (the repository's gunicorn.conf.py by default) on a free 127.0.0.1 port
with the demo provider and a temporary DATA_DIR, then:

- the dashboard mix (`/`, `/_dash-layout`, `/_dash-dependencies`, the three dashboard payloads of the sample
  portfolio, a static asset), one keep-alive connection per client, with 20, 50 and 100 concurrent clients for a
  fixed duration each: req/s, p50/p95/p99 latency, errors (status >= 400, or no answer), and the worker restarts
  seen in gunicorn's log during the phase (with the shortest gap between two of them);
- idle connections: with 50 and 100 sockets connected and silent, the time of `GET /healthz` on a new connection
  (median of a few tries, each with freshly opened idle sockets);
- slow clients: with 50 sockets each sending a request head one byte a second, the same `/healthz` time.

`--config FILE` runs another settings file (the baseline: a copy of the old gunicorn.conf.py), `--worker-class`
and `--gunicorn-arg` pass gunicorn CLI overrides, so before/after figures come from the same script. `--repeat N`
runs everything N times (a fresh gunicorn each time) and prints the medians.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.processes import stop_process_group

ROOT = Path(__file__).resolve().parents[1]
HEALTHZ_CAP_S = 40.0  # a /healthz that has not answered by then is reported as this (the old setup took ~24 s)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """gunicorn on 127.0.0.1 with the demo provider, a temporary DATA_DIR and its log in a file."""

    def __init__(self, config: Path, extra_args: list[str], env: dict[str, str] | None = None):
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
        self.log_path = self.tmp / "gunicorn.log"
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("CACHE_DIR", "DATABASE_URL", "REDIS_URL", "DYNO", "APP_ENV", "AUTH_REQUIRED")}
        environment.update(HOST="127.0.0.1", PORT=str(self.port), PRICE_PROVIDER="demo",
                           DATA_DIR=str(self.tmp / "data"), PROMETHEUS_MULTIPROC_DIR=str(self.tmp / "prometheus"),
                           PYTHONUNBUFFERED="1", **(env or {}))
        with open(self.log_path, "wb") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "app:server", "-c", str(config),
                 "--bind", f"127.0.0.1:{self.port}", *extra_args],
                cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_tail()}")
            try:
                if get(self.port, "/healthz", timeout_s=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer /healthz in {timeout_s} s:\n{self.log_tail()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self) -> str:
        return self.log_text()[-3000:]

    def stop(self) -> None:
        stop_process_group(self.process)
        shutil.rmtree(self.tmp, ignore_errors=True)


def get(port: int, path: str, timeout_s: float = 30, conn: http.client.HTTPConnection | None = None,
        ) -> tuple[int, bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if own:
            conn.close()


def dashboard_paths(port: int) -> list[str]:
    """What a browser's dashboard load asks for, for the first portfolio of the seeded database."""
    portfolio = json.loads(get(port, "/api/portfolios")[1])["portfolios"][0]["id"]
    page = get(port, "/")[1].decode(errors="replace")
    asset = re.search(r'/assets/[^"\'?]+\.(?:css|js)(?:\?m=[0-9.]+)?', page)
    return ["/", "/_dash-layout", "/_dash-dependencies",
            f"/api/dashboard-initial-data/{portfolio}", f"/api/dashboard-holdings-data/{portfolio}",
            f"/api/dashboard-chart-data/{portfolio}?range=1Y",
            asset.group(0) if asset else "/assets/app.css"]


def settle(port: int, paths: list[str], timeout_s: float = 60) -> None:
    """Every path answers 200 (the chart is generated, prices cached) before any load is measured."""
    deadline = time.monotonic() + timeout_s
    pending = list(paths)
    while pending and time.monotonic() < deadline:
        pending = [p for p in pending if get(port, p)[0] != 200]
        if pending:
            time.sleep(0.3)
    if pending:
        raise RuntimeError(f"still not 200 after {timeout_s} s: {pending}")


@dataclass
class LoadResult:
    clients: int
    requests: int
    req_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    restarts: int
    min_restart_gap_s: float | None


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def restart_times(log: str) -> list[float]:
    """When workers decided to recycle (max_requests), from gunicorn's log: seconds, to the log's resolution."""
    times = []
    for line in log.splitlines():
        if "Autorestarting worker" in line:
            stamp = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", line)
            if stamp:
                times.append(time.mktime(time.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S")))
    return times


def drive(server: Gunicorn, paths: list[str], clients: int, duration_s: float) -> LoadResult:
    """`clients` threads, each loading the dashboard over and over on one keep-alive connection."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop_at = time.monotonic() + duration_s
    start = threading.Barrier(clients + 1)
    log_before = len(server.log_text())

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        start.wait()
        step = index % len(paths)  # the clients start at different points of the mix
        while time.monotonic() < stop_at:
            path = paths[step % len(paths)]
            step += 1
            began = time.perf_counter()
            try:
                status, _ = get(server.port, path, conn=conn)
                if status >= 400:
                    errors[index] += 1
            except (OSError, http.client.HTTPException):
                errors[index] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            latencies[index].append(time.perf_counter() - began)
        conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    every = sorted(x for per_client in latencies for x in per_client)
    restarts = restart_times(server.log_text()[log_before:])
    gaps = [b - a for a, b in itertools.pairwise(restarts)]
    return LoadResult(clients, len(every), len(every) / elapsed, 1000 * percentile(every, 0.50),
                      1000 * percentile(every, 0.95), 1000 * percentile(every, 0.99),
                      1000 * (every[-1] if every else float("nan")), sum(errors), len(restarts),
                      min(gaps) if gaps else None)


def healthz_time(port: int) -> float:
    started = time.perf_counter()
    try:
        status, _ = get(port, "/healthz", timeout_s=HEALTHZ_CAP_S)
    except (OSError, http.client.HTTPException):
        return HEALTHZ_CAP_S
    return time.perf_counter() - started if status == 200 else HEALTHZ_CAP_S


def open_sockets(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        sockets.append(s)
    return sockets


def idle_figure(port: int, count: int, tries: int) -> float:
    """Median /healthz time with `count` connected, silent sockets (opened afresh for each try)."""
    times = []
    for _ in range(tries):
        sockets = open_sockets(port, count)
        time.sleep(0.3)  # accepted by the workers by now
        times.append(healthz_time(port))
        for s in sockets:
            s.close()
        time.sleep(0.5)
    return statistics.median(times)


def _trickle(head: bytes, sockets: list[socket.socket], stop: threading.Event) -> None:
    for byte in head:
        for s in sockets:
            with contextlib.suppress(OSError):
                s.send(bytes([byte]))
        if stop.wait(1.0):
            return


def slow_figure(port: int, count: int, tries: int) -> float:
    """Median /healthz time while `count` clients trickle a request head, one byte a second (slowloris)."""
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    times = []
    for _ in range(tries):
        sockets = open_sockets(port, count)
        stop = threading.Event()

        feeder = threading.Thread(target=_trickle, args=(head, sockets, stop), daemon=True)
        feeder.start()
        time.sleep(2.5)  # every slow client has sent a few bytes
        times.append(healthz_time(port))
        stop.set()
        feeder.join()
        for s in sockets:
            s.close()
        time.sleep(0.5)
    return statistics.median(times)


def run_once(args: argparse.Namespace, extra: list[str]) -> dict:
    server = Gunicorn(Path(args.config), extra)
    try:
        server.wait_ready()
        paths = dashboard_paths(server.port)
        settle(server.port, paths)
        loads = [drive(server, paths, clients, args.duration) for clients in args.clients]
        idle = {count: idle_figure(server.port, count, args.tries) for count in args.idle}
        slow = {count: slow_figure(server.port, count, args.tries) for count in args.slow}
        log = server.log_text()
        return {"loads": [asdict(r) for r in loads], "idle": idle, "slow": slow,
                "tracebacks": log.count("Traceback"),
                "dict_changed": log.count("dictionary changed size during iteration")}
    finally:
        server.stop()


def median_of(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "gunicorn.conf.py"), help="gunicorn settings file")
    parser.add_argument("--worker-class", help="gunicorn --worker-class override (gthread, gevent, ...)")
    parser.add_argument("--gunicorn-arg", action="append", default=[], metavar="ARG",
                        help="one more gunicorn CLI argument (repeatable), e.g. --gunicorn-arg=--threads=8")
    parser.add_argument("--clients", default="20,50,100", help="concurrent clients, one phase each")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per phase")
    parser.add_argument("--idle", default="50,100", help="idle socket counts for the /healthz figure")
    parser.add_argument("--slow", default="50", help="slow-client counts for the /healthz figure ('' for none)")
    parser.add_argument("--tries", type=int, default=3, help="/healthz tries per idle or slow figure")
    parser.add_argument("--repeat", type=int, default=1, help="whole runs (fresh gunicorn each); medians shown")
    parser.add_argument("--json", help="write every run's figures to this file")
    args = parser.parse_args(argv)
    args.clients = [int(x) for x in args.clients.split(",") if x]
    args.idle = [int(x) for x in args.idle.split(",") if x]
    args.slow = [int(x) for x in args.slow.split(",") if x]
    extra = list(args.gunicorn_arg) + ([f"--worker-class={args.worker_class}"] if args.worker_class else [])

    runs = []
    for index in range(args.repeat):
        runs.append(run_once(args, extra))
        print(f"run {index + 1}/{args.repeat} done", file=sys.stderr, flush=True)

    print(f"config {args.config} {' '.join(extra)}; {args.duration:g} s per phase, median of {len(runs)} run(s)")
    print("| clients | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | restarts | min gap s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for i, clients in enumerate(args.clients):
        rows = [run["loads"][i] for run in runs]

        def m(key: str, rows=rows) -> float | None:
            return median_of([row[key] for row in rows])

        print(f"| {clients} | {fmt(m('req_s'))} | {fmt(m('p50_ms'))} | {fmt(m('p95_ms'))} | {fmt(m('p99_ms'))} "
              f"| {fmt(m('max_ms'))} | {fmt(m('errors'))} | {fmt(m('restarts'))} | {fmt(m('min_restart_gap_s'))} |")
    print("| sockets | /healthz s |")
    print("| --- | --- |")
    for count in args.idle:
        print(f"| {count} idle | {fmt(median_of([run['idle'][count] for run in runs]), 3)} |")
    for count in args.slow:
        print(f"| {count} slow (1 byte/s) | {fmt(median_of([run['slow'][count] for run in runs]), 3)} |")
    print(f"tracebacks in gunicorn's log: {[run['tracebacks'] for run in runs]}; "
          f"'dictionary changed size': {[run['dict_changed'] for run in runs]}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "extra": extra, "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
