"""`python -m bench.returns [--portfolio large] [--runs 5]`: what the returns (issue 16) add to chart generation.

The bench's large portfolio (500 tickers, 20,000 transactions, 10 years; bench/portfolios.py) on a temporary
SQLite ledger and diskcache, its prices (the demo provider's, with the benchmark ^GSPC) fetched once beforehand.
Then, in the same process and alternating, the chart generator's whole computation (`_compute`: load, the
cache-first fetch that finds nothing due, the value series of every range, allocation) with the returns (TWR
line, benchmark line and returns block per range) and without them, `--runs` times each; the medians and their
difference are printed (and written as JSON with --json). Target: at most +100 ms.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bench.portfolios import SPECS, generate
from services.chart_generator import BackgroundChartGenerator, ChartStore
from services.config import Settings
from services.csv_io import write_transactions_csv
from services.ledger import Ledger
from services.market_hours import MarketClock
from services.price_cache import PriceCache
from services.price_service import PriceService
from services.providers.demo import DemoProvider
from services.returns_chart import RangePerformance

TARGET_MS = 100.0
_NONE = RangePerformance([], [], {})


class WithoutReturns(BackgroundChartGenerator):
    """The chart generator as it was before issue 16: no flows, no TWR, no benchmark line."""

    def _performance(self, loaded, full, benchmark) -> Callable[[pd.DataFrame], RangePerformance]:
        return lambda _part: _NONE


def measure(portfolio: str = "large", runs: int = 5) -> dict:
    clock = MarketClock()
    today = clock.now().date()
    spec = SPECS[portfolio]
    transactions = generate(spec, clock, today)
    workdir = Path(tempfile.mkdtemp(prefix="stocktracker-bench-returns-"))
    ledger = Ledger(f"sqlite:///{workdir / 'ledger.db'}")
    cache = PriceCache(workdir / "cache")
    prices = PriceService(DemoProvider(clock), cache, clock, Settings())
    try:
        ledger.create_all()
        pid = ledger.create_portfolio(f"bench {portfolio}").id
        ledger.import_csv(pid, write_transactions_csv(transactions), max_rows=len(transactions) + 1)
        store = ChartStore(cache)
        with_returns = BackgroundChartGenerator(ledger, prices, clock, store)
        without = WithoutReturns(ledger, prices, clock, store, loader=with_returns.loader)
        version = ledger.version(pid)
        # Fill the cache (every ticker, the benchmark too) and the loader's memo: neither is timed.
        prices.fetch_prices_parallel(with_returns.loader.load(pid).fetch_needs, wait_s=None)
        with_returns._compute(pid, version)
        without._compute(pid, version)
        timings: dict[str, list[float]] = {"with": [], "without": []}
        for _ in range(runs):
            for name, generator in (("without", without), ("with", with_returns)):
                started = time.perf_counter()
                generator._compute(pid, version)
                timings[name].append(time.perf_counter() - started)
        entry, _ = with_returns._compute(pid, version)
        with_returns.shutdown()
        without.shutdown()
    finally:
        prices.shutdown()
        ledger.dispose()
        cache.close()
        shutil.rmtree(workdir, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    added_ms = (medians["with"] - medians["without"]) * 1000
    return {
        "portfolio": portfolio, "tickers": len({t.ticker for t in transactions}), "transactions": len(transactions),
        "runs": runs, "with_returns_median_s": round(medians["with"], 4),
        "without_returns_median_s": round(medians["without"], 4), "added_ms": round(added_ms, 1),
        "target_ms": TARGET_MS, "within_target": added_ms <= TARGET_MS,
        "with_returns_runs_s": [round(v, 4) for v in timings["with"]],
        "without_returns_runs_s": [round(v, 4) for v in timings["without"]],
        "max_returns": entry.returns["MAX"] if entry.returns else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.returns", description=__doc__.splitlines()[0])
    parser.add_argument("--portfolio", choices=sorted(SPECS), default="large")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    args = parser.parse_args(argv)
    result = measure(args.portfolio, args.runs)
    print(f"chart generation of the {result['portfolio']} portfolio ({result['tickers']} tickers, "
          f"{result['transactions']} transactions), median of {result['runs']} runs each:")
    print(f"  without returns {result['without_returns_median_s'] * 1000:.0f} ms, "
          f"with returns {result['with_returns_median_s'] * 1000:.0f} ms: "
          f"{result['added_ms']:+.0f} ms (target at most +{TARGET_MS:.0f} ms)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
