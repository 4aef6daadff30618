"""Background warm-up on APScheduler, one leader per deployment however many gunicorn workers run.

APScheduler's FAQ: one job store cannot be shared by several processes, and without `--preload` every worker
would run its own scheduler (jobs N times). So every worker runs a scheduler, but only the worker holding an
exclusive lock in DATA_DIR (`services.locks.FileLeaderLock`) does the work; the kernel drops the lock when that
process dies, and another worker takes it at its next tick, within one interval. The lock is behind `LeaderLock`,
so a Redis lock can replace the file when workers span machines. With REDIS_URL no web process runs this
scheduler: one Celery beat per deployment sends the warm-up to a worker (`services.celery_tasks.warmup`).

Run one warm-up and exit (Heroku Scheduler, cron): `python -m services.background_tasks`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler

from services.chart_generator import BackgroundChartGenerator
from services.ledger import Ledger
from services.locks import FileLeaderLock
from services.metrics import UPSTREAM_REQUESTS, WARMUP_RUNS, WARMUP_SECONDS
from services.models import NotFoundError
from services.portfolio_load import PortfolioLoader
from services.price_cache import PriceCache
from services.price_planning import Need, merge_needs
from services.price_service import PriceService
from services.store import SCHEDULER, WARMUP_RUNS_COUNTER

log = logging.getLogger(__name__)
# How long a warm-up waits on another worker's generation of the same chart before leaving it to that worker.
CHART_WAIT_S = 30.0


class LeaderLock(Protocol):
    def try_acquire(self) -> bool:
        """Become (or stay) the leader; False while another process leads."""
        ...

    def release(self) -> None: ...


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


def _upstream_requests() -> float:
    """Requests upstream made by this process so far (every provider and outcome)."""
    return sum(s.value for metric in UPSTREAM_REQUESTS.collect() for s in metric.samples
               if s.name.endswith("_total"))


class BackgroundPriceUpdater:
    """Refreshes every ticker of every portfolio that is not fresh, then regenerates the affected charts."""

    def __init__(self, ledger: Ledger, prices: PriceService, cache: PriceCache,
                 charts: BackgroundChartGenerator | None = None, now: Callable[[], dt.datetime] | None = None,
                 loader: PortfolioLoader | None = None):
        self.ledger, self.prices, self.cache, self.charts = ledger, prices, cache, charts
        self.loader = loader or (charts.loader if charts is not None else PortfolioLoader(ledger))
        self._now = now or prices.clock.now

    def portfolio_needs(self) -> dict[int, dict[str, Need]]:
        """What every portfolio's prices need, its stocks' and the exchange-rate pairs of its base currency (a
        portfolio deleted meanwhile is skipped): one batched fetch for both, and a chart that is regenerated when
        a pair's quote moves as when a stock's does."""
        needs: dict[int, dict[str, Need]] = {}
        for portfolio_id in self.ledger.portfolio_ids():
            try:
                needs[portfolio_id] = self.loader.load(portfolio_id).fetch_needs
            except NotFoundError:
                continue
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
        self.cache.incr(WARMUP_RUNS_COUNTER)
        self.cache.set(SCHEDULER.key("last_warmup"), asdict(result))
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
                        or bool(fetched.intersection(needs))
                        or self.prices.quotes_newer_than(needs, entry.generated_at))
            if outdated:
                # Another worker may be generating it (a ledger change there): wait for that rather than leave a
                # chart missing after the warm-up, when chart requests should find it ready.
                generated += self.charts.generate(portfolio_id, wait_s=CHART_WAIT_S) is not None
        return generated


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
        self.cache.set(SCHEDULER.key("leader_pid"), os.getpid())
        try:
            return self.updater.run_once()
        except Exception:  # logged by run_once; the scheduler must keep ticking
            return None

    def shutdown(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self.lock.release()


def warmup_updater(services) -> BackgroundPriceUpdater:
    """The warm-up of a process's services: the APScheduler job's, the one-shot command's and the Celery task's."""
    return BackgroundPriceUpdater(services.ledger, services.prices, services.cache, services.charts)


def start_warmup(services) -> WarmupScheduler:
    """Start this process's scheduler for the app (every worker calls this; one leads). Embedded mode only: with
    REDIS_URL the deployment's one Celery beat schedules the warm-up (services/celery_app.py)."""
    updater = warmup_updater(services)
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
    result = warmup_updater(services).run_once()
    print(json.dumps(asdict(result), sort_keys=True))
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
