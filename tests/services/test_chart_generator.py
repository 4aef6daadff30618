"""Chart generation off the request path: the series of every range, progress, invalidation, and chart_data.

Offline: `CountingProvider` (tests/conftest.py) closes at 100 + 0.5 x (days since 2025-01-01) on every XNYS
session, so each expected value below is worked out by hand. Now is Tuesday 2025-07-08, 15:00 UTC (in session).
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from services import analytics
from services.chart_generator import BackgroundChartGenerator, ChartEntry, ChartStore
from services.container import Services, build_services
from services.ledger import Ledger
from services.locks import chart_lock
from services.models import Quote
from services.price_planning import Need
from tests.fakes import SESSION_MOMENT, CountingProvider, counting_close
from tests.waiting import wait_until

D = dt.date
TODAY = SESSION_MOMENT.date()  # 2025-07-08
# AAA: 10 bought at 90 on Monday 2024-12-02; BBB: 4 bought at 110 on Thursday 2025-05-01. Cost basis 1340 after.
LEDGER = ["2024-12-02,AAA,BUY,10,90", "2025-05-01,BBB,BUY,4,110"]


def csv(rows: list[str]) -> str:
    return "date,ticker,type,quantity,price\n" + "\n".join(rows) + "\n"


class Gate:
    """A `sleep` for CountingProvider that blocks every request until opened (a slow price source)."""

    def __init__(self):
        self._open = threading.Event()

    def __call__(self, _seconds: float) -> None:
        assert self._open.wait(20), "the gate was never opened"

    def open(self) -> None:
        self._open.set()


class Recorder:
    """Wraps a method of an object and records the arguments of every call."""

    def __init__(self, owner, name: str):
        self.calls: list[tuple] = []
        original = getattr(owner, name)

        def wrapper(*args):
            self.calls.append(args)
            return original(*args)

        setattr(owner, name, wrapper)


# -- the generator on its own (no ledger listener) ---------------------------------------------------------------
class Parts:
    def __init__(self, settings, clock, frozen_time, cache, make_service, provider: CountingProvider):
        self.ledger = Ledger(settings.database_url)
        self.ledger.create_all()
        self.provider = provider
        self.prices = make_service(provider, cache)
        self.store = ChartStore(cache)
        self.charts = BackgroundChartGenerator(self.ledger, self.prices, clock, self.store, now=frozen_time)

    def portfolio(self, rows: list[str], name: str = "Test") -> int:
        portfolio_id = self.ledger.create_portfolio(name).id
        self.ledger.import_csv(portfolio_id, csv(rows))
        return portfolio_id

    def close(self) -> None:
        self.charts.shutdown()
        self.charts._executor.shutdown(wait=True)
        self.ledger.dispose()


@pytest.fixture
def gate() -> Gate:
    gate = Gate()
    yield gate
    gate.open()  # never leave a fetch thread blocked behind a failed test


@pytest.fixture
def parts(settings, clock, frozen_time, price_cache, make_service, gate):
    provider = CountingProvider(clock, sleep=gate)
    built = Parts(settings, clock, frozen_time, price_cache, make_service, provider)
    yield built
    gate.open()
    built.close()


def test_generate_stores_every_range_sliced_from_the_first_transaction(parts):
    portfolio_id = parts.portfolio(LEDGER)
    entry = parts.charts.generate(portfolio_id)
    assert entry is not None and parts.store.get(portfolio_id) == entry
    assert entry.ledger_version == parts.ledger.version(portfolio_id)
    assert entry.generated_at == SESSION_MOMENT
    assert set(entry.ranges) == set(analytics.RANGES)

    # First session of each range: a range reaching back before the ledger starts at its first transaction.
    first_day = {name: entry.ranges[name]["dates"][0] for name in analytics.RANGES}
    assert first_day == {
        "1M": "2025-06-09",  # 2025-06-08 is a Sunday
        "3M": "2025-04-08",
        "6M": "2025-01-08",
        "YTD": "2025-01-02",  # New Year's Day is a holiday
        "1Y": "2024-12-02",  # 2024-07-08 is before the first transaction
        "5Y": "2024-12-02",
        "MAX": "2024-12-02",
    }
    # (date, market value, cost basis) at each range's start, by hand: close(d) = 100 + 0.5 x days since 1 Jan.
    first_point = {name: (entry.ranges[name]["market_value"][0], entry.ranges[name]["cost_basis"][0])
                   for name in analytics.RANGES}
    assert first_point == {
        "1M": (2513.0, 1340.0),  # (10 + 4) x 179.5 (159 days)
        "3M": (1485.0, 900.0),  # 10 x 148.5 (97 days); BBB not bought yet
        "6M": (1035.0, 900.0),  # 10 x 103.5 (7 days)
        "YTD": (1005.0, 900.0),  # 10 x 100.5 (1 day)
        "1Y": (850.0, 900.0),  # 10 x 85.0 (-30 days)
        "5Y": (850.0, 900.0),
        "MAX": (850.0, 900.0),
    }
    full = entry.ranges["MAX"]
    for name in analytics.RANGES:  # every range is the tail of the full series, ending today
        series = entry.ranges[name]
        size = len(series["dates"])
        # The value lines are the tail; the return lines start again at 0 on the range's first day.
        lines = ("twr", "benchmark")
        assert {k: v for k, v in series.items() if k not in lines} == {
            key: values[-size:] for key, values in full.items() if key not in lines}
        assert series["twr"][0] == 0.0 and series["benchmark"][0] == 0.0
        assert (series["dates"][-1], series["market_value"][-1], series["cost_basis"][-1]) == (
            "2025-07-08", 2716.0, 1340.0)  # (10 + 4) x 194.0 (188 days)
    # 1M: 9-13 June (5), 16-20 June without Juneteenth (4), 23-27 June (5), 30 June, 1-3 July, 7-8 July (6).
    assert len(entry.ranges["1M"]["dates"]) == 20
    day = dict(zip(full["dates"], zip(full["market_value"], full["cost_basis"], strict=True), strict=True))
    assert day["2025-04-30"] == (1595.0, 900.0)  # 10 x 159.5
    assert day["2025-05-01"] == (2240.0, 1340.0)  # (10 + 4) x 160.0: the BUY counts on its own day
    assert "2025-01-09" not in day and "2025-06-19" not in day and "2025-07-04" not in day  # market closed
    # 10 x 194.0 = 1940 and 4 x 194.0 = 776 of 2716: 7142.86 and 2857.14 steps of 0.0001; the floors add to 9999
    # and the spare step goes to the larger remainder (AAA), so the weights add to exactly 1.
    assert entry.allocation == [{"ticker": "AAA", "weight": 0.7143}, {"ticker": "BBB", "weight": 0.2857}]
    assert counting_close(TODAY) == 194.0


def test_progress_rises_to_done(parts):
    portfolio_id = parts.portfolio(LEDGER)
    recorded = Recorder(parts.store, "set_progress")
    parts.charts.generate(portfolio_id)
    steps = [(state, progress, message) for _pid, state, progress, message in recorded.calls]
    assert steps[0] == ("running", 0.0, "fetching the history of 2 tickers")
    assert steps[-2:] == [("running", 0.9, "computing the series"), ("done", 1.0, "chart of 2 tickers ready")]
    fractions = [progress for _state, progress, _message in steps]
    assert fractions == sorted(fractions)  # never goes back
    assert parts.store.progress(portfolio_id) == {"state": "done", "progress": 1.0,
                                                  "message": "chart of 2 tickers ready"}


def test_an_empty_portfolio_gets_empty_series(parts):
    portfolio_id = parts.ledger.create_portfolio("Empty").id
    entry = parts.charts.generate(portfolio_id)
    assert entry.ranges == {name: {"dates": [], "market_value": [], "cost_basis": [], "currency": "USD",
                                   "twr": [], "benchmark": []}
                            for name in analytics.RANGES}  # in the portfolio's base currency
    # No return to measure, and no benchmark fetched for it (the provider was not called).
    assert {name: r["twr"] for name, r in entry.returns.items()} == dict.fromkeys(analytics.RANGES)
    assert {r["benchmark"] for r in entry.returns.values()} == {"^GSPC"}
    assert entry.allocation == []
    assert parts.provider.call_count == 0


def test_an_entry_computed_while_the_ledger_changed_is_not_stored_and_the_new_ledger_is_charted(parts, gate):
    portfolio_id = parts.portfolio(LEDGER)
    before = parts.ledger.version(portfolio_id)
    puts = Recorder(parts.store, "put")
    progress = Recorder(parts.store, "set_progress")
    parts.provider.delay_s = 1.0  # every request now waits at the gate
    future = parts.charts.request(portfolio_id)
    assert wait_until(lambda: parts.provider.active == 1)  # the generation read the ledger and waits on its prices

    parts.ledger.add_transaction(portfolio_id, {"date": "2025-07-01", "ticker": "AAA", "type": "BUY",
                                                "quantity": "2", "price": "190"})
    gate.open()
    entry = future.result(10)

    assert entry is not None and entry.ledger_version == before + 1 == parts.ledger.version(portfolio_id)
    assert [put[1] for put in puts.calls] == [entry]  # the entry of the old ledger was never stored
    assert parts.store.get(portfolio_id) == entry
    # The stored chart is the new ledger's: 12 AAA + 4 BBB today, cost basis 1340 + 380.
    mv, cost = entry.ranges["1M"]["market_value"][-1], entry.ranges["1M"]["cost_basis"][-1]
    assert (mv, cost) == (16 * 194.0, 1720.0)
    assert [call[1] for call in progress.calls].count("done") == 1  # "done" only once it is stored


def test_a_ledger_that_keeps_changing_stores_nothing_and_says_so(parts, monkeypatch):
    portfolio_id = parts.portfolio(LEDGER)
    compute = parts.charts._compute

    def compute_then_change(pid, version):
        result = compute(pid, version)
        parts.ledger.add_transaction(pid, {"date": "2025-07-01", "ticker": "AAA", "type": "BUY",
                                           "quantity": "1", "price": "190"})
        return result

    monkeypatch.setattr(parts.charts, "_compute", compute_then_change)
    assert parts.charts.generate(portfolio_id) is None
    assert parts.store.get(portfolio_id) is None
    assert parts.store.progress(portfolio_id)["state"] == "idle"


def test_the_chart_is_stamped_before_its_prices_are_read(parts, frozen_time):
    """A quote landing while the series is computed must leave the chart older than that quote."""
    portfolio_id = parts.portfolio(LEDGER)
    parts.prices.fetch_prices_parallel({"AAA": Need(D(2024, 12, 2)), "BBB": Need(D(2025, 5, 1))})
    closes = parts.prices.closes
    landed: list[dt.datetime] = []

    def closes_while_a_quote_lands(tickers):
        moment = frozen_time.advance(seconds=1)  # another worker stores a new AAA quote right now
        parts.prices.cache.put_quote(Quote("AAA", 195.0, 193.5, "USD", moment, moment))
        landed.append(moment)
        return closes(tickers)

    parts.prices.closes = closes_while_a_quote_lands
    entry = parts.charts.generate(portfolio_id)
    assert entry.generated_at < landed[0]  # so chart_data and the warm-up see prices newer than the chart


def test_chart_store_keys_are_per_portfolio(price_cache):
    store = ChartStore(price_cache)
    entry = ChartEntry(3, SESSION_MOMENT, {"1M": {"dates": []}}, [])
    store.put(1, entry)
    store.set_progress(1, "running", 0.123456, "half way")
    store.put(11, entry)
    assert store.get(1) == entry and store.get(2) is None
    assert store.progress(1) == {"state": "running", "progress": 0.1235, "message": "half way"}
    assert store.invalidate(1) == 2  # the chart and the progress of portfolio 1 ...
    assert store.get(1) is None and store.progress(1) is None
    assert store.get(11) == entry  # ... and not those of portfolio 11, whose key starts alike


# -- through the container: ledger listener, chart_data, chart_progress -------------------------------------------
@pytest.fixture
def make_services(settings, clock, gate):
    built: list[Services] = []

    def build(provider: CountingProvider | None = None) -> Services:
        services = build_services(settings, clock=clock, provider=provider or CountingProvider(clock, sleep=gate))
        built.append(services)
        return services

    yield build
    gate.open()
    for services in built:
        services.charts.shutdown()
        services.charts._executor.shutdown(wait=True)
        services.prices.shutdown()
        services.prices._executor.shutdown(wait=True)
        services.ledger.dispose()
        services.cache.close()


def settle(services: Services, portfolio_id: int) -> ChartEntry:
    """Wait for the background generation the last ledger change asked for, and return the stored chart."""
    services.charts.request(portfolio_id).result(20)
    return services.charts.store.get(portfolio_id)


LEDGER_CHANGES = {
    "import": lambda ledger, pid, _tid: ledger.import_csv(pid, csv(["2025-06-02,DDD,BUY,1,100"])),
    "add": lambda ledger, pid, _tid: ledger.add_transaction(
        pid, {"date": "2025-06-02", "ticker": "AAA", "type": "BUY", "quantity": "1", "price": "100"}),
    "delete": lambda ledger, pid, tid: ledger.delete_transaction(pid, tid),
}


@pytest.mark.parametrize("change", sorted(LEDGER_CHANGES))
def test_a_ledger_change_invalidates_that_portfolios_caches_and_nothing_else(make_services, change):
    services = make_services()
    ledger, cache, store = services.ledger, services.cache, services.charts.store
    mine = ledger.create_portfolio("Mine").id
    ledger.import_csv(mine, csv(LEDGER))
    other = ledger.create_portfolio("Other").id
    ledger.import_csv(other, csv(["2025-06-02,CCC,BUY,3,90"]))
    mine_before, other_before = settle(services, mine), settle(services, other)
    assert mine_before is not None and other_before is not None
    cache.set(f"portfolio:{mine}:derived", "mine")
    cache.set(f"portfolio:{other}:derived", "other")
    cache.set(f"portfolio:{mine}0:chart", "portfolio ten")  # a key that merely starts alike
    other_progress = store.progress(other)
    quote_before = cache.get_quote("AAA")

    bbb = next(t.id for t in ledger.list_transactions(mine) if t.ticker == "BBB")
    LEDGER_CHANGES[change](ledger, mine, bbb)

    assert cache.get(f"portfolio:{mine}:derived") is None  # dropped synchronously, by the listener
    assert cache.get(f"portfolio:{other}:derived") == "other"
    assert cache.get(f"portfolio:{mine}0:chart") == "portfolio ten"
    assert store.get(other) == other_before and store.progress(other) == other_progress
    assert cache.get_quote("AAA") == quote_before and cache.get_bars("AAA") is not None  # prices are shared
    # ... and the changed portfolio's chart is regenerated in the background at its new version.
    regenerated = settle(services, mine)
    assert regenerated.ledger_version == ledger.version(mine) == mine_before.ledger_version + 1
    assert store.get(other) == other_before


def test_deleting_a_portfolio_drops_its_chart_only(make_services):
    services = make_services()
    ledger, store = services.ledger, services.charts.store
    gone = ledger.create_portfolio("Gone").id
    ledger.import_csv(gone, csv(LEDGER))
    kept = ledger.create_portfolio("Kept").id
    ledger.import_csv(kept, csv(LEDGER))
    settle(services, gone)
    kept_before = settle(services, kept)
    ledger.delete_portfolio(gone)
    assert store.get(gone) is None and store.progress(gone) is None
    services.charts.request(gone).result(10)  # the regeneration the listener asked for finds no portfolio
    assert store.get(gone) is None
    assert store.get(kept) == kept_before


def test_chart_data_answers_200_at_once_once_generated(make_services):
    services = make_services()
    portfolio_id = services.ledger.create_portfolio("P").id
    services.ledger.import_csv(portfolio_id, csv(LEDGER))
    entry = settle(services, portfolio_id)
    calls = services.provider.call_count
    for name in analytics.RANGES:
        started = time.perf_counter()
        status, body = services.dashboard.chart_data(portfolio_id, name, wait_s=0)
        assert time.perf_counter() - started < 0.5
        assert status == 200
        assert body == {"status": "ready", "range": name, "series": entry.ranges[name],
                        "allocation": entry.allocation, "returns": entry.returns[name]}
    assert services.provider.call_count == calls  # read from the store: nothing upstream
    assert services.dashboard.chart_progress(portfolio_id) == {
        "state": "done", "progress": 1.0, "message": "chart of 2 tickers ready"}


def test_chart_data_answers_202_with_progress_while_a_slow_source_is_fetching(make_services, gate):
    services = make_services()
    provider: CountingProvider = services.provider
    warm = services.ledger.create_portfolio("Warm").id
    services.ledger.import_csv(warm, csv(["2024-12-02,AAA,BUY,10,90"]))  # AAA's history is now cached
    settle(services, warm)

    provider.delay_s = 1.0  # from now on the price source hangs until the gate opens
    slow = services.ledger.create_portfolio("Slow").id
    services.ledger.import_csv(slow, csv(LEDGER))  # the listener starts generating; BBB must be fetched
    # Two of three tickers have their history (AAA and the benchmark ^GSPC, fetched for Warm from the same first
    # day): 0.9 (the fetch's share of the work) x 2/3 = 0.6.
    expected = {"state": "running", "progress": 0.6, "message": "history of 2 of 3 tickers ready"}
    assert wait_until(lambda: services.dashboard.chart_progress(slow) == expected)

    started = time.perf_counter()
    status, body = services.dashboard.chart_data(slow, "1Y", wait_s=0)
    assert time.perf_counter() - started < 0.5  # never waits on the price source beyond its bound
    assert (status, body) == (202, {"status": "pending", "range": "1Y", "progress": 0.6})
    assert services.dashboard.chart_data(warm, "1Y", wait_s=0)[0] == 200  # another portfolio is not held up

    gate.open()
    assert wait_until(lambda: services.dashboard.chart_progress(slow)["state"] == "done")
    status, body = services.dashboard.chart_data(slow, "1Y", wait_s=0)
    assert status == 200 and body["series"]["market_value"][-1] == 2716.0
    assert provider.symbol_counts == {"AAA": 1, "BBB": 1, "^GSPC": 1}  # one request per ticker, the benchmark too


def test_chart_data_for_a_missing_chart_waits_for_it_within_its_bound(make_services):
    services = make_services()
    portfolio_id = services.ledger.create_portfolio("P").id
    services.ledger.import_csv(portfolio_id, csv(LEDGER))
    settle(services, portfolio_id)
    services.charts.store.invalidate(portfolio_id)  # as if another worker's change dropped it
    status, body = services.dashboard.chart_data(portfolio_id, "MAX", wait_s=10)
    assert status == 200 and body["series"]["dates"][0] == "2024-12-02"


# -- another worker at the same chart ----------------------------------------------------------------------------
def test_generate_leaves_a_chart_another_worker_is_generating_unless_asked_to_wait(parts):
    portfolio_id = parts.portfolio(LEDGER)
    token = parts.store.cache.try_lock(chart_lock(portfolio_id), 60)  # another worker generates it
    computed = Recorder(parts.charts, "_compute")
    started = time.perf_counter()
    assert parts.charts.generate(portfolio_id) is None  # the request path: no waiting at all
    assert parts.charts.generate(portfolio_id, wait_s=0.3) is None  # still held after the bound
    assert 0.3 <= time.perf_counter() - started < 2
    assert computed.calls == [] and parts.store.get(portfolio_id) is None
    parts.store.cache.unlock(chart_lock(portfolio_id), token)
    assert parts.charts.generate(portfolio_id) is not None and len(computed.calls) == 1


def test_generate_waiting_on_another_worker_takes_its_chart_when_it_is_new_enough(parts, settings, clock,
                                                                                    frozen_time):
    portfolio_id = parts.portfolio(LEDGER)
    other_worker = BackgroundChartGenerator(parts.ledger, parts.prices, clock, ChartStore(parts.store.cache),
                                            now=frozen_time)
    token = parts.store.cache.try_lock(chart_lock(portfolio_id), 60)
    computed = Recorder(parts.charts, "_compute")
    waiting = threading.Thread(target=lambda: results.append(parts.charts.generate(portfolio_id, wait_s=10)))
    results: list[ChartEntry | None] = []
    waiting.start()
    time.sleep(0.2)
    assert results == []  # waits on the other worker
    theirs = other_worker._generate(portfolio_id)  # computed after we asked (same frozen moment), then released
    parts.store.cache.unlock(chart_lock(portfolio_id), token)
    waiting.join(10)
    assert results == [theirs] and computed.calls == []  # taken, not computed a second time
    other_worker.shutdown()


def test_generate_waiting_on_another_worker_computes_when_that_chart_is_older_than_the_call(parts, frozen_time):
    portfolio_id = parts.portfolio(LEDGER)
    stale = parts.charts.generate(portfolio_id)  # at 15:00:00
    frozen_time.advance(seconds=30)
    token = parts.store.cache.try_lock(chart_lock(portfolio_id), 60)  # the other worker stores nothing newer
    results: list[ChartEntry | None] = []
    waiting = threading.Thread(target=lambda: results.append(parts.charts.generate(portfolio_id, wait_s=10)))
    waiting.start()
    time.sleep(0.1)
    parts.store.cache.unlock(chart_lock(portfolio_id), token)
    waiting.join(10)
    (entry,) = results
    assert entry.generated_at == stale.generated_at + dt.timedelta(seconds=30)
    assert parts.store.get(portfolio_id) == entry
