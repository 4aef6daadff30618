"""`python -m bench.writes`: how writes hold up at scale (issue 17, item 4 and its Speed targets).

- a 100k-row CSV import into an empty portfolio, on SQLite and on a throwaway Postgres (as the tests start one);
- one add to a 400k-row ledger (SQLite);
- the latency of adds to another portfolio while a 100k-row import runs (two processes, one SQLite file, as two
  workers would be);
- each measurement's peak RSS (a fresh process per run: `ru_maxrss`).
Medians of `--runs` runs; the figures go to bench/results/writes.md (`--out` elsewhere). The ledgers are synthetic
(no prices needed): each ticker buys, sometimes sells less than it holds, sometimes receives a dividend.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from services.csv_io import write_transactions_csv
from services.models import Transaction

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"import_sqlite_s": 3.0, "import_postgres_s": 3.0, "add_400k_ms": 100.0, "add_during_import_delay_ms": 100.0,
           "add_during_import_delay_ms_postgres": 100.0, "peak_rss_mb": 400.0}


def synthetic(rows: int, tickers: int, seed: int = 17, prefix: str = "T") -> list[Transaction]:
    """`rows` transactions over `tickers` tickers and ten years, never overselling (BUY first, SELL < held)."""
    rng = random.Random(seed)
    start = dt.date(2015, 1, 1)
    per = rows // tickers
    out: list[Transaction] = []
    for n in range(tickers):
        ticker = f"{prefix}{n:04d}"
        held = 0
        days = sorted(rng.sample(range(3650), per))
        for k, offset in enumerate(days):
            day = start + dt.timedelta(days=offset)
            price = Decimal(rng.randint(500, 50000)) / 100
            roll = rng.random()
            if k > 0 and held > 2 and roll < 0.25:
                quantity = rng.randint(1, held // 2)
                out.append(Transaction(day, ticker, "SELL", Decimal(quantity), price, Decimal("1.00")))
                held -= quantity
            elif k > 0 and held > 0 and roll < 0.35:
                out.append(Transaction(day, ticker, "DIVIDEND", Decimal(held), Decimal("0.25")))
            else:
                quantity = rng.randint(1, 50)
                out.append(Transaction(day, ticker, "BUY", Decimal(quantity), price, Decimal("1.00")))
                held += quantity
    out.sort(key=lambda t: t.date)
    return out


def _ledger(url: str):
    from services.ledger import Ledger

    ledger = Ledger(url)
    ledger.create_all()
    return ledger


def _peak_mb() -> float:
    """This process's peak RSS: VmHWM, not ru_maxrss, which a child started by fork + exec inherits from its
    parent (the bench's parent holds the 400k-row ledger it seeded: every later child then 'peaked' at ~350 MB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    """This process's CPU seconds (user + system): a figure other load on the machine barely moves, unlike the
    wall clock (the bench shares 2 cores with whatever else runs)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- one measurement per process (`--one NAME URL`): what it prints is one JSON line -------------------------------

def one_import(url: str, csv_path: str) -> dict:
    ledger = _ledger(url)
    portfolio = ledger.create_portfolio(f"import {time.time_ns()}")
    text = Path(csv_path).read_text()
    started, cpu = time.perf_counter(), _cpu()
    imported = ledger.import_csv(portfolio.id, text)
    return {"seconds": time.perf_counter() - started, "cpu_seconds": _cpu() - cpu, "imported": imported,
            "peak_rss_mb": _peak_mb()}


def one_add(url: str, portfolio_id: str) -> dict:
    ledger = _ledger(url)
    timings, cpus = [], []
    for day in range(5):
        started, cpu = time.perf_counter(), _cpu()
        ledger.add_transaction(int(portfolio_id), {"date": f"2026-01-0{day + 2}", "ticker": "T0001", "type": "BUY",
                                                   "quantity": "1", "price": "10"})
        timings.append(time.perf_counter() - started)
        cpus.append(_cpu() - cpu)
    return {"ms": statistics.median(timings) * 1000, "cpu_ms": statistics.median(cpus) * 1000,
            "peak_rss_mb": _peak_mb()}


def _adder(url: str, portfolio_id: int, stop, ready, out) -> None:
    ledger = _ledger(url)
    latencies = []
    day = 0
    while not stop.is_set() or len(latencies) < 5:  # a slow start-up (a loaded machine) still measures some adds
        day += 1
        started = time.perf_counter()
        ledger.add_transaction(portfolio_id, {"date": (dt.date(2020, 1, 1) + dt.timedelta(days=day)).isoformat(),
                                              "ticker": "OTHER", "type": "BUY", "quantity": "1", "price": "10"})
        latencies.append(time.perf_counter() - started)
        ready.set()
        time.sleep(0.02)
    out.put(latencies)


def one_concurrent(url: str, csv_path: str) -> dict:
    """Adds to portfolio B in another process, before and during a 100k-row import into portfolio A."""
    ledger = _ledger(url)
    other = ledger.create_portfolio(f"other {time.time_ns()}")
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    stop, ready = context.Event(), context.Event()
    adder = context.Process(target=_adder, args=(url, other.id, stop, ready, out))
    adder.start()
    ready.wait(120)
    time.sleep(1.0)  # adds with nothing else running: the baseline
    stop.set()
    idle = out.get()
    adder.join()
    stop, ready = context.Event(), context.Event()
    adder = context.Process(target=_adder, args=(url, other.id, stop, ready, out))
    adder.start()
    ready.wait(120)  # the adder's own start-up is not the import's fault
    time.sleep(0.3)
    result = one_import(url, csv_path)
    stop.set()
    busy = out.get()
    adder.join()
    idle_ms = statistics.median(idle[3:] or idle) * 1000
    return {"idle_median_ms": idle_ms, "busy_max_ms": max(busy) * 1000,
            "busy_median_ms": statistics.median(busy) * 1000,
            "delay_ms": max(busy) * 1000 - idle_ms, "import_seconds": result["seconds"],
            "peak_rss_mb": result["peak_rss_mb"]}


ONE = {"import": one_import, "add": one_add, "concurrent": one_concurrent}


def _run_one(name: str, *args: str) -> dict:
    command = [sys.executable, "-m", "bench.writes", "--one", name, *args]
    finished = subprocess.run(command, capture_output=True, text=True, cwd=os.getcwd(), timeout=900)
    if finished.returncode != 0:
        raise RuntimeError(f"{name} failed: {finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def _seed_big(url: str, rows: int) -> int:
    """A portfolio of `rows` transactions, inserted straight into the table (the setup is not what is measured)."""
    from services.ledger_schema import TransactionRow, row_values

    ledger = _ledger(url)
    portfolio = ledger.create_portfolio("big")
    ledger_rows = synthetic(rows, 2000, seed=4)
    with ledger.engine.begin() as connection:
        for start in range(0, len(ledger_rows), 20_000):
            connection.execute(insert(TransactionRow),
                               [row_values(portfolio.id, t) for t in ledger_rows[start:start + 20_000]])
    ledger.dispose()
    return portfolio.id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=400_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "writes.md"))
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(ONE[args.one[0]](*args.one[1:])))
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-writes-"))
    csv_path = work / "import.csv"
    csv_path.write_text(write_transactions_csv(synthetic(args.rows, 500)))
    figures: dict[str, list[float]] = {}

    def record(key: str, value: float) -> None:
        figures.setdefault(key, []).append(value)
        print(f"  {key}: {value:.3f}", flush=True)

    for run in range(args.runs):
        url = f"sqlite:///{work}/import{run}.db"
        result = _run_one("import", url, str(csv_path))
        record("import_sqlite_s", result["seconds"])
        record("import_sqlite_cpu_s", result["cpu_seconds"])
        record("peak_rss_mb", result["peak_rss_mb"])
    big_url = f"sqlite:///{work}/big.db"
    big_id = _seed_big(big_url, args.big)
    for _ in range(args.runs):
        result = _run_one("add", big_url, str(big_id))
        record("add_400k_ms", result["ms"])
        record("add_400k_cpu_ms", result["cpu_ms"])
    for run in range(args.runs):
        result = _run_one("concurrent", f"sqlite:///{work}/both{run}.db", str(csv_path))
        record("add_during_import_delay_ms", result["delay_ms"])
        record("add_during_import_idle_ms", result["idle_median_ms"])
        record("add_during_import_max_ms", result["busy_max_ms"])
        record("peak_rss_mb", result["peak_rss_mb"])
    if not args.skip_postgres:
        sys.path.insert(0, str(ROOT))
        from tests.services.postgres_server import PostgresServer, postgres_missing

        if postgres_missing() is None:
            server = PostgresServer()
            try:
                for _ in range(args.runs):
                    result = _run_one("import", server.url(), str(csv_path))
                    record("import_postgres_s", result["seconds"])
                    record("import_postgres_cpu_s", result["cpu_seconds"])
                    record("peak_rss_mb", result["peak_rss_mb"])
                for _ in range(args.runs):  # Postgres locks the portfolio's row, not the database
                    result = _run_one("concurrent", server.url(), str(csv_path))
                    record("add_during_import_delay_ms_postgres", result["delay_ms"])
                    record("peak_rss_mb", result["peak_rss_mb"])
            finally:
                server.stop()
    _write(Path(args.out), figures, args)
    return 0


def _write(path: Path, figures: dict[str, list[float]], args: argparse.Namespace) -> None:
    lines = [f"# Writes at scale ({args.label or 'python -m bench.writes'})", "",
             f"{args.rows} imported rows (500 tickers), a {args.big}-row ledger (2000 tickers); median of "
             f"{args.runs} runs, each measurement in a fresh process. Peak RSS is the largest of any run. `_cpu` "
             "figures are the measuring process's CPU seconds (the Postgres server's own work is not in them).", "",
             f"Load average when written: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.", "",
             "| figure | median | runs | target |", "|---|---|---|---|"]
    for key, values in figures.items():
        shown = max(values) if key == "peak_rss_mb" else statistics.median(values)
        target = TARGETS.get(key)
        lines.append(f"| {key} | {shown:.3f} | {', '.join(f'{v:.3f}' for v in values)} | "
                     f"{'' if target is None else f'<= {target:g}'} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
