"""`python -m bench [--quick] [--json FILE]`: our speed beside the baselines, in one run, as ratios.

For each portfolio: upstream requests and symbols per dashboard load (cold and warm), the four API payload
times (cold and warm), the full page in headless Chromium (cold and warm), the server's peak RSS and the compute
time of holdings plus value series alone. Baselines in the same run: the naive one-price-per-ticker-per-day load
and a bare Dash page with the same kinds of components.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import psutil

from bench.naive import naive_load
from bench.portfolios import SPECS, generate
from bench.server import AppServer
from services import analytics
from services.csv_io import write_transactions_csv
from services.market_hours import MarketClock
from services.price_cache import PriceCache
from services.price_service import PriceService

ENDPOINTS = ("initial", "holdings", "chart", "progress")
RUNS = 5
SKELETON_RUNS = 9  # first paints vary by a frame or two (16-33 ms) between loads; more runs steady the median


def _paths(portfolio_id: int) -> dict[str, str]:
    return {
        "initial": f"/api/dashboard-initial-data/{portfolio_id}",
        "holdings": f"/api/dashboard-holdings-data/{portfolio_id}",
        "chart": f"/api/dashboard-chart-data/{portfolio_id}?range=MAX",
        "progress": f"/api/chart-generator-progress/{portfolio_id}",
    }


def dashboard_load(server: AppServer, portfolio_id: int, chart_deadline_s: float = 120) -> dict[str, float]:
    """One dashboard's worth of API calls, as the page makes them; the chart is polled until it is ready."""
    times: dict[str, float] = {}
    for name, path in _paths(portfolio_id).items():
        status, _, seconds = server.get(path)
        if name == "chart":
            started = time.perf_counter() - seconds
            deadline = time.monotonic() + chart_deadline_s
            while status == 202 and time.monotonic() < deadline:
                time.sleep(0.2)
                status, _, _ = server.get(path)
            seconds = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
        times[name] = seconds
    return times


def measure_api(server: AppServer, portfolio_id: int) -> dict:
    before = server.upstream()
    cold = dashboard_load(server, portfolio_id)
    after_cold = server.upstream()
    warm_runs = [dashboard_load(server, portfolio_id) for _ in range(RUNS)]
    after_warm = server.upstream()
    warm = {name: statistics.median(run[name] for run in warm_runs) for name in ENDPOINTS}
    single_requests = [seconds for run in [cold, *warm_runs] for seconds in run.values()]
    return {
        "cold_upstream_requests": after_cold[0] - before[0],
        "cold_upstream_symbols": after_cold[1] - before[1],
        "warm_upstream_requests": (after_warm[0] - after_cold[0]) / RUNS,
        "warm_upstream_symbols": (after_warm[1] - after_cold[1]) / RUNS,
        "api_cold_s": {k: round(v, 4) for k, v in cold.items()},
        "api_warm_median_s": {k: round(v, 4) for k, v in warm.items()},
        "api_cold_total_s": round(sum(cold.values()), 4),
        "api_warm_total_s": round(sum(warm.values()), 4),
        # The chart's polling loop is not one request; its single calls are each well under it.
        "slowest_request_s": round(max(single_requests), 4),
    }


def measure_compute(data_dir: Path, cache_dir: Path, portfolio_id: int, clock: MarketClock) -> float:
    """Median seconds of replay + holdings rows + the full value series, from the warm cache, no I/O timed."""
    from services.config import Settings
    from services.ledger import Ledger
    from services.providers.demo import DemoProvider

    ledger = Ledger(f"sqlite:///{data_dir / 'stocktracker.db'}")
    transactions = ledger.list_transactions(portfolio_id)
    prices = PriceService(DemoProvider(clock), PriceCache(cache_dir), clock, Settings())
    tickers = sorted({t.ticker for t in transactions})
    closes = prices.closes(tickers)
    quotes = prices.prices(tickers)
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        positions = analytics.replay(transactions)
        analytics.holdings_rows(positions, quotes)
        analytics.value_series(transactions, closes)
        timings.append(time.perf_counter() - started)
    prices.shutdown()
    ledger.dispose()
    return statistics.median(timings)


def import_portfolio(server: AppServer, name: str, csv_text: str) -> int:
    status, body, _ = server.request("POST", "/api/portfolios", json.dumps({"name": f"bench {name}"}).encode())
    if status != 201:
        raise RuntimeError(f"create portfolio answered {status}: {body[:200]!r}")
    portfolio_id = json.loads(body)["portfolio"]["id"]
    status, body, _ = server.request("POST", f"/api/portfolios/{portfolio_id}/import", csv_text.encode(),
                                     content_type="text/csv")
    if status != 200:
        raise RuntimeError(f"import answered {status}: {body[:300]!r}")
    return portfolio_id


def bench_portfolio(name: str, workdir: Path, latency_ms: int, clock: MarketClock, today: dt.date,
                    with_page: bool, with_bare: bool = False) -> dict:
    """Every figure of one portfolio; with `with_bare`, the bare Dash page's warm loads alternate with ours."""
    spec = SPECS[name]
    transactions = generate(spec, clock, today)
    data_dir = workdir / name
    data_dir.mkdir(parents=True)
    result: dict = {"tickers": len({t.ticker for t in transactions}), "transactions": len(transactions)}
    server = AppServer(data_dir, data_dir / "cache-api", latency_ms, {"MAX_UPLOAD_BYTES": str(64 * 1024 * 1024)})
    try:
        portfolio_id = import_portfolio(server, name, write_transactions_csv(transactions))
        result.update(measure_api(server, portfolio_id))
    finally:
        server.stop()
    peak = server.peak_rss
    result["compute_s"] = round(measure_compute(data_dir, data_dir / "cache-api", portfolio_id, clock), 4)
    if with_page:
        from bench.page import measure_page
        from bench.page_vs_bare import BareServer

        # A second server on an empty cache, so the page's cold load really is cold.
        server = AppServer(data_dir, data_dir / "cache-page", latency_ms)
        # The bare page as Dash ships it (full plotly.js), and with the basic plotly.js bundle our app draws with.
        bares = {"bare_page": BareServer(), "bare_page_same_plotly": BareServer(basic_plotly=True)} \
            if with_bare else {}
        try:
            result.update(measure_page(server.base, portfolio_id, runs=RUNS, skeleton_runs=SKELETON_RUNS,
                                       bare_urls={name: bare.base + "/" for name, bare in bares.items()}))
        finally:
            server.stop()
            for bare in bares.values():
                bare.stop()
        peak = max(peak, server.peak_rss)
    result["server_peak_rss_mb"] = round(peak / 2**20, 1)
    return result


def markdown(report: dict) -> str:
    lines = [
        f"Machine: {report['machine']}; DEMO_LATENCY_MS={report['latency_ms']}; medians of {RUNS} runs "
        f"(first paints: {SKELETON_RUNS}).",
        "",
        "| portfolio | tickers | txns | cold req (symbols) | warm req | API cold s | API warm s | page cold s "
        "| page warm s | skeleton ms: new tab / new tab open 1 s / same tab / new tab, stock Chromium | compute s "
        "| peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in report["portfolios"].items():
        lines.append(
            f"| {name} | {row['tickers']} | {row['transactions']} | {row['cold_upstream_requests']:.0f} "
            f"({row['cold_upstream_symbols']:.0f}) | {row['warm_upstream_requests']:.0f} | {row['api_cold_total_s']} "
            f"| {row['api_warm_total_s']} | {row.get('page_cold_s', '-')} | {row.get('page_warm_median_s', '-')} "
            f"| {row.get('page_skeleton_median_ms', '-')} / {row.get('page_skeleton_settled_tab_median_ms', '-')} "
            f"/ {row.get('page_skeleton_same_tab_median_ms', '-')} "
            f"/ {row.get('page_skeleton_stock_new_tab_median_ms', '-')} "
            f"| {row['compute_s']} | {row['server_peak_rss_mb']} |"
        )
    lines += ["", "| ratio | value |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in report["ratios"].items()]
    baseline = report["naive"]
    lines += ["", f"Naive baseline ({baseline['portfolio']}): {baseline['requests']} requests, "
              f"{baseline['load_s']:.0f} s per load (median of {baseline['sampled_requests']} timed requests "
              f"x the exact request count)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small portfolio only (a CI smoke run)")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--markdown", type=Path, help="write the results table as Markdown to this file")
    parser.add_argument("--latency-ms", type=int, default=300, help="DEMO_LATENCY_MS (default 300)")
    parser.add_argument("--no-page", action="store_true", help="skip the headless-Chromium page timings")
    args = parser.parse_args(argv)

    clock = MarketClock()
    today = clock.now().date()
    names = ["small"] if args.quick else ["small", "seed", "large"]
    with_page = not args.no_page and shutil.which("chromium") is not None
    workdir = Path(tempfile.mkdtemp(prefix="stocktracker-bench-"))
    report: dict = {
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, "
                   f"{psutil.virtual_memory().total / 2**30:.0f} GB, Python {platform.python_version()}",
        "latency_ms": args.latency_ms, "date": today.isoformat(), "portfolios": {}, "ratios": {},
    }
    try:
        naive_name = "small" if args.quick else "seed"  # also the portfolio of the page/bare ratio
        for name in names:
            print(f"benchmarking the {name} portfolio ...", flush=True)
            report["portfolios"][name] = bench_portfolio(name, workdir, args.latency_ms, clock, today, with_page,
                                                         with_bare=name == naive_name)
        tickers = sorted({t.ticker for t in generate(SPECS[naive_name], clock, today)})
        naive = naive_load(tickers, today, args.latency_ms, clock)
        report["naive"] = {"portfolio": naive_name, "requests": naive.requests, "load_s": naive.load_seconds,
                           "sampled_requests": naive.sampled_requests}
        ours = report["portfolios"][naive_name]
        report["ratios"]["requests_naive_over_ours"] = round(naive.requests / max(1, ours["cold_upstream_requests"]), 1)
        report["ratios"]["load_time_naive_over_ours"] = round(naive.load_seconds / ours["api_cold_total_s"], 1)
        if with_page:
            for name, ratio in (("bare_page", "page_ours_over_bare"),
                                ("bare_page_same_plotly", "page_ours_over_bare_same_plotly")):
                bare = ours.pop(f"{name}_warm_median_s")
                report[f"{name}_median_s"] = bare
                report[f"{name}_runs_s"] = ours.pop(f"{name}_warm_runs_s")
                report["ratios"][ratio] = round(ours["page_warm_median_s"] / bare, 3)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    table = markdown(report)
    print(table)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 0
