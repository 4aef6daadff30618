"""Warm dashboard reads on each shared store: `python -m bench.warm_pages_store [--tickers 300] [--runs 7]`.

Times initial data + holdings of one portfolio whose prices are all cached (demo prices, one process), on the
diskcache and on a Redis server started here (Debian's redis-server), and counts the store calls of one such load
(docs/scale-out.md, "Warm pages on Redis").
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import services.container as container
from bench.portfolios import PortfolioSpec, generate
from services.config import Settings
from services.container import build_services
from services.csv_io import write_transactions_csv
from services.store import DiskStore
from tests.services.counting_store import CountingStore
from tests.services.redis_server import RedisServer


def measure(redis_url: str | None, tickers: int, runs: int) -> tuple[list[float], Counter[str]]:
    """(milliseconds of each warm load, store calls of one warm load)."""
    stores: list[CountingStore] = []
    original = container.shared_store

    def counting(settings: Settings) -> CountingStore:
        store = original(settings)
        stores.append(CountingStore(DiskStore(store) if isinstance(store, Path) else store))
        return stores[-1]

    root = Path(tempfile.mkdtemp(prefix="bench-store-"))
    env = {"PRICE_PROVIDER": "demo", "DATA_DIR": str(root), "DEMO_LATENCY_MS": "0", "WARMUP_ENABLED": "0",
           "SEED_SAMPLE": "0"}
    if redis_url:
        env |= {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": f"bench-{time.time_ns()}:"}
    container.shared_store = counting
    try:
        services = build_services(Settings.from_env(env))
    finally:
        container.shared_store = original
    try:
        rows = generate(PortfolioSpec("bench", tickers, tickers * 10, 3), services.clock, services.clock.now().date())
        portfolio = services.ledger.create_portfolio("bench")
        services.ledger.import_csv(portfolio.id, write_transactions_csv(rows))
        services.dashboard.holdings(portfolio.id, wait_s=None)  # fetch everything: the loads below are warm

        def load() -> None:
            services.dashboard.initial(portfolio.id)
            services.dashboard.holdings(portfolio.id, wait_s=0)

        load()
        stores[0].reset()
        load()
        calls = Counter(stores[0].calls)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            load()
            times.append((time.perf_counter() - started) * 1000)
        return times, calls
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=300)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    server = RedisServer()
    try:
        for name, url in (("diskcache", None), ("redis", server.url)):
            times, calls = measure(url, args.tickers, args.runs)
            print(f"{name}: median {statistics.median(times):.0f} ms over {args.runs} runs "
                  f"({', '.join(f'{t:.0f}' for t in times)}); store calls of one load: {dict(calls)}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
