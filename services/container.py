"""Wires the services together from one Settings object (one instance per process)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from services.chart_generator import BackgroundChartGenerator, ChartStore
from services.config import Settings
from services.dashboard_data import DashboardData
from services.fx import FxRates
from services.fx_legs import LegMemoFxRates
from services.ledger import Ledger
from services.locks import exclusive_file_lock
from services.market_hours import DEFAULT_EXCHANGE, MarketClock
from services.portfolio_load import PortfolioLoader
from services.price_cache import PriceCache
from services.price_service import PriceService
from services.providers.base import PriceProvider
from services.store import SCHEDULER, WARMUP_RUNS_COUNTER, SharedStore
from services.store_reads import ReadOnceStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    settings: Settings
    ledger: Ledger
    clock: MarketClock
    cache: PriceCache
    provider: PriceProvider
    prices: PriceService
    charts: BackgroundChartGenerator
    dashboard: DashboardData
    fx: FxRates  # exchange rates from the price cache (services/fx.py): the loader's, the pages' and the charts'

    def for_owner(self, owner_id: str) -> Services:
        """The services as one owner sees them: the ledger and the payload builders scoped to their portfolios."""
        ledger = self.ledger.for_owner(owner_id)
        return replace(self, ledger=ledger, dashboard=self.dashboard.for_ledger(ledger))

    def close(self) -> None:
        """Stop the background threads and release connections (tests, shutdown)."""
        self.charts.shutdown()
        self.prices.shutdown()
        self.ledger.dispose()


def make_provider(settings: Settings, clock: MarketClock) -> PriceProvider:
    """The price provider the settings name."""
    history_start = dt.date.fromisoformat(settings.history_start)
    if settings.price_provider == "demo":
        from services.providers.demo import DemoProvider

        return DemoProvider(clock, latency_ms=settings.demo_latency_ms, failure_rate=settings.demo_failure_rate,
                            fail_symbols=settings.demo_fail_symbols, history_start=history_start,
                            failure_kind=settings.demo_failure_kind, failure_for_s=settings.demo_failure_for_s)
    from services.providers.yahoo import YahooProvider

    return YahooProvider(settings.cache_dir, timeout_s=settings.fetch_timeout_s)


def shared_store(settings: Settings) -> Path | SharedStore:
    """The deployment's shared store: Redis when REDIS_URL is set (several machines), else the diskcache in
    CACHE_DIR (a directory: `PriceCache` opens it, and rebuilds it if it is deleted)."""
    if not settings.redis_url:
        return settings.cache_dir
    from services.store_redis import RedisStore

    store = RedisStore(settings.redis_url, namespace=settings.redis_key_prefix)
    if not store.writable():  # the app still starts (pages answer from misses); /healthz says what is wrong
        log.warning("the shared store at REDIS_URL cannot be written to yet")
    # A payload reads each price record from Redis once (services/store_reads.py); elsewhere it is the store itself.
    return ReadOnceStore(store)


def build_services(settings: Settings, *, clock: MarketClock | None = None,
                   provider: PriceProvider | None = None) -> Services:
    """Every service for one process; `clock` and `provider` can be swapped in by tests."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    clock = clock or MarketClock(quote_ttl=dt.timedelta(seconds=settings.quote_ttl_s),
                                 settle=dt.timedelta(seconds=settings.close_settle_s))
    clock.calendar(DEFAULT_EXCHANGE)  # built once here (about 0.2 s), not on the first page load
    ledger = Ledger(settings.database_url, max_portfolios=settings.max_portfolios_per_owner,
                    max_transactions=settings.max_transactions_per_portfolio)
    with deployment_init_lock(settings, ledger):
        # gunicorn workers boot together; SQLite refuses concurrent CREATE TABLEs ("database is locked"), and two
        # machines creating Postgres's tables at once collide ("duplicate key ... pg_type_typname_nsp_index").
        ledger.create_all()
    cache = PriceCache(shared_store(settings))
    provider = provider or make_provider(settings, clock)
    prices = PriceService(provider, cache, clock, settings)
    fx = LegMemoFxRates(prices)  # a pair's closes decoded once per write of its bars, not per page
    loader = PortfolioLoader(ledger, fx)  # one replayed-ledger memo per process, shared by the pages and the charts
    charts = BackgroundChartGenerator(ledger, prices, clock, ChartStore(cache),
                                      refresh_wait_s=settings.chart_refresh_wait_s, loader=loader, fx=fx)
    dashboard = DashboardData(ledger, prices, clock, settings, charts, loader=loader, fx=fx)
    services = Services(settings, ledger, clock, cache, provider, prices, charts, dashboard, fx)
    ledger.add_listener(lambda portfolio_id: on_ledger_change(services, portfolio_id))
    if settings.demo_mode and settings.seed_sample:
        seed_sample_portfolio(services)
    return services


def on_ledger_change(services: Services, portfolio_id: int) -> None:
    """Drop that portfolio's derived caches (and nothing else), then regenerate its chart in the background: on a
    Celery worker with REDIS_URL (this process's own thread if the broker cannot take it), else on this process's
    chart thread. A page asking for the chart meanwhile still generates it itself if nobody holds its lock."""
    services.charts.store.invalidate(portfolio_id)
    if services.settings.redis_url:
        from services.celery_app import send_chart_generation

        if send_chart_generation(services.settings, portfolio_id):
            return
    services.charts.request(portfolio_id)


# Postgres advisory lock key of the start-up steps (any constant the app uses for nothing else).
_INIT_ADVISORY_LOCK = 0x5370_7472


@contextmanager
def deployment_init_lock(settings: Settings, ledger: Ledger) -> Iterator[None]:
    """Held around start-up steps every process runs on one database (creating tables, seeding the sample): this
    machine's processes queue on a file in DATA_DIR, and on Postgres every machine's on an advisory lock too (their
    DATA_DIRs differ, the database is the same)."""
    with exclusive_file_lock(settings.data_dir / "init.lock"):
        if ledger.engine.dialect.name != "postgresql":
            yield
            return
        with ledger.engine.connect() as connection:
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({_INIT_ADVISORY_LOCK})")
            try:
                yield
            finally:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({_INIT_ADVISORY_LOCK})")


def seed_sample_portfolio(services: Services) -> None:
    """Give an empty demo database the sample portfolios, in dollars and in euros (once, whichever worker gets
    there first)."""
    from services.sample_data import SAMPLE_EUR_BASE, SAMPLE_EUR_NAME, SAMPLE_NAME, sample_csv, sample_eur_csv

    with deployment_init_lock(services.settings, services.ledger):
        if services.ledger.list_portfolios():
            return
        today = services.clock.now().date()
        portfolio = services.ledger.create_portfolio(SAMPLE_NAME)
        count = services.ledger.import_csv(portfolio.id, sample_csv(services.clock, today))
        euros = services.ledger.create_portfolio(SAMPLE_EUR_NAME, SAMPLE_EUR_BASE)
        count += services.ledger.import_csv(euros.id, sample_eur_csv(services.clock, today))
        log.info("seeded the sample portfolios with %d transactions", count)


def scheduler_status(cache: PriceCache) -> dict:
    """The warm-up scheduler as the whole deployment sees it (kept in the shared cache). With REDIS_URL the leader
    is the Celery beat holding RedBeat's lock (its pid, gone when no beat has ticked for the lock's timeout), and
    warm-ups are counted by the worker's task, wherever it ran."""
    return {
        "leader_pid": cache.get(SCHEDULER.key("leader_pid")),
        "warmup_runs": cache.get(WARMUP_RUNS_COUNTER, 0),
        "last_warmup": cache.get(SCHEDULER.key("last_warmup")),
    }
