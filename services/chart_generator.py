"""Chart series off the request path: generated in the background, kept in the shared cache.

A portfolio's value and cost-basis series for every range are computed once its prices are known, after a
warm-up that changed prices, and after a ledger change; chart requests then read them at once. While a
generation runs its progress (state, fraction, message) is in the cache for /api/chart-generator-progress.

Series are in the portfolio's base currency (issue 14): each day's close at that day's rate of its quote currency
(`FxRates.series` on the closes' dates, from earlier days only), a day without a rate a gap, never a rate of 1.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd

from services import analytics
from services.forksafe import reset_in_child
from services.fx import FxRates
from services.ledger import Ledger
from services.locks import chart_lock
from services.market_hours import MarketClock
from services.memory import release_free_memory
from services.metrics import CHART_GENERATIONS, CHART_SECONDS
from services.models import NotFoundError
from services.portfolio_fx import Conversion, today_view
from services.portfolio_load import LoadedPortfolio, PortfolioLoader
from services.price_cache import PriceCache
from services.price_planning import Need
from services.price_service import PriceService
from services.returns_chart import RangePerformance, max_range, range_performance, unknown_performance
from services.store import CHARTS, PORTFOLIO_DERIVED, PROGRESS

log = logging.getLogger(__name__)
# Generations started over because the ledger changed under them, before giving up until the next request.
MAX_ATTEMPTS = 3
# A generation lock left by a killed worker expires by itself after this long.
LOCK_TTL_S = 600
# How long a generation waits on a refresh of history that is cached already: PRICE_WAIT_S's default (the
# container hands in the setting).
REFRESH_WAIT_S = 3.0


@dataclass(frozen=True)
class ChartEntry:
    """The chart of one portfolio at one ledger version, for every range."""

    ledger_version: int
    generated_at: dt.datetime
    ranges: dict[str, dict]  # range -> {"dates", "market_value", "cost_basis", "currency", "twr", "benchmark"}
    allocation: list[dict]
    # range -> the payload's "returns" (issue 16); None in an entry stored before it, which is then made again.
    returns: dict[str, dict] | None = None


def series_json(frame: pd.DataFrame, currency: str | None = None,
                performance: RangePerformance | None = None) -> dict:
    """A value series as JSON lists (ISO dates, money rounded to cents, unknown values as null), in `currency`,
    with the range's TWR and benchmark lines (fractions; empty without `performance`)."""
    tag = {"currency": currency} if currency else {}
    lines = {"twr": performance.twr if performance else [], "benchmark": performance.benchmark if performance else []}
    if frame.empty:
        return {"dates": [], "market_value": [], "cost_basis": [], **tag, **lines}
    values = frame.round(2).astype(object).where(frame.notna(), None)
    return {
        "dates": [d.date().isoformat() for d in frame.index],
        "market_value": values["market_value"].tolist(),
        "cost_basis": values["cost_basis"].tolist(),
        **tag,
        **lines,
    }


def rates_frame(fx: FxRates, conversion: Conversion, closes: pd.DataFrame) -> pd.DataFrame:
    """Quote -> base per day on the closes' dates, dates x tickers (what value_series takes as `rates`)."""
    columns = {ticker: fx.series(conversion.currencies.get(ticker, conversion.base), conversion.base,
                                 closes.index).to_numpy() for ticker in closes.columns}
    return pd.DataFrame(columns, index=closes.index, columns=list(closes.columns), dtype="float64")


def base_series(fx: FxRates, loaded: LoadedPortfolio, closes: pd.DataFrame, start, end) -> pd.DataFrame:
    """The value series of a loaded portfolio in its base currency (as before when nothing needs converting)."""
    conversion = loaded.fx
    if conversion is None or conversion.ledger is None:
        return analytics.value_series(loaded.transactions, closes, start=start, end=end)
    return analytics.value_series(conversion.ledger.in_base, closes, start=start, end=end,
                                  rates=rates_frame(fx, conversion, closes), missing=conversion.missing)


class ChartStore:
    """Chart entries and generation progress in the shared store (its `charts` and `progress` key spaces)."""

    def __init__(self, cache: PriceCache):
        self.cache = cache

    def get(self, portfolio_id: int) -> ChartEntry | None:
        return self.cache.get(CHARTS.key(portfolio_id))

    def put(self, portfolio_id: int, entry: ChartEntry) -> None:
        self.cache.set(CHARTS.key(portfolio_id), entry)

    def progress(self, portfolio_id: int) -> dict | None:
        return self.cache.get(PROGRESS.key(portfolio_id))

    def set_progress(self, portfolio_id: int, state: str, progress: float, message: str) -> None:
        self.cache.set(PROGRESS.key(portfolio_id),
                       {"state": state, "progress": round(progress, 4), "message": message}, expire=86400)

    def invalidate(self, portfolio_id: int) -> int:
        """Drop every derived cache of one portfolio, and nothing else."""
        return self.cache.delete_prefix(PORTFOLIO_DERIVED.key(portfolio_id))


class BackgroundChartGenerator:
    """Computes chart entries on a small thread pool; one generation per portfolio across all workers."""

    def __init__(self, ledger: Ledger, prices: PriceService, clock: MarketClock, store: ChartStore,
                 workers: int = 1, now: Callable[[], dt.datetime] | None = None,
                 refresh_wait_s: float = REFRESH_WAIT_S, loader: PortfolioLoader | None = None,
                 fx: FxRates | None = None):
        self.ledger, self.prices, self.clock, self.store = ledger, prices, clock, store
        self.fx = fx or (loader.fx if loader is not None and loader.fx is not None else FxRates(prices))
        # the one load + replay + price needs (portfolio_load.py)
        self.loader = loader or PortfolioLoader(ledger, self.fx)
        self.refresh_wait_s = refresh_wait_s
        self._now = now or clock.now
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="chart-gen")
        self._running: dict[int, Future[ChartEntry | None]] = {}
        self._lock = threading.Lock()
        self._workers = workers
        reset_in_child(self._reset_after_fork)

    def _reset_after_fork(self) -> None:
        """A forked child has none of the parent's generator threads: fresh pool, lock and bookkeeping."""
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="chart-gen")
        self._running = {}
        self._lock = threading.Lock()

    def request(self, portfolio_id: int) -> Future[ChartEntry | None]:
        """Start generating in the background unless this process already is; returns its future."""
        with self._lock:
            future = self._running.get(portfolio_id)
            if future is None or future.done():
                future = self._executor.submit(self._generate_guarded, portfolio_id)
                self._running[portfolio_id] = future
            return future

    def generate(self, portfolio_id: int, wait_s: float = 0.0) -> ChartEntry | None:
        """Compute and store the chart now (the caller's thread).

        If another worker is at it, wait up to `wait_s` for it to finish: its chart is taken if it was computed
        after this call began, at the current ledger version; else it is computed here. None if the other worker
        still holds it after `wait_s` (its result lands in the shared cache).
        """
        return self._generate_guarded(portfolio_id, wait_s)

    def _generate_guarded(self, portfolio_id: int, wait_s: float = 0.0) -> ChartEntry | None:
        asked_at = self._now()
        cache, lock = self.store.cache, chart_lock(portfolio_id)
        token = cache.try_lock(lock, LOCK_TTL_S)
        if token is None:
            if wait_s <= 0:  # another worker generates it; its result lands in the shared cache
                return None
            with cache.locked(lock, LOCK_TTL_S, wait_s) as mine:
                return self._generate_counted(portfolio_id, done_since=asked_at) if mine else None
        try:
            return self._generate_counted(portfolio_id)
        finally:
            cache.unlock(lock, token)
            release_free_memory()  # the series' temporaries of a large portfolio are ~100 MB

    def _generate_counted(self, portfolio_id: int, done_since: dt.datetime | None = None) -> ChartEntry | None:
        """Generate under the lock, counted in the metrics; after waiting on another worker, take its fresh chart."""
        started = time.perf_counter()
        try:
            if done_since is not None:
                entry = self.store.get(portfolio_id)
                # Stamped before it read its prices, so a chart stamped after we were asked has every price we had.
                if (entry is not None and entry.generated_at >= done_since
                        and entry.ledger_version == self.ledger.version(portfolio_id)):
                    return entry
            entry = self._generate(portfolio_id)
        except NotFoundError:
            return None
        except Exception as error:
            CHART_GENERATIONS.labels(outcome="error").inc()
            log.exception("chart generation failed for portfolio %s", portfolio_id)
            self.store.set_progress(portfolio_id, "error", 0.0, f"chart generation failed: {error}")
            return None
        if entry is not None:
            CHART_GENERATIONS.labels(outcome="ok").inc()
            CHART_SECONDS.observe(time.perf_counter() - started)
        return entry

    def _generate(self, portfolio_id: int) -> ChartEntry | None:
        """Compute the chart at the ledger's current version and store it, starting over if the ledger changes.

        While this runs it holds the generation lock, so the regeneration that a ledger change asks for meanwhile
        (here or in another worker) is turned away: it is this generation's job to catch up with that change.
        """
        for _attempt in range(MAX_ATTEMPTS):
            version = self.ledger.version(portfolio_id)
            entry, tickers = self._compute(portfolio_id, version)
            # A ledger change while we computed makes this entry outdated: store it only if it still matches.
            if self.ledger.version(portfolio_id) == version:
                self.store.put(portfolio_id, entry)
                self.store.set_progress(portfolio_id, "done", 1.0, f"chart of {tickers} tickers ready")
                return entry
        self.store.set_progress(portfolio_id, "idle", 0.0, "the ledger kept changing; the chart will be regenerated")
        return None

    def _compute(self, portfolio_id: int, version: int) -> tuple[ChartEntry, int]:
        """The chart of the ledger as it is now (labelled `version`), and how many tickers it covers."""
        loaded = self.loader.load(portfolio_id)
        needs = dict(loaded.needs)  # the stocks': the chart's date grid (the pairs are fetched, not drawn)
        self.store.set_progress(portfolio_id, "running", 0.0, f"fetching the history of {len(needs)} tickers")
        self._fetch_with_progress(portfolio_id, loaded.fetch_needs)
        self.store.set_progress(portfolio_id, "running", 0.9, "computing the series")
        # Stamped before the prices are read: a quote landing while we compute is then newer than the chart, so
        # chart_data and the warm-up regenerate it (stamped after, that price would be missed until the next).
        generated_at = self._now()
        today = generated_at.date()
        # Loaded again: quote currencies and rates that were not cached before the fetch are now (the loader
        # recomputes the conversion only then).
        loaded = self.loader.load(portfolio_id)
        base, benchmark = loaded.base, loaded.portfolio.benchmark
        ranges: dict[str, dict] = {name: series_json(pd.DataFrame(), base) for name in analytics.RANGES}
        returns = {name: unknown_performance(0, benchmark).returns for name in analytics.RANGES}
        if loaded.transactions:
            first = min(t.date for t in loaded.transactions)
            full = base_series(self.fx, loaded, self.prices.closes(needs), first, today)
            performance = self._performance(loaded, full, benchmark)
            for name in analytics.RANGES:
                start = max(analytics.range_start(name, today, first), first)
                part = full.loc[full.index >= pd.Timestamp(start)]
                measured = performance(part)
                ranges[name] = series_json(part, base, measured)
                returns[name] = measured.returns
        infos = self.prices.prices(loaded.open_tickers)
        view = today_view(self.fx, loaded.fx, loaded.open_tickers, base, loaded.positions)
        allocation = analytics.allocation(analytics.holdings_rows(loaded.positions, infos, fx=view))
        return ChartEntry(version, generated_at, ranges, allocation, returns), len(needs)

    def _performance(self, loaded: LoadedPortfolio, full: pd.DataFrame,
                     benchmark: str) -> Callable[[pd.DataFrame], RangePerformance]:
        """The range's TWR, benchmark and returns (services/returns_chart.py), from arrays made once for the MAX
        range in the base currency; each range is a tail of it. A failure there leaves the lines and figures
        null, not the chart undrawn."""
        stored = self.prices.closes([benchmark])
        closes = stored[benchmark] if benchmark in stored.columns else None
        try:
            arrays = max_range(full["market_value"], loaded.base_transactions, closes)
        except ValueError:
            log.exception("returns of portfolio %s", loaded.portfolio.id)
            return lambda part: unknown_performance(len(part), benchmark)
        return lambda part: range_performance(arrays, len(full) - len(part), benchmark)

    def _fetch_with_progress(self, portfolio_id: int, needs: Mapping[str, Need]) -> None:
        """Fetch the missing history, reporting the share of tickers whose bars are cached."""
        report = self.prices.fetch_prices_parallel(needs, wait_s=0)
        # A refresh of history that is cached already is waited for only as long as a request would wait: a source
        # that hangs or keeps failing must not leave blank a chart the cache can draw (it is drawn again when the
        # refresh lands, as its quotes are then newer than the chart). History that is not cached at all is waited
        # for: without it there is nothing to draw.
        patience = time.monotonic() + self.refresh_wait_s
        while report.due:
            waiting = [t for t in report.due if not self.prices.has_history(t)]
            still_running = self.prices.in_flight(report.due)
            done = 1.0 - len(waiting) / max(1, len(needs))
            self.store.set_progress(portfolio_id, "running", 0.9 * done,
                                    f"history of {len(needs) - len(waiting)} of {len(needs)} tickers ready")
            if not still_running or (not waiting and time.monotonic() >= patience):
                break
            time.sleep(0.2)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
