"""One holding's own time-weighted return (services/returns_holding.py), the holding detail's `figures.twr`.

Hand-made ledgers and closes for the pure function; the gatherer on real SQLite and diskcache over the counting
fake (its close on a day is 100 + 0.5 x days since 1 January 2025; now is Tuesday 8 July 2025).
"""

from __future__ import annotations

import datetime as dt

import pytest

from services.container import build_services
from services.holding_detail import HoldingDetails, holding_detail
from services.returns_holding import holding_twr
from tests.fakes import CountingProvider
from tests.services.test_holding_detail import closes_of, holdings_of, loaded_of, txn

D = dt.date
WEEK = ["2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06", "2025-03-07"]
# the README's worked week on AAA, and CCC bought and sold out inside it, then a dividend after its close.
LEDGER = [
    txn("2025-03-03", "AAA", "BUY", "10", "100", txn_id=1),
    txn("2025-03-05", "AAA", "BUY", "10", "110", txn_id=2),
    txn("2025-03-06", "AAA", "SELL", "5", "108.90", txn_id=3),
    txn("2025-03-03", "CCC", "BUY", "5", "20", txn_id=4),
    txn("2025-03-05", "CCC", "SELL", "5", "24", "1", txn_id=5),
    txn("2025-03-10", "CCC", "DIVIDEND", "5", "0.40", txn_id=6),
]
AAA = closes_of(WEEK, [100.0, 110.0, 99.0, 108.90, 119.79])
CCC = closes_of([*WEEK, "2025-03-10"], [20.0, 22.0, 24.0, 30.0, 31.0, 32.0])


def test_an_open_holdings_twr_chains_its_own_days():
    # 1,000 -> 1,100 (+10 %); 1,980 / (1,100 + 1,100) (-10 %); (1,633.50 + 544.50) / 1,980 (+10 %);
    # 1,796.85 / 1,633.50 (+10 %): 1.1 x 0.9 x 1.1 x 1.1 - 1 = 0.1979, the stock's own 119.79 / 100 - 1.
    loaded = loaded_of(LEDGER)
    assert holding_twr(loaded, "AAA", AAA, D(2025, 3, 7)) == pytest.approx(0.1979, abs=1e-9)


def test_a_closed_holdings_twr_ends_at_its_close():
    # CCC: 5 x 20 = 100, then 5 x 22 = 110 (+10 %); sold out on 5 March for 5 x 24 - 1 = 119 out, value 0:
    # (0 + 119) / 110 - 1. Chained: 1.1 x 119 / 110 = 1.19 -> 0.19. The later closes (30, 31, 32) and the
    # dividend after the close are outside the time it was held.
    loaded = loaded_of(LEDGER)
    assert holding_twr(loaded, "CCC", CCC, D(2025, 7, 8)) == pytest.approx(0.19, abs=1e-9)


def test_without_closes_the_twr_is_unknown():
    loaded = loaded_of(LEDGER)
    assert holding_twr(loaded, "AAA", None, D(2025, 3, 7)) is None
    assert holding_twr(loaded, "AAA", closes_of([], []), D(2025, 3, 7)) is None
    assert holding_twr(loaded, "ZZZ", AAA, D(2025, 3, 7)) is None


def test_the_detail_payload_carries_it_rounded_and_null_by_default():
    loaded = loaded_of(LEDGER)
    detail = holding_detail(loaded, holdings_of(loaded), "AAA", AAA, twr=0.19790000004)
    assert detail.figures.twr == 0.1979 and detail.to_json()["figures"]["twr"] == 0.1979
    assert holding_detail(loaded, holdings_of(loaded), "AAA", AAA).to_json()["figures"]["twr"] is None


@pytest.fixture
def services(settings, clock):
    built = build_services(settings.with_overrides(warmup_enabled=False), clock=clock,
                           provider=CountingProvider(clock))
    yield built
    built.close()


def test_the_gatherer_measures_the_cached_closes(services):
    pid = services.ledger.create_portfolio("P").id
    services.ledger.import_csv(pid, "date,ticker,type,quantity,price\n2025-03-03,AAA,BUY,10,100\n")
    services.dashboard.holdings(pid, wait_s=10)  # AAA's quote and bars are cached now
    detail = HoldingDetails(services.dashboard).detail(pid, "AAA")
    # One buy, nothing after: the TWR is the close's own ratio since 3 March (100 + 0.5 x 61 = 130.5) to the last
    # cached close (yesterday's 100 + 0.5 x 187 = 193.5, or today's 194).
    last = detail.chart.dates[-1]
    close = 100 + 0.5 * (last - D(2025, 1, 1)).days
    assert last in (D(2025, 7, 7), D(2025, 7, 8))
    assert detail.figures.twr == pytest.approx(close / 130.5 - 1, abs=1e-6)
