"""`python -m bench.two_machines`: warm dashboard requests per second through one web process vs two, on Redis.

One deployment (tests/cluster.py): a real redis-server and Postgres, two web processes (gunicorn, one worker of
GUNICORN_THREADS threads each, their own DATA_DIRs: two machines) and a Celery worker, demo prices. Once every
dashboard path answers 200 (prices cached by the worker's warm-up, the chart generated), rounds alternate:

- `one`: every client on web1 (web2 idles);
- `two`: the clients split evenly over web1 and web2, as a router in front of two machines would.

The load is bench/load.py's dashboard mix (`/`, `/_dash-layout`, `/_dash-dependencies`, the three dashboard
payloads of the sample portfolio, a static asset) from `--clients` keep-alive clients spread over `--generators`
load processes (several, so the generator's own GIL is not the limit), the clients of a process keep-alive
raw-socket connections driven by one thread (bench/lean_client.py: the generators share the measured cores, and
http.client in a thread per client cost ~0.4 ms of CPU a request). During each round the CPU time of every
part is read from /proc (psutil): each web process, the worker, Redis, Postgres (postmaster and backends), the
load generators, and the rest of the machine; 100 % is one core. Prints the medians and the ratio; `--write` puts
them into bench/results/two_machines.md. `--pages` also times the dashboard in Chromium through web1 (Redis) and
through an embedded `python app.py --demo` (bench/page.py's warm page and skeleton paint).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.lean_client import run_clients
from bench.load import dashboard_paths, get, percentile, settle
from tests.cluster import Cluster, servers_missing

RESULTS = Path(__file__).resolve().parent / "results" / "two_machines.md"
TARGET = 1.6


def _generate(ports: list[int], paths: list[str], clients: range, start: multiprocessing.Value, duration_s: float,
              ready: multiprocessing.Queue, out: multiprocessing.Queue) -> None:
    """One load process: its clients (client i on ports[i % len(ports)]) in one thread (bench/lean_client.py's
    `run_clients`: keep-alive connections, one request outstanding each); says it is ready, then loads from the
    moment the parent sets in `start` (the same for every load process) for `duration_s`; puts (requests, errors,
    ms)."""
    ready.put(True)
    while start.value == 0.0:  # the parent sets it once every load process is ready
        time.sleep(0.01)
    latencies, errors = run_clients(ports, paths, clients, start.value, duration_s)
    out.put((len(latencies), errors, [1000 * x for x in latencies]))


def _cpu_s(pids: list[int]) -> dict[int, float]:
    """Each live pid's CPU seconds so far (user + system, every thread)."""
    times = {}
    for pid in pids:
        try:
            used = psutil.Process(pid).cpu_times()
            times[pid] = used.user + used.system
        except psutil.Error:
            pass
    return times


def _cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two readings by the pids alive at the second (a new one counts from 0)."""
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


def _postgres_pids(cluster: Cluster) -> list[int]:
    """The postmaster (first line of postmaster.pid) and its children, the backends among them."""
    postmaster = int((cluster.postgres.root / "data" / "postmaster.pid").read_text().split()[0])
    return [postmaster, *(child.pid for child in psutil.Process(postmaster).children(recursive=True))]


@dataclass(frozen=True)
class Round:
    mode: str
    req_s: float
    p50_ms: float
    p95_ms: float
    errors: int
    cpu: dict[str, float]  # part -> % of one core over the round


def run_round(cluster: Cluster, mode: str, paths: list[str], clients: int, generators: int,
              duration_s: float) -> Round:
    ports = [cluster.webs[0].port] if mode == "one" else [web.port for web in cluster.webs]
    context = multiprocessing.get_context("spawn")
    out, ready = context.Queue(), context.Queue()
    start = context.Value("d", 0.0)
    shares = [range(g, clients, generators) for g in range(generators)]
    loaders = [context.Process(target=_generate, args=(ports, paths, share, start, duration_s, ready, out))
               for share in shares]
    for loader in loaders:
        loader.start()
    # The round starts once every load process is up (spawning one took over 10 s on a loaded machine, and a round
    # with a fixed start then measured 0 requests), and a moment later, so every client is waiting for it.
    for _ in loaders:
        ready.get(timeout=120)
    start_at = time.time() + 0.5
    start.value = start_at
    time.sleep(max(0.0, start_at - time.time()))

    def parts() -> dict[str, list[int]]:
        found = {web.name: web.pids() for web in cluster.webs}
        found["worker"] = cluster.workers[0].pids()
        found["redis"] = [cluster.redis.process.pid]
        found["postgres"] = _postgres_pids(cluster)
        found["load generators"] = [loader.pid for loader in loaders]
        return found

    before = {name: _cpu_s(pids) for name, pids in parts().items()}
    machine_before, wall_before = psutil.cpu_times(), time.monotonic()
    time.sleep(duration_s)
    after = {name: _cpu_s(pids) for name, pids in parts().items()}  # before the loaders exit and take theirs along
    machine_after, wall = psutil.cpu_times(), time.monotonic() - wall_before
    results = [out.get(timeout=duration_s + 60) for _ in loaders]
    for loader in loaders:
        loader.join()
    cpu = {name: 100 * _cpu_delta(before[name], after[name]) / wall for name in after}
    busy = sum(getattr(machine_after, f) - getattr(machine_before, f) for f in ("user", "system", "nice", "irq",
                                                                               "softirq", "steal"))
    cpu["whole machine"] = 100 * busy / wall
    cpu["other processes"] = max(0.0, cpu["whole machine"] - sum(cpu[name] for name in after))
    every = sorted(x for _, _, ms in results for x in ms)
    return Round(mode, len(every) / duration_s, percentile(every, 0.5), percentile(every, 0.95),
                 sum(e for _, e, _ in results), cpu)


def measure_pages(cluster: Cluster, portfolio_id: int, runs: int) -> dict[str, dict]:
    """bench/page.py's warm page and skeleton paint through web1 (Redis) and an embedded demo app, each beside
    the bare Dash page."""
    from bench.page import measure_page
    from bench.page_vs_bare import BareServer
    from tests.browser.support import DemoServer

    bare = BareServer()
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            embedded = DemoServer(Path(data_dir), env={"WARMUP_ENABLED": "1"}).wait_ready()
            try:
                embedded_id = json.loads(get(embedded.port, "/api/portfolios")[1])["portfolios"][0]["id"]
                settle(embedded.port, dashboard_paths(embedded.port))
                return {
                    "redis": measure_page(cluster.webs[0].base, portfolio_id, runs, runs, {"bare": bare.base}),
                    "embedded": measure_page(embedded.base, embedded_id, runs, runs, {"bare": bare.base}),
                }
            finally:
                embedded.stop()
    finally:
        bare.stop()


def summarise(rounds: list[Round]) -> dict[str, dict]:
    summary = {}
    for mode in ("one", "two"):
        mine = [r for r in rounds if r.mode == mode]
        summary[mode] = {
            "req_s": statistics.median(r.req_s for r in mine), "runs": [round(r.req_s) for r in mine],
            "p50_ms": statistics.median(r.p50_ms for r in mine), "p95_ms": statistics.median(r.p95_ms for r in mine),
            "errors": sum(r.errors for r in mine),
            "cpu": {part: statistics.median(r.cpu[part] for r in mine) for part in mine[0].cpu},
        }
    # Each "two" round over the "one" round run next to it (the same stretch of the shared machine's load).
    ones, twos = [r for r in rounds if r.mode == "one"], [r for r in rounds if r.mode == "two"]
    summary["paired"] = [b.req_s / a.req_s for a, b in zip(ones, twos, strict=True)]
    return summary


def report(args: argparse.Namespace, summary: dict[str, dict], pages: dict[str, dict] | None) -> str:
    one, two = summary["one"], summary["two"]
    ratio = two["req_s"] / one["req_s"]
    when = getattr(args, "when", None) or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        f"`python -m bench.two_machines --runs {args.runs} --duration {args.duration:g} --clients {args.clients} "
        f"--generators {args.generators}{' --pages' if pages else ''}` ({when}, {psutil.cpu_count()} cores): "
        f"medians of {args.runs} rounds per mode, rounds alternating.",
        "",
        "| web processes | req/s (median) | rounds | p50 ms | p95 ms | errors |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for mode, row in (("one", one), ("two", two)):
        lines.append(f"| {mode} | {row['req_s']:.0f} | {row['runs']} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} "
                     f"| {row['errors']} |")
    paired = summary["paired"]
    lines += ["", f"Ratio two / one: **{ratio:.2f}x** of the medians; the median of each round pair's ratio "
              f"**{statistics.median(paired):.2f}x** (pairs {[round(x, 2) for x in paired]}); target {TARGET}x.", "",
              "CPU during the rounds (median, % of one core; the machine has "
              f"{100 * psutil.cpu_count()} %):", "", "| part | one web process | two web processes |",
              "| --- | --- | --- |"]
    lines += [f"| {part} | {one['cpu'][part]:.0f} | {two['cpu'][part]:.0f} |" for part in one["cpu"]]
    # The web processes' CPU time per request: what a request costs, whatever share of the machine they got.
    per_request = {mode: 10 * sum(row["cpu"][p] for p in row["cpu"] if p.startswith("web")) / row["req_s"]
                   for mode, row in (("one", one), ("two", two))}
    lines.append(f"| web CPU ms per request | {per_request['one']:.1f} | {per_request['two']:.1f} |")
    if pages:
        lines += ["", "Dashboard in Chromium (bench/page.py: warm full render, median; skeleton first paint in a new "
                  "tab, median), each beside the bare Dash page:", "",
                  "| mode | warm page s | bare page s | ratio | skeleton ms |", "| --- | --- | --- | --- | --- |"]
        for mode, page in pages.items():
            warm, bare = page["page_warm_median_s"], page["bare_warm_median_s"]
            lines.append(f"| {mode} | {warm:.3f} | {bare:.3f} | {warm / bare:.2f} | "
                         f"{page['page_skeleton_median_ms']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds per mode (alternating)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of load per round")
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive clients")
    parser.add_argument("--generators", type=int, default=2, help="load processes the clients are spread over")
    parser.add_argument("--threads", type=int, default=4, help="GUNICORN_THREADS of each web process")
    parser.add_argument("--pages", action="store_true", help="also the warm page and skeleton paint in Chromium")
    parser.add_argument("--page-runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help=f"write the figures to {RESULTS}")
    parser.add_argument("--json", type=Path, help="every round's figures to this file")
    parser.add_argument("--from-json", type=Path, help="only print (and --write) the figures of a --json file")
    args = parser.parse_args(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        rounds = [Round(**r) for r in saved["rounds"]]
        args = argparse.Namespace(**{**vars(args), **saved["args"], "write": args.write})
        return _publish(args, rounds, saved["pages"])
    missing = servers_missing()
    if missing:
        print(f"cannot run: {missing}", file=sys.stderr)
        return 2
    # A long interval: the worker's warm-ups (cheap while everything is fresh) stay out of most rounds.
    # No recycling (GUNICORN_MAX_REQUESTS=0): at these rates a worker would restart every ~15 s, and a round
    # measure its boot. Measured once with it: rounds fell to 34 req/s.
    cluster = Cluster(webs=2, worker=True, interval_s=60, threads=args.threads,
                      env={"LOG_LEVEL": "WARNING", "GUNICORN_MAX_REQUESTS": "0"})
    try:
        paths = dashboard_paths(cluster.webs[0].port)
        for web in cluster.webs:
            settle(web.port, paths)
        run_round(cluster, "two", paths, args.clients, args.generators, 2.0)  # warms both (threads, memos)
        rounds = []
        for index in range(args.runs):
            for mode in (("one", "two") if index % 2 == 0 else ("two", "one")):
                rounds.append(run_round(cluster, mode, paths, args.clients, args.generators, args.duration))
                print(f"round {index + 1}/{args.runs} {mode}: {rounds[-1].req_s:.0f} req/s, cpu "
                      f"{ {k: round(v) for k, v in rounds[-1].cpu.items()} }", file=sys.stderr, flush=True)
        pages = None
        if args.pages:
            portfolio_id = int(paths[3].rsplit("/", 1)[1])
            pages = measure_pages(cluster, portfolio_id, args.page_runs)
    finally:
        cluster.close()
    if args.json:
        kept = {k: getattr(args, k) for k in ("runs", "duration", "clients", "generators", "threads")}
        kept["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        args.json.write_text(json.dumps({"args": kept, "rounds": [r.__dict__ for r in rounds], "pages": pages},
                                        indent=1))
    return _publish(args, rounds, pages)


def _publish(args: argparse.Namespace, rounds: list[Round], pages: dict[str, dict] | None) -> int:
    text = report(args, summarise(rounds), pages)
    print(text)
    if args.write:
        RESULTS.write_text("# Two web processes on Redis vs one (issue 17)\n\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
