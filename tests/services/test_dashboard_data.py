"""The dashboard's payload builders (services/dashboard_data.py) over the counting fake provider.

The clock is frozen at SESSION_MOMENT (Tuesday 8 July 2025, XNYS open), so every quote is the fake's close of that
day: 100 + 0.5 x 188 days since 1 January = 194.00, previous close (Monday 7 July) 193.50.
"""

from __future__ import annotations

import datetime as dt

import pytest

from services.container import build_services
from services.payloads import ChartPending, ChartReady, InitialData, Market
from services.portfolio_load import price_needs
from services.price_planning import Need
from tests.fakes import CountingProvider

LEDGER = """date,ticker,type,quantity,price,fees
2025-03-03,AAA,BUY,10,100,5
2025-03-03,BBB,BUY,10,150,0
2025-04-01,BBB,SELL,5,160,0
"""


@pytest.fixture
def services(settings, clock):
    built = build_services(settings.with_overrides(warmup_enabled=False), clock=clock,
                           provider=CountingProvider(clock))
    yield built
    built.close()


@pytest.fixture
def portfolio_id(services) -> int:
    pid = services.ledger.create_portfolio("P").id
    services.ledger.import_csv(pid, LEDGER)
    return pid


def test_load_replays_once_per_ledger_version(services, portfolio_id):
    loaded = services.dashboard.load(portfolio_id)
    assert loaded.open_tickers == ("AAA", "BBB")
    assert loaded.needs == {"AAA": Need(dt.date(2025, 3, 3), None), "BBB": Need(dt.date(2025, 3, 3), None)}
    assert services.dashboard.load(portfolio_id).positions is loaded.positions  # memoized
    services.ledger.import_csv(portfolio_id, "date,ticker,type,quantity,price\n2025-05-01,AAA,SELL,10,120\n")
    again = services.dashboard.load(portfolio_id)
    assert again.version != loaded.version and again.open_tickers == ("BBB",)
    assert again.needs["AAA"] == Need(dt.date(2025, 3, 3), dt.date(2025, 5, 1))  # closed: up to its last trade


def test_price_needs_of_nothing_is_empty():
    assert price_needs([], {}) == {}


def test_holdings_are_hand_computed(services, portfolio_id):
    payload = services.dashboard.holdings(portfolio_id, wait_s=5)
    aaa, bbb = payload.holdings
    # AAA: 10 x 194 = 1940.00 against 1005.00; day 10 x 0.50 = 5.00 of 1935.00.
    assert (aaa.ticker, aaa.market_value, aaa.cost_basis, aaa.unrealized_gain) == ("AAA", 1940.0, 1005.0, 935.0)
    assert (aaa.unrealized_gain_pct, aaa.day_change, aaa.day_change_pct) == (0.930348, 5.0, 0.002584)
    # BBB: 5 left at an average 150 = 750.00; 5 x 194 = 970.00; day 5 x 0.50 = 2.50.
    assert (bbb.market_value, bbb.cost_basis, bbb.unrealized_gain, bbb.unrealized_gain_pct) == (
        970.0, 750.0, 220.0, 0.293333)
    # 1940 / 2910 = 0.66666..: floors 6666 + 3333 steps, the step left goes to AAA's larger remainder.
    assert (aaa.weight, bbb.weight) == (0.6667, 0.3333)
    assert aaa.price_status == "fresh" and isinstance(aaa.price_as_of, dt.datetime)
    assert payload.prices.counts == {"fresh": 2, "market_closed": 0, "stale": 0, "missing": 0}
    assert services.dashboard.holdings_data(portfolio_id, wait_s=0)["holdings"][0]["price_as_of"] == (
        aaa.price_as_of.isoformat())


def test_initial_data_sums_the_rows(services, portfolio_id):
    services.dashboard.holdings(portfolio_id, wait_s=5)  # the quotes are cached now
    payload = services.dashboard.initial(portfolio_id)
    assert isinstance(payload, InitialData)
    summary = payload.summary
    assert (summary.market_value, summary.cost_basis, summary.unrealized_gain) == (2910.0, 1755.0, 1155.0)
    assert (summary.unrealized_gain_pct, summary.day_change, summary.day_change_pct) == (0.65812, 7.5, 0.002584)
    assert (summary.realized_gain, summary.dividends) == (50.0, 0.0)  # 5 x 160 - 5 x 150
    assert (summary.holdings_count, summary.priced_count, summary.priced_cost_basis) == (2, 2, 1755.0)
    assert summary.currency == "USD"  # the portfolio's base currency
    assert payload.portfolio.name == "P" and payload.prices.status == "fresh"
    assert isinstance(payload.market, Market) and payload.market.exchange == "XNYS" and payload.market.is_open
    assert services.dashboard.initial_data(portfolio_id) == payload.to_json()


def test_a_cold_portfolio_is_missing_not_zero(settings, clock):
    # The provider answers after 1 s: the background fetch the initial data starts cannot land before it reads
    # the cache (with an instant one, a busy machine let it land first now and then).
    built = build_services(settings.with_overrides(warmup_enabled=False), clock=clock,
                           provider=CountingProvider(clock, delay_s=1.0))
    try:
        pid = built.ledger.create_portfolio("P").id
        built.ledger.import_csv(pid, LEDGER)
        payload = built.dashboard.initial(pid)  # reads the cache only: nothing there yet
        assert payload.summary.market_value is None and payload.summary.cost_basis == 1755.0
        assert payload.prices.status == "missing" and payload.prices.missing == ("AAA", "BBB")
    finally:
        built.close()


def test_chart_is_pending_then_ready_with_the_rows_allocation(services, portfolio_id):
    first = services.dashboard.chart(portfolio_id, "1M", wait_s=0)
    assert isinstance(first, (ChartPending, ChartReady))
    ready = services.dashboard.chart(portfolio_id, "1M", wait_s=10)
    assert isinstance(ready, ChartReady)
    assert [(s.ticker, s.weight) for s in ready.allocation] == [("AAA", 0.6667), ("BBB", 0.3333)]
    assert ready.series.dates[-1] == "2025-07-08" and ready.series.market_value[-1] == 2910.0
    assert services.dashboard.progress(portfolio_id).state == "done"


def test_an_unknown_range_is_refused(services, portfolio_id):
    with pytest.raises(ValueError, match="range must be one of"):
        services.dashboard.chart(portfolio_id, "2W")


def test_trades_of_today_and_a_position_sold_out_today(services, portfolio_id):
    # Issue 15: the clock's Tuesday 8 July 2025 is today in New York; every quote is 194.00 against 193.50.
    services.ledger.import_csv(portfolio_id, "date,ticker,type,quantity,price,fees\n"
                                             "2025-03-03,CCC,BUY,10,100,0\n"
                                             "2025-07-08,CCC,SELL,10,195,1\n"
                                             "2025-07-08,AAA,BUY,2,193,1\n")
    payload = services.dashboard.holdings(portfolio_id, wait_s=5)
    rows = {row.ticker: row for row in payload.holdings}
    assert set(rows) == {"AAA", "BBB"}
    # AAA: 10 x (194 - 193.50) + 2 x (194 - 193) = 5 + 2 = 7.00 of 10 x 193.50 + 2 x 193 = 2321
    assert (rows["AAA"].day_change, rows["AAA"].day_change_pct) == (7.0, 0.003016)  # 7 / 2321 = 0.0030159...
    # AAA: 12 x 194 = 2328 against 1005 + 387 = 1392: 936 unrealized, nothing realized, no dividends
    assert (rows["AAA"].unrealized_gain, rows["AAA"].realized_gain, rows["AAA"].dividends,
            rows["AAA"].total_return) == (936.0, 0.0, 0.0, 936.0)
    # BBB: 970 - 750 = 220 unrealized + 5 x 160 - 750 = 50 realized = 270
    assert (rows["BBB"].realized_gain, rows["BBB"].total_return) == (50.0, 270.0)
    # CCC sold out today: 10 x (195 - 193.50) = 15.00 (fees not in it); realized 1950 - 1 - 1000 = 949
    assert [c.to_json() for c in payload.closed] == [
        {"ticker": "CCC", "realized_gain": 949.0, "dividends": 0.0, "closed_on": "2025-07-08", "day_change": 15.0}]
    summary = services.dashboard.initial(portfolio_id).summary
    # 7 + 2.50 (BBB: 5 x 0.50) + 15 = 24.50 of 2321 + 967.50 + 1935 = 5223.50
    assert (summary.day_change, summary.day_change_pct) == (24.5, 0.00469)  # 24.5 / 5223.5 = 0.0046903...
    assert summary.realized_gain == 999.0  # 50 + 949
    assert payload.prices.counts["fresh"] == 2  # the page counts its open holdings only


def test_an_unpriced_holding_has_one_rule_in_the_summary_the_rows_and_the_chart(settings, clock):
    # Issue 15, item 6: ZZZ has no price data at all. It was worth 0 in the chart with its 150 cost counted (a
    # false -150 there), while the summary left it out.
    built = build_services(settings.with_overrides(warmup_enabled=False), clock=clock,
                           provider=CountingProvider(clock, not_found=["ZZZ"]))
    try:
        pid = built.ledger.create_portfolio("P").id
        built.ledger.import_csv(pid, "date,ticker,type,quantity,price,fees\n"
                                     "2025-03-03,AAA,BUY,10,100,5\n2025-03-03,ZZZ,BUY,3,50,0\n")
        holdings = built.dashboard.holdings(pid, wait_s=5)
        zzz = next(row for row in holdings.holdings if row.ticker == "ZZZ")
        assert (zzz.cost_basis, zzz.price, zzz.market_value, zzz.price_status) == (150.0, None, None, "missing")
        assert holdings.prices.status == "partial" and holdings.prices.missing == ("ZZZ",)
        summary = built.dashboard.initial(pid).summary
        # AAA alone: 10 x 194 = 1940 against 1005 -> 935; the cost of every holding 1005 + 150 = 1155
        assert (summary.market_value, summary.priced_cost_basis, summary.unrealized_gain) == (1940.0, 1005.0, 935.0)
        assert summary.cost_basis == 1155.0
        chart = built.dashboard.chart(pid, "1M", wait_s=10)
        assert isinstance(chart, ChartReady) and chart.series.dates[-1] == "2025-07-08"
        # The chart's last day agrees: the same value, the same priced cost, so the same gap
        assert chart.series.market_value[-1] == summary.market_value
        assert chart.series.cost_basis[-1] == summary.priced_cost_basis
        assert chart.series.market_value[-1] - chart.series.cost_basis[-1] == summary.unrealized_gain
    finally:
        built.close()


def test_a_charts_json_is_made_once_per_generation_and_never_outlives_a_ledger_change(services, portfolio_id):
    assert isinstance(services.dashboard.chart(portfolio_id, "1M", wait_s=10), ChartReady)
    status, first = services.dashboard.chart_data(portfolio_id, "1M")
    assert status == 200 and first == services.dashboard.chart(portfolio_id, "1M").to_json()
    assert services.dashboard.chart_data(portfolio_id, "1M")[1] is first  # the same generation: kept, not remade
    # Through an owner's view (what a request holds) the same JSON is found: the memo is shared.
    assert services.for_owner("local").dashboard.chart_data(portfolio_id, "1M")[1] is first
    assert first["series"]["market_value"][-1] == 2910.0  # 10 x 194 + 5 x 194
    services.ledger.import_csv(portfolio_id, "date,ticker,type,quantity,price\n2025-05-01,AAA,SELL,10,120\n")
    assert isinstance(services.dashboard.chart(portfolio_id, "1M", wait_s=10), ChartReady)  # generated again
    status, after = services.dashboard.chart_data(portfolio_id, "1M")
    assert status == 200 and after["series"]["market_value"][-1] == 970.0  # BBB alone: 5 x 194


def test_a_warm_payload_asks_the_database_one_question(services, portfolio_id):
    # The portfolio's row with its version (the replay is memoized per version): one SELECT per payload, where
    # the initial data asked 2, the holdings 4 and the chart 5 (portfolio, version, again both, tickers).
    from sqlalchemy import event

    services.dashboard.holdings(portfolio_id, wait_s=5)
    assert isinstance(services.dashboard.chart(portfolio_id, "1Y", wait_s=10), ChartReady)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if statement.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):  # SQLite's BEGIN is ours
            statements.append(statement)

    dashboard = services.for_owner("local").dashboard  # as a request sees it
    event.listen(services.ledger.engine, "before_cursor_execute", count)
    try:
        for build in (lambda: dashboard.initial_data(portfolio_id), lambda: dashboard.holdings_data(portfolio_id),
                      lambda: dashboard.chart_data(portfolio_id, "1Y")):
            statements.clear()
            build()
            assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT"), statements
    finally:
        event.remove(services.ledger.engine, "before_cursor_execute", count)
