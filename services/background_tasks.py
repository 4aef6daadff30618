"""Background warm-up on APScheduler, one leader per deployment however many gunicorn workers run.

APScheduler's FAQ: one job store cannot be shared by several processes, and without `--preload` every worker
would run its own scheduler (jobs N times). So every worker runs a scheduler, but only the worker holding an
exclusive lock in DATA_DIR (fcntl) does the work; the kernel drops the lock when that process dies, and another
worker takes it at its next tick, within one interval. The lock is behind `LeaderLock`, so a Redis lock can
replace the file when workers span machines.

Run one warm-up and exit (Heroku Scheduler, cron): `python -m services.background_tasks`.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import time
import weakref
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler

from services import analytics
from services.chart_generator import BackgroundChartGenerator, price_needs
from services.ledger import Ledger
from services.metrics import UPSTREAM_REQUESTS, WARMUP_RUNS, WARMUP_SECONDS
from services.price_cache import PriceCache
from services.price_service import Need, PriceService

log = logging.getLogger(__name__)
# How long a warm-up waits on another worker's generation of the same chart before leaving it to that worker.
CHART_WAIT_S = 30.0


class LeaderLock(Protocol):
    def try_acquire(self) -> bool:
        """Become (or stay) the leader; False while another process leads."""
        ...

    def release(self) -> None: ...


class FileLeaderLock:
    """An exclusive `flock` on a file: held until released or until this process dies.

    flock belongs to the open file description, which fork() shares: a child that kept the inherited descriptor
    would keep the lock alive after the leader died, and nobody (that child included: its own new descriptor
    conflicts with the inherited one) could lead again. So a forked child closes it at once (without unlocking,
    which would drop the parent's lock too) and never counts it as held.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None
        self._owner_pid: int | None = None
        _LOCKS.add(self)

    def try_acquire(self) -> bool:
        if self._fd is not None and self._owner_pid == os.getpid():
            return True
        self._drop_inherited()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd, self._owner_pid = fd, os.getpid()
        return True

    def release(self) -> None:
        if self._fd is not None and self._owner_pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._drop_inherited()

    def _drop_inherited(self) -> None:
        """Close a descriptor inherited through fork(): the parent's lock must not outlive the parent."""
        if self._fd is not None and self._owner_pid != os.getpid():
            with suppress(OSError):
                os.close(self._fd)
            self._fd = None


_LOCKS: weakref.WeakSet[FileLeaderLock] = weakref.WeakSet()


def _drop_inherited_locks() -> None:
    for lock in list(_LOCKS):
        lock._drop_inherited()


# Any fork (a Dash background callback, multiprocessing) would otherwise carry the leader's lock into the child.
os.register_at_fork(after_in_child=_drop_inherited_locks)


@dataclass(frozen=True)
class WarmupResult:
    """What one warm-up did; logged as one structured line and kept as `last_warmup`."""

    at: str
    pid: int
    tickers: int
    due: int
    fetched: int
    failed: int
    requests: int
    seconds: float
    charts: int


def merge_needs(per_portfolio: Iterable[dict[str, Need]]) -> dict[str, Need]:
    """One need per ticker across portfolios: the earliest start, and a quote if any portfolio holds it."""
    merged: dict[str, Need] = {}
    for needs in per_portfolio:
        for ticker, need in needs.items():
            known = merged.get(ticker)
            if known is None:
                merged[ticker] = need
            else:
                end = None if known.end is None or need.end is None else max(known.end, need.end)
                merged[ticker] = Need(min(known.start, need.start), end)
    return merged


def _upstream_requests() -> float:
    """Requests upstream made by this process so far (every provider and outcome)."""
    return sum(s.value for metric in UPSTREAM_REQUESTS.collect() for s in metric.samples
               if s.name.endswith("_total"))


class BackgroundPriceUpdater:
    """Refreshes every ticker of every portfolio that is not fresh, then regenerates the affected charts."""

    def __init__(self, ledger: Ledger, prices: PriceService, cache: PriceCache,
                 charts: BackgroundChartGenerator | None = None, now: Callable[[], dt.datetime] | None = None):
        self.ledger, self.prices, self.cache, self.charts = ledger, prices, cache, charts
        self._now = now or prices.clock.now

    def portfolio_needs(self) -> dict[int, dict[str, Need]]:
        needs: dict[int, dict[str, Need]] = {}
        for portfolio_id in self.ledger.portfolio_ids():
            transactions = self.ledger.list_transactions(portfolio_id)
            needs[portfolio_id] = price_needs(transactions, analytics.replay(transactions))
        return needs

    def run_once(self) -> WarmupResult:
        """One warm-up: fetch what is due (through the batched, rate-limited path), then charts."""
        started = time.perf_counter()
        requests_before = _upstream_requests()
        try:
            per_portfolio = self.portfolio_needs()
            needs = merge_needs(per_portfolio.values())
            report = self.prices.fetch_prices_parallel(needs, wait_s=None)
            fetched = {t for t, o in report.finished.items() if o.outcome == "ok"}
            failed = {t for t, o in report.finished.items() if o.outcome in ("failed", "skipped")}
            charts = self._regenerate_charts(per_portfolio, fetched)
        except Exception:
            WARMUP_RUNS.labels(outcome="error").inc()
            log.exception("warm-up failed")
            raise
        seconds = time.perf_counter() - started
        result = WarmupResult(
            at=self._now().isoformat(), pid=os.getpid(), tickers=len(needs), due=len(report.due),
            fetched=len(fetched), failed=len(failed), requests=int(_upstream_requests() - requests_before),
            seconds=round(seconds, 3), charts=charts,
        )
        WARMUP_RUNS.labels(outcome="ok").inc()
        WARMUP_SECONDS.observe(seconds)
        self.cache.incr("scheduler:warmup_runs")
        self.cache.set("scheduler:last_warmup", asdict(result))
        log.info("warmup %s", json.dumps(asdict(result), sort_keys=True))
        return result

    def _regenerate_charts(self, per_portfolio: dict[int, dict[str, Need]], fetched: set[str]) -> int:
        """Charts whose prices changed, or that are missing or outdated (a ledger change nobody has viewed).

        "Changed" is any quote newer than the chart, as chart_data judges it: not only what this run fetched
        but what another worker fetched meanwhile (a "shared" outcome), which would otherwise be left behind.
        """
        if self.charts is None:
            return 0
        generated = 0
        for portfolio_id, needs in per_portfolio.items():
            entry = self.charts.store.get(portfolio_id)
            outdated = (entry is None or entry.ledger_version != self.ledger.version(portfolio_id)
                        or bool(fetched.intersection(needs)) or self._prices_newer(needs, entry.generated_at))
            if outdated:
                # Another worker may be generating it (a ledger change there): wait for that rather than leave a
                # chart missing after the warm-up, when chart requests should find it ready.
                generated += self.charts.generate(portfolio_id, wait_s=CHART_WAIT_S) is not None
        return generated

    def _prices_newer(self, tickers: Iterable[str], generated_at: dt.datetime) -> bool:
        quotes = (self.cache.get_quote(ticker) for ticker in tickers)
        return any(quote.fetched_at > generated_at for quote in quotes if quote is not None)


class WarmupScheduler:
    """An APScheduler job in every worker; only the leader's tick does the warm-up."""

    def __init__(self, updater: BackgroundPriceUpdater, lock: LeaderLock, cache: PriceCache, interval_s: float):
        self.updater, self.lock, self.cache, self.interval_s = updater, lock, cache, interval_s
        self._scheduler: BackgroundScheduler | None = None

    def start(self) -> None:
        self._scheduler = BackgroundScheduler(timezone=dt.UTC)
        self._scheduler.add_job(
            self.tick, "interval", seconds=self.interval_s, id="warmup",
            next_run_time=dt.datetime.now(dt.UTC),  # the first warm-up right away, not one interval later
            coalesce=True,  # after a stall run once, not once per missed interval
            max_instances=1,  # a slow warm-up never overlaps the next
            misfire_grace_time=max(1, int(self.interval_s)),  # late by less than an interval: still run (default 1 s)
        )
        self._scheduler.start()

    def tick(self) -> WarmupResult | None:
        """One scheduled tick: lead if we can, and warm up if we lead."""
        if not self.lock.try_acquire():
            return None
        self.cache.set("scheduler:leader_pid", os.getpid())
        try:
            return self.updater.run_once()
        except Exception:  # logged by run_once; the scheduler must keep ticking
            return None

    def shutdown(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self.lock.release()


def start_warmup(services) -> WarmupScheduler:
    """Start this process's scheduler for the app (every worker calls this; one leads)."""
    updater = BackgroundPriceUpdater(services.ledger, services.prices, services.cache, services.charts)
    lock = FileLeaderLock(services.settings.data_dir / "scheduler.lock")
    scheduler = WarmupScheduler(updater, lock, services.cache, services.settings.warmup_interval_s)
    scheduler.start()
    return scheduler


def main() -> int:
    """Run one warm-up and exit: for Heroku Scheduler or cron."""
    from services.config import Settings
    from services.container import build_services

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    services = build_services(Settings.from_env())
    updater = BackgroundPriceUpdater(services.ledger, services.prices, services.cache, services.charts)
    result = updater.run_once()
    print(json.dumps(asdict(result), sort_keys=True))
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
