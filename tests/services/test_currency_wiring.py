"""Money in the base currency on the live path (issue 14): build_services over the demo provider, frozen clock.

The clock is frozen at SESSION_MOMENT (Tuesday 8 July 2025, 15:00 UTC): XNYS, XLON, XETR and the pairs' 24/5
calendar are all in Tuesday's session, so each quote is the last bar's close and the chart's last day is priced
like the summary. Every expectation is computed here from the cached numbers (`services.prices` and
`services.fx`), by the rule: market value = quantity x price x rate, rounded to the cent per row.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import pytest

from services.container import build_services
from services.payloads import ChartReady
from services.providers.demo import DemoProvider

LEDGER = """date,ticker,type,quantity,price,fees
2025-03-03,AAPL,BUY,10,200,0
2025-03-03,VOD.L,BUY,1000,0.70,0
2025-03-04,SAP.DE,BUY,5,250,0
"""
TICKERS = ("AAPL", "SAP.DE", "VOD.L")
PAIRS = ("EURUSD=X", "GBPUSD=X")
CENT = Decimal("0.01")


class CountingDemo:
    """The demo provider, counting its upstream requests and the symbols asked."""

    def __init__(self, inner: DemoProvider):
        self.inner, self.requests, self.symbols = inner, 0, Counter()

    def fetch(self, requests):
        self.requests += 1
        self.symbols.update(r.ticker for r in requests)
        return self.inner.fetch(requests)

    def reset(self) -> None:
        self.requests, self.symbols = 0, Counter()

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _build(settings, clock, fail: frozenset[str] = frozenset()):
    provider = CountingDemo(DemoProvider(clock, fail_symbols=fail))
    services = build_services(settings.with_overrides(warmup_enabled=False, seed_sample=False), clock=clock,
                              provider=provider)
    return services, provider


@pytest.fixture
def world(settings, clock):
    services, provider = _build(settings, clock)
    yield services, provider
    services.close()


def _portfolio(services, base: str = "USD") -> int:
    pid = services.ledger.create_portfolio(f"P {base}", base).id
    services.ledger.import_csv(pid, LEDGER)
    return pid


def _cents(value: Decimal) -> float:
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _expected_values(services, base: str) -> dict[str, float]:
    """quantity x cached price x cached rate (quote currency -> base), per ticker, to the cent."""
    quantities = {"AAPL": Decimal(10), "VOD.L": Decimal(1000), "SAP.DE": Decimal(5)}
    infos = services.prices.prices(TICKERS)
    values = {}
    for ticker, quantity in quantities.items():
        currency = infos[ticker].currency
        rate = services.fx.latest(currency, base).rate
        assert rate is not None
        values[ticker] = _cents(quantity * Decimal(repr(infos[ticker].price)) * rate)
    return values


def test_a_usd_portfolio_of_three_currencies_is_valued_in_usd(world):
    services, provider = world
    pid = _portfolio(services)
    holdings = services.dashboard.holdings(pid, wait_s=30)
    services.charts.request(pid).result(30)  # the chart the import set off, which fetches the benchmark
    # Cold: every ticker, the two pairs it needs and the benchmark ^GSPC (the chart's, issue 16), each asked once.
    assert provider.symbols == Counter({s: 1 for s in (*TICKERS, *PAIRS, "^GSPC")})
    # One batch, or two when the page's fetch (which needs no benchmark) starts before the chart generator's
    assert provider.requests in (1, 2)
    infos = services.prices.prices(TICKERS)
    assert (infos["VOD.L"].currency, infos["SAP.DE"].currency, infos["AAPL"].currency) == ("GBP", "EUR", "USD")
    rows = {row.ticker: row for row in holdings.holdings}
    expected = _expected_values(services, "USD")
    assert {t: rows[t].market_value for t in TICKERS} == expected
    gbpusd = services.fx.latest("GBP", "USD").rate
    assert 1.0 < float(gbpusd) < 1.6  # a plausible demo rate, not 1
    assert (rows["VOD.L"].currency, rows["VOD.L"].fx_rate) == ("GBP", float(gbpusd))
    assert (rows["SAP.DE"].currency, rows["SAP.DE"].fx_rate) == ("EUR", float(services.fx.latest("EUR", "USD").rate))
    assert (rows["AAPL"].currency, rows["AAPL"].fx_rate) == ("USD", 1.0)
    # SAP.DE's cost: 5 x 250 EUR at the close of its trade date.
    assert rows["SAP.DE"].cost_basis == _cents(Decimal(1250) * services.fx.rate("EUR", "USD", dt.date(2025, 3, 4)))
    assert holdings.prices.status == "fresh" and holdings.prices.missing == ()

    summary = services.dashboard.initial(pid).summary
    assert summary.currency == "USD"
    assert summary.market_value == float(sum(Decimal(repr(v)) for v in expected.values()))
    chart = services.dashboard.chart(pid, "1M", wait_s=30)
    assert isinstance(chart, ChartReady)
    assert chart.series.currency == "USD"
    # The chart's last day (today's closes at today's rates) is the summary's market value, to the cent.
    assert chart.series.market_value[-1] == pytest.approx(summary.market_value, abs=0.011)
    # The chart needed nothing more than the benchmark's history, if the page's batch had not taken it already
    assert provider.symbols == Counter({s: 1 for s in (*TICKERS, *PAIRS, "^GSPC")}) and provider.requests <= 2

    # Warm: the page and the chart again, from the cache alone.
    provider.reset()
    services.charts.store.invalidate(pid)
    assert services.dashboard.holdings(pid, wait_s=5).holdings == holdings.holdings
    services.dashboard.initial(pid)
    assert isinstance(services.dashboard.chart(pid, "1M", wait_s=30), ChartReady)
    assert provider.requests == 0


def test_a_eur_portfolio_is_the_usd_one_over_todays_eurusd(world):
    services, _provider = world
    usd, eur = _portfolio(services, "USD"), _portfolio(services, "EUR")
    usd_rows = services.dashboard.holdings(usd, wait_s=30)
    eur_rows = services.dashboard.holdings(eur, wait_s=30)
    eurusd = services.fx.latest("EUR", "USD").rate
    expected = _expected_values(services, "EUR")
    rows = {row.ticker: row for row in eur_rows.holdings}
    assert {t: rows[t].market_value for t in TICKERS} == expected
    assert rows["SAP.DE"].cost_basis == 1250.0 and rows["SAP.DE"].fx_rate == 1.0  # quoted in the base
    usd_value = services.dashboard.initial(usd).summary.market_value
    summary = services.dashboard.initial(eur).summary
    assert summary.currency == "EUR"
    assert summary.market_value == float(sum(Decimal(repr(v)) for v in expected.values()))
    # Three rows rounded to the cent each: within 1.5 cents of the USD total / EURUSD.
    assert abs(Decimal(repr(summary.market_value)) - Decimal(repr(usd_value)) / eurusd) <= Decimal("0.015")
    assert not usd_rows.prices.missing and not eur_rows.prices.missing
    chart = services.dashboard.chart(eur, "1M", wait_s=30)
    assert isinstance(chart, ChartReady) and chart.series.currency == "EUR"
    assert chart.series.market_value[-1] == pytest.approx(summary.market_value, abs=0.011)


def test_a_pair_that_fails_leaves_its_holding_missing_never_at_rate_1(settings, clock):
    services, _provider = _build(settings, clock, fail=frozenset({"GBPUSD=X"}))
    try:
        pid = _portfolio(services)
        holdings = services.dashboard.holdings(pid, wait_s=30)
        rows = {row.ticker: row for row in holdings.holdings}
        vod = rows["VOD.L"]
        assert services.prices.prices(["VOD.L"])["VOD.L"].price is not None  # its price is known, its rate not
        assert (vod.price_status, vod.market_value, vod.fx_rate, vod.weight) == ("missing", None, None, None)
        assert vod.cost_basis is None  # its cost in USD needs the rate too
        assert holdings.prices.status == "partial" and holdings.prices.missing == ("VOD.L",)
        summary = services.dashboard.initial(pid).summary
        assert (summary.priced_count, summary.holdings_count) == (2, 3)
        assert summary.market_value == rows["AAPL"].market_value + rows["SAP.DE"].market_value
        assert services.dashboard.initial(pid).prices.status == "partial"
        chart = services.dashboard.chart(pid, "1M", wait_s=30)
        assert isinstance(chart, ChartReady)
        assert chart.series.market_value[-1] is None  # a gap, not VOD.L at a rate of 1
    finally:
        services.close()


def test_a_usd_portfolio_of_us_stocks_fetches_no_pair(world):
    services, provider = world
    pid = services.ledger.create_portfolio("US").id
    services.ledger.import_csv(pid, "date,ticker,type,quantity,price\n2025-03-03,AAPL,BUY,10,200\n")
    row = services.dashboard.holdings(pid, wait_s=30).holdings[0]
    services.charts.request(pid).result(30)  # the chart the import set off, which fetches the benchmark
    # AAPL and the chart's benchmark (issue 16), each once and no pair: in one batch, or two when the page's fetch of
    # AAPL starts before the chart generator's
    assert provider.symbols == Counter({"AAPL": 1, "^GSPC": 1}) and provider.requests in (1, 2)
    price = Decimal(repr(services.prices.prices(["AAPL"])["AAPL"].price))
    assert (row.market_value, row.cost_basis, row.currency, row.fx_rate) == (_cents(10 * price), 2000.0, "USD", 1.0)
    assert services.dashboard.load(pid).pair_needs == {}


def test_day_change_with_todays_trades_in_the_base_currency(world):
    # Issue 15: in a EUR portfolio, today's (Tuesday 8 July) buy and sale of AAPL count at their own EUR prices:
    # BUY 2 @ 150 USD at 0.9 = 135 EUR each (270), SELL 1 @ 160 USD at 0.9 = 144 EUR.
    services, _provider = world
    pid = services.ledger.create_portfolio("P EUR", "EUR").id
    services.ledger.import_csv(pid, "date,ticker,type,quantity,price,fees,note,currency,fx_rate\n"
                                    "2025-03-03,AAPL,BUY,10,200,0,,USD,0.95\n"
                                    "2025-07-08,AAPL,BUY,2,150,3,,USD,0.9\n"
                                    "2025-07-08,AAPL,SELL,1,160,2,,USD,0.9\n")
    row = services.dashboard.holdings(pid, wait_s=30).holdings[0]
    info = services.prices.prices(["AAPL"])["AAPL"]
    rate = services.dashboard.fx_view(services.dashboard.load(pid)).rate_of("AAPL")
    price, previous = Decimal(repr(info.price)), Decimal(repr(info.previous_close))
    # 11 shares now x price x rate now - 10 at the previous close x previous x rate then + 144 - 270 (no fees)
    expected = 11 * price * rate.rate - 10 * previous * rate.previous + 144 - 270
    assert row.quantity == 11.0 and row.day_change == _cents(expected)
    assert row.day_change_pct == pytest.approx(float(expected / (10 * previous * rate.previous + 270)), abs=1e-6)
    assert services.dashboard.initial(pid).summary.day_change == row.day_change
