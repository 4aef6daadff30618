"""One builder per dashboard payload, shared by the Dash pages and the JSON API so the two never disagree.

Each builder returns a typed payload of services/payloads.py (the pages read its fields, the API answers its
`to_json()`, in the shapes of the README's "JSON API"); the `*_data` methods are those JSON answers. Initial data
reads the cache only; holdings data waits on quotes that are not fresh at most `holdings_wait_s`; chart data
answers 202 with progress while history is missing, after waiting at most `chart_request_wait_s`
(both set by PRICE_WAIT_S).

Money is in the portfolio's base currency (issue 14): the page fetches its open holdings' needs and the
exchange-rate pairs they need in the same batches, values each holding at its pair's cached rate now and at the
previous close (`HoldingRate`), and counts a holding without a rate as `missing`, never valued at 1.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import suppress

from services import analytics
from services.base_currency import FxView, worse_status
from services.bounded import Bounded
from services.chart_generator import BackgroundChartGenerator, ChartEntry
from services.config import Settings
from services.fx import FxRates
from services.ledger import Ledger
from services.market_hours import DEFAULT_EXCHANGE, MarketClock, exchange_for
from services.models import Portfolio, PriceInfo
from services.payloads import (
    PRICE_STATUSES,
    AllocationSlice,
    ChartPending,
    ChartReady,
    HoldingsData,
    InitialData,
    Market,
    PortfolioInfo,
    PriceBlock,
    Progress,
    RangeReturns,
    Series,
)
from services.portfolio_fx import today_view
from services.portfolio_load import LoadedPortfolio, PortfolioLoader, read_portfolio
from services.price_planning import Need
from services.price_service import PriceService
from services.store import BARS_FROM, BARS_STAMP, CIRCUIT, FAILURES, QUOTES
from services.store_reads import forget_reads, prime, read_once
from services.value_series import RANGES

PAGE_STATUSES = PRICE_STATUSES  # the statuses a page counts (the page itself may also be `partial`)
# Positions sold out this many days back have their quote read too: one sold out on its quote's trading day (a
# Monday sale against Friday's quote, after a holiday) adds its day change to the summary's.
CLOSED_LATELY_DAYS = 5
# The ready charts' JSON kept per process, in points (a day of a range): ~200 bytes each as Python objects (an ISO
# date and four numbers), so ~10 MB; a 1Y range is ~252 points, a 20-year MAX range ~5,000.
CHART_JSON_POINTS = 50_000


def _current(entry: ChartEntry | None, version: int) -> bool:
    """A chart entry of this ledger version with every part of today's payload (one stored before the returns
    existed is made again)."""
    return entry is not None and entry.ledger_version == version and entry.returns is not None


def price_block(infos: Mapping[str, PriceInfo], simulated: bool = False, fetching: Sequence[str] = ()) -> PriceBlock:
    """The page-level price status: one word if every price agrees, `partial` if they differ."""
    statuses = Counter(info.status for info in infos.values())
    if not statuses:
        status = "fresh"
    elif len(statuses) == 1:
        status = next(iter(statuses))
    else:
        status = "partial"
    priced = [info.as_of for info in infos.values() if info.as_of is not None]
    return PriceBlock(
        status=status,
        as_of=min(priced) if priced else None,  # the oldest price on the page: the honest "how fresh is this?"
        missing=tuple(sorted(t for t, info in infos.items() if info.status == "missing")),
        stale=tuple(sorted(t for t, info in infos.items() if info.status == "stale")),
        counts={s: statuses.get(s, 0) for s in PAGE_STATUSES},
        simulated=simulated,
        fetching=tuple(sorted(fetching)),
    )


def _points(chart_json: dict) -> int:
    return len(chart_json["series"]["dates"])


def _chart_ready(entry: ChartEntry, range_name: str) -> ChartReady:
    # The chart store keeps the JSON it was generated as (pickled in the shared cache).
    return ChartReady(range_name, Series.from_json(entry.ranges[range_name]),
                      tuple(map(AllocationSlice.from_json, entry.allocation)),
                      returns=RangeReturns.from_json(entry.returns[range_name]))


class DashboardData:
    """The payload builders. Hand everything in, so tests can swap any part."""

    def __init__(self, ledger: Ledger, prices: PriceService, clock: MarketClock, settings: Settings,
                 charts: BackgroundChartGenerator, loader: PortfolioLoader | None = None,
                 fx: FxRates | None = None, chart_json: Bounded | None = None):
        self.ledger, self.prices, self.clock, self.settings = ledger, prices, clock, settings
        self.charts = charts
        self.fx = fx or (loader.fx if loader is not None and loader.fx is not None else FxRates(prices))
        self.loader = loader or PortfolioLoader(ledger, self.fx)
        self._chart_json = chart_json if chart_json is not None else Bounded(CHART_JSON_POINTS, _points)

    def for_ledger(self, ledger: Ledger) -> DashboardData:
        """These builders on an owner's view of the ledger (`Ledger.for_owner`): every lookup then goes through it,
        while the price service, the chart generator, the replay memo and the charts' JSON stay shared."""
        return DashboardData(ledger, self.prices, self.clock, self.settings, self.charts, loader=self.loader,
                             fx=self.fx, chart_json=self._chart_json)

    def load(self, portfolio_id: int) -> LoadedPortfolio:
        """The portfolio, its transactions, positions, price needs and open tickers (memoized per version)."""
        return self.loader.load(portfolio_id, self.ledger)

    def _market(self, tickers: Sequence[str]) -> Market:
        exchanges = Counter(exchange_for(t) for t in tickers)
        exchange = exchanges.most_common(1)[0][0] if exchanges else DEFAULT_EXCHANGE
        try:
            state = self.clock.state(exchange)
        except ValueError:  # a calendar that ends before today (exchange_calendars has a few): say so, not 500
            return Market(exchange, None, None, None)
        return Market(state.exchange, state.is_open, state.next_open, state.last_close, state.next_close)

    @property
    def _simulated(self) -> bool:
        return self.prices.simulated

    def initial(self, portfolio_id: int) -> InitialData:
        """Summary cards and the price badge, from the cache alone; missing prices are fetched in the background.
        Each price record is read from the shared store once (`read_once`)."""
        with read_once():
            return self._initial(portfolio_id)

    def _initial(self, portfolio_id: int) -> InitialData:
        loaded = self.load(portfolio_id)
        closed = self._closed_lately(loaded)
        needs = self._page_needs(loaded, closed)
        self._prime(needs)
        self.prices.fetch_prices_parallel(needs, wait_s=0)
        infos = self.prices.prices([*loaded.open_tickers, *closed])
        view = self.fx_view(loaded, closed)
        return InitialData(
            portfolio=PortfolioInfo.of(loaded.portfolio),
            summary=analytics.summary(loaded.positions, infos, loaded.base, fx=view,
                                      transactions=loaded.base_transactions, now=self.clock.now()),
            prices=self._price_block(self._open(infos, loaded), view, loaded),
            market=self._market(loaded.open_tickers),
        )

    def initial_data(self, portfolio_id: int) -> dict:
        """`initial` as the API answers it."""
        return self.initial(portfolio_id).to_json()

    def holdings(self, portfolio_id: int, wait_s: float | None = None) -> HoldingsData:
        """The holdings table; waits at most `wait_s` (default `holdings_wait_s`) for quotes that are not fresh.
        Each price record is read from the shared store once (`read_once`), and again after a wait for fetches."""
        with read_once():
            return self._holdings(portfolio_id, wait_s)

    def _holdings(self, portfolio_id: int, wait_s: float | None) -> HoldingsData:
        loaded = self.load(portfolio_id)
        wait = self.settings.holdings_wait_s if wait_s is None else wait_s
        needs = self._page_needs(loaded, self._closed_lately(loaded))
        self._prime(needs)
        report = self.prices.fetch_prices_parallel(needs, wait_s=wait)
        if report.due:  # something was fetched meanwhile: read the records again, and convert again if the fetch
            forget_reads()  # brought a rate or a currency the conversion lacked (the same ledger version)
            loaded = self.loader.load(portfolio_id, self.ledger, known=(loaded.portfolio, loaded.version))
        closed = self._closed_lately(loaded)
        infos = self.prices.prices([*loaded.open_tickers, *closed])
        view = self.fx_view(loaded, closed)
        kw = {"fx": view, "transactions": loaded.base_transactions, "now": self.clock.now()}
        return HoldingsData(tuple(analytics.holdings_rows(loaded.positions, infos, **kw)),
                            self._price_block(self._open(infos, loaded), view, loaded),
                            tuple(analytics.closed_rows(loaded.positions, infos, **kw)))

    def holdings_data(self, portfolio_id: int, wait_s: float | None = None) -> dict:
        """`holdings` as the API answers it."""
        return self.holdings(portfolio_id, wait_s).to_json()

    def fx_view(self, loaded: LoadedPortfolio, closed: Sequence[str] = ()) -> FxView:
        """Today's rate of every open holding's (and the `closed` ones') quote currency into the base, from the
        cached pairs."""
        return today_view(self.fx, loaded.fx, [*loaded.open_tickers, *closed], loaded.base, loaded.positions)

    def _closed_lately(self, loaded: LoadedPortfolio) -> tuple[str, ...]:
        return loaded.closed_since(self.clock.now().date() - dt.timedelta(days=CLOSED_LATELY_DAYS))

    def _prime(self, needs: Mapping[str, Need]) -> None:
        """Read every price record the page is about to read in one store call: the circuit's state, and each
        ticker's and pair's failure, bars stamp, bars start and quote (the fetch planner's reads; the page's quotes
        and the rates' stamps are among them)."""
        records = (FAILURES, BARS_STAMP, BARS_FROM, QUOTES)
        prime(self.prices.cache.store, [CIRCUIT.key(self.prices.provider.name),
                                        *(space.key(t) for t in needs for space in records)])

    @staticmethod
    def _page_needs(loaded: LoadedPortfolio, closed: Sequence[str]) -> dict[str, Need]:
        """What the page fetches: the open holdings' and pairs' needs, and a quote of the lately closed ones."""
        return {**loaded.open_fetch_needs, **{t: Need(loaded.needs[t].start) for t in closed}}

    @staticmethod
    def _open(infos: Mapping[str, PriceInfo], loaded: LoadedPortfolio) -> dict[str, PriceInfo]:
        """The open holdings' quotes: the page's price status is theirs (a sold-out ticker is not on the page)."""
        return {t: infos[t] for t in loaded.open_tickers}

    def _price_block(self, infos: Mapping[str, PriceInfo], view: FxView | None = None,
                     loaded: LoadedPortfolio | None = None) -> PriceBlock:
        if view is not None:  # a holding is as fresh as the older of its price and its rate; no rate: missing
            infos = {t: self._with_rate(t, info, view) for t, info in infos.items()}
        unsettled = [t for t, info in infos.items() if info.status in ("missing", "stale")]
        if unsettled and loaded is not None:
            unsettled += list(loaded.pair_needs)
        return price_block(infos, self._simulated, self.prices.in_flight(unsettled) if unsettled else ())

    @staticmethod
    def _with_rate(ticker: str, info: PriceInfo, view: FxView) -> PriceInfo:
        rate = view.rate_of(ticker)
        status = "missing" if rate.rate is None or ticker in view.missing else worse_status(info.status, rate.status)
        return info if status == info.status else dataclasses.replace(info, status=status)

    def chart(self, portfolio_id: int, range_name: str = "1Y",
              wait_s: float | None = None) -> ChartReady | ChartPending:
        """The generated chart of one range, or its progress while it is generated.

        A missing or outdated chart is generated in the background; the request waits for it at most `wait_s`
        (default `chart_request_wait_s`). A chart whose prices have moved on since is served and regenerated behind.
        """
        entry = self._chart_entry(portfolio_id, range_name, wait_s)
        return entry if isinstance(entry, ChartPending) else _chart_ready(entry, range_name)

    def _chart_entry(self, portfolio_id: int, range_name: str, wait_s: float | None) -> ChartEntry | ChartPending:
        """The current chart entry (read from the shared store every time), or the range's progress."""
        if range_name not in RANGES:
            raise ValueError(f"range must be one of {', '.join(RANGES)}, got {range_name!r}")
        known = read_portfolio(self.ledger, portfolio_id)  # NotFoundError for an unknown id
        version = known[1]
        entry = self.charts.store.get(portfolio_id)
        if not _current(entry, version):
            future = self.charts.request(portfolio_id)
            wait = self.settings.chart_request_wait_s if wait_s is None else wait_s
            with suppress(FutureTimeout):
                future.result(timeout=wait)
            entry = self.charts.store.get(portfolio_id)
            if not _current(entry, version):
                return ChartPending(range_name, self.progress(portfolio_id).progress)
        elif self._prices_moved_since(portfolio_id, known, entry.generated_at):
            self.charts.request(portfolio_id)
        return entry

    def chart_data(self, portfolio_id: int, range_name: str = "1Y", wait_s: float | None = None) -> tuple[int, dict]:
        """`chart` as the API answers it: (200, series) or (202, progress).

        The JSON of a ready chart is kept per (portfolio, ledger version, generation time, range): the entry is
        still read and judged on every request, only turning the same entry into the same JSON again is skipped
        (most of a warm chart request's CPU)."""
        entry = self._chart_entry(portfolio_id, range_name, wait_s)
        if isinstance(entry, ChartPending):
            return 202, entry.to_json()
        key = (portfolio_id, entry.ledger_version, entry.generated_at, range_name)
        answer = self._chart_json.get(key)
        if answer is None:
            answer = _chart_ready(entry, range_name).to_json()
            self._chart_json.put(key, answer)
        return 200, answer

    def _prices_moved_since(self, portfolio_id: int, known: tuple[Portfolio, int], generated_at: dt.datetime) -> bool:
        # The pairs and the benchmark too: a chart in a base currency moves with its rates, the benchmark line with
        # its index. Every ticker ever traded comes from the loaded ledger (no query: the memo has it).
        loaded = self.loader.load(portfolio_id, self.ledger, known=known)
        symbols = [*loaded.tickers, *loaded.pair_needs, *loaded.benchmark_needs]
        return self.prices.quotes_newer_than(symbols, generated_at)

    def progress(self, portfolio_id: int) -> Progress:
        """The chart generator's state for one portfolio: idle, running, done or error, with a fraction."""
        version = self.ledger.version(portfolio_id)  # NotFoundError for an unknown id
        entry = self.charts.store.get(portfolio_id)
        progress = self.charts.store.progress(portfolio_id)
        if progress is not None and progress["state"] in ("running", "error"):
            return Progress.from_json(progress)
        if _current(entry, version):
            return Progress("done", 1.0, progress["message"] if progress else "ready")
        return Progress("idle", 0.0, "chart not generated yet")

    def chart_progress(self, portfolio_id: int) -> dict:
        """`progress` as the API answers it."""
        return self.progress(portfolio_id).to_json()
