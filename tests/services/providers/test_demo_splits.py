"""DemoProvider, issue 15 item 8: the previous close on a split day is split-adjusted, and a position bought on a
weekend is priced (through the real services: SQLite ledger, diskcache, the demo provider)."""

from __future__ import annotations

import datetime as dt

import pytest

from services.config import Settings
from services.container import build_services
from services.market_hours import MarketClock
from services.providers.base import FetchRequest, TickerHistory
from services.providers.demo import DemoProvider
from tests.fakes import FrozenTime

UTC = dt.UTC
# NVDA split 10:1 on Monday 2024-06-10 (KNOWN_SPLITS); the session before it is Friday 2024-06-07.
SPLIT_DAY_AFTER_CLOSE = dt.datetime(2024, 6, 10, 22, 0, tzinfo=UTC)  # 18:00 in New York
SPLIT_DAY_OPEN = dt.datetime(2024, 6, 10, 13, 31, tzinfo=UTC)  # 09:31 EDT, one minute into the session
_TIME = FrozenTime(SPLIT_DAY_AFTER_CLOSE)
_CLOCK = MarketClock(now=_TIME)


def _nvda(moment: dt.datetime) -> TickerHistory:
    _TIME.set(moment)
    result = DemoProvider(_CLOCK).fetch([FetchRequest("NVDA", dt.date(2024, 6, 3))])["NVDA"]
    assert isinstance(result, TickerHistory)
    return result


def test_the_previous_close_on_a_split_day_is_in_the_new_shares():
    history = _nvda(SPLIT_DAY_AFTER_CLOSE)
    bars = history.bars
    assert bars.index[-1] == bars.index[bars["split"] == 10.0][0]  # the last bar is the split's
    friday_close = float(bars["close"].iloc[-2])
    # Friday's close in today's shares: one old share is ten new ones.
    assert history.quote.previous_close == pytest.approx(friday_close / 10)
    day_change = history.quote.price / history.quote.previous_close - 1
    # A simulated day moves a few percent at most; unadjusted it was about -90 % (price / (10 x price) - 1).
    assert abs(day_change) < 0.2


def test_the_intraday_price_on_a_split_day_starts_from_the_adjusted_close():
    history = _nvda(SPLIT_DAY_OPEN)
    friday_close = float(history.bars["close"].iloc[-2])
    # One minute in, the price is still within the wiggle (0.2 %) plus one minute of the day's move of the
    # adjusted previous close; from the unadjusted one it was about 10x the day's close.
    assert history.quote.previous_close == pytest.approx(friday_close / 10)
    assert history.quote.price == pytest.approx(friday_close / 10, rel=0.01)


def test_a_day_without_a_split_keeps_the_plain_previous_close():
    _TIME.set(dt.datetime(2024, 6, 11, 22, 0, tzinfo=UTC))
    history = DemoProvider(_CLOCK).fetch([FetchRequest("NVDA", dt.date(2024, 6, 3))])["NVDA"]
    assert history.quote.previous_close == float(history.bars["close"].iloc[-2])


@pytest.mark.parametrize("now", [
    dt.datetime(2025, 11, 30, 15, 0, tzinfo=UTC),  # Sunday: the Saturday's range has no session yet
    dt.datetime(2025, 12, 1, 12, 0, tzinfo=UTC),  # Monday, 07:00 in New York: still none
])
def test_a_position_bought_on_a_saturday_is_priced(tmp_path, now):
    settings = Settings().with_overrides(
        data_dir=tmp_path, cache_dir=tmp_path / "cache", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        price_provider="demo", demo_mode=False, price_wait_s=5.0)
    clock = MarketClock(now=lambda: now)
    services = build_services(settings, clock=clock, provider=DemoProvider(clock))
    try:
        portfolio = services.ledger.create_portfolio("Weekend", "USD")
        services.ledger.add_transaction(portfolio.id, {
            "date": "2025-11-29", "ticker": "MSFT", "type": "BUY", "quantity": 3, "price": 100})  # a Saturday
        holding = services.dashboard.holdings(portfolio.id, wait_s=5).holdings[0]
        _TIME.set(now)
        friday = DemoProvider(_CLOCK).fetch([FetchRequest("MSFT", dt.date(2025, 11, 24))])["MSFT"]
        # Before: "no data in the requested range" (a failure), so the holding stayed unpriced.
        assert holding.price == pytest.approx(float(friday.bars["close"].iloc[-1]))  # Friday 2025-11-28's close
        assert holding.market_value == pytest.approx(round(3 * holding.price, 2))
    finally:
        services.close()
