"""One holding's detail and the closed positions (services/holding_detail.py, services/closed_positions.py).

The pure builders get a hand-made ledger, holdings rows and closes; the gatherer runs on real SQLite and a real
diskcache over the counting fake (now = Tuesday 8 July 2025; its close on a day is 100 + 0.5 x days since
1 January 2025).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from decimal import Decimal

import numpy as np
import pytest

from services.analytics import holdings_rows
from services.closed_positions import closed_of, closed_positions
from services.container import build_services
from services.dashboard_data import price_block
from services.holding_detail import HoldingDetails, holding_detail
from services.models import NotFoundError, Portfolio, PriceInfo, Transaction
from services.payloads import HoldingsData
from services.portfolio_load import LoadedPortfolio, price_needs
from services.replay import replay
from tests.fakes import CountingProvider

D = dt.date
NOW = dt.datetime(2025, 7, 8, 15, tzinfo=dt.UTC)


def txn(day: str, ticker: str, kind: str, quantity: str, price: str, fees: str = "0", note: str = "",
        currency: str | None = None, txn_id: int | None = None) -> Transaction:
    return Transaction(D.fromisoformat(day), ticker, kind, Decimal(quantity), Decimal(price), Decimal(fees), note,
                       txn_id, 1, currency)


LEDGER = [
    txn("2025-03-03", "AAA", "BUY", "10", "100", "5", txn_id=1),
    txn("2025-04-01", "AAA", "SELL", "4", "130", "2", "trim", txn_id=2),
    txn("2025-05-02", "AAA", "DIVIDEND", "6", "0.50", txn_id=3),
    txn("2025-03-03", "CCC", "BUY", "5", "20", txn_id=4),
    txn("2025-06-02", "CCC", "SELL", "5", "26", "1", "closed", txn_id=5),
    txn("2025-06-10", "CCC", "DIVIDEND", "5", "0.40", txn_id=6),  # paid after the close, still its result
]


def loaded_of(transactions: list[Transaction]) -> LoadedPortfolio:
    ordered = sorted(transactions, key=lambda t: (t.date, t.type != "BUY"))
    positions = replay(ordered)
    return LoadedPortfolio(Portfolio(1, "P", "USD", "local"), 1, ordered, positions,
                           price_needs(ordered, positions), tuple(t for t, p in positions.items() if p.is_open))


def holdings_of(loaded: LoadedPortfolio, price: float | None = 150.0, previous: float = 148.0) -> HoldingsData:
    infos = {t: PriceInfo(t, price, previous if price is not None else None, NOW if price is not None else None,
                          NOW, "fresh" if price is not None else "missing") for t in loaded.open_tickers}
    return HoldingsData(tuple(holdings_rows(loaded.positions, infos)), price_block(infos))


def closes_of(days: list[str], values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    stamps = np.array([np.datetime64(d, "ns") for d in days]).view("int64")
    return stamps, np.array(values, dtype="float64")


def test_an_open_holding_has_its_row_and_its_results():
    loaded = loaded_of(LEDGER)
    detail = holding_detail(loaded, holdings_of(loaded), "AAA", None)
    f = detail.figures
    assert detail.ticker == "AAA" and detail.is_open
    # Bought 10 at 100 + 5 fees = 1005 (100.50 a share); sold 4: cost 402, proceeds 4 x 130 - 2 = 518.
    assert f.realized_gain == 116.0  # 518 - 402
    assert f.dividends == 3.0  # 6 x 0.50
    # 6 left: cost 603; 6 x 150 = 900; unrealized 297; day change 6 x (150 - 148) = 12.
    assert (f.quantity, f.cost_basis, f.market_value, f.unrealized_gain, f.day_change) == (6.0, 603.0, 900.0,
                                                                                            297.0, 12.0)
    assert f.avg_cost == 100.5
    assert f.total_return == 416.0  # 297 + 116 + 3
    assert (f.price_status, f.first_date, f.closed_on) == ("fresh", D(2025, 3, 3), None)


def test_transactions_are_the_tickers_own_newest_first():
    loaded = loaded_of(LEDGER)
    detail = holding_detail(loaded, holdings_of(loaded), "AAA", None)
    assert [(t.id, t.type) for t in detail.transactions] == [(3, "DIVIDEND"), (2, "SELL"), (1, "BUY")]
    sold = detail.transactions[1].to_json()
    assert sold == {"id": 2, "date": "2025-04-01", "type": "SELL", "quantity": 4.0, "price": 130.0, "fees": 2.0,
                    "note": "trim"}  # no currency entered: the key is left out


def test_the_ticker_is_found_whatever_its_case_and_an_unknown_one_is_not_found():
    loaded = loaded_of(LEDGER)
    assert holding_detail(loaded, holdings_of(loaded), "aaa", None).ticker == "AAA"
    with pytest.raises(NotFoundError, match="no holding 'ZZZ'"):
        holding_detail(loaded, holdings_of(loaded), "ZZZ", None)


def test_without_cached_closes_the_chart_is_not_loaded_yet():
    loaded = loaded_of(LEDGER)
    chart = holding_detail(loaded, holdings_of(loaded), "AAA", None).chart
    assert (chart.status, chart.dates, chart.closes, chart.markers) == ("not_loaded", (), (), ())
    empty = holding_detail(loaded, holdings_of(loaded), "AAA", closes_of([], [])).chart
    assert empty.status == "not_loaded"


def test_markers_sit_at_trade_prices_and_dividends_on_the_close():
    loaded = loaded_of(LEDGER)
    # One close far before the window (first trade 3 March - 30 days = 1 February), which is left out; a NaN too.
    closes = closes_of(["2024-12-02", "2025-03-03", "2025-03-04", "2025-04-01", "2025-04-30", "2025-05-05",
                        "2025-07-07"], [50.0, 101.0, float("nan"), 129.0, 140.0, 141.0, 149.0])
    chart = holding_detail(loaded, holdings_of(loaded), "AAA", closes).chart
    assert chart.status == "ready"
    assert chart.dates == (D(2025, 3, 3), D(2025, 4, 1), D(2025, 4, 30), D(2025, 5, 5), D(2025, 7, 7))
    assert chart.closes == (101.0, 129.0, 140.0, 141.0, 149.0)
    by_type = {m.type: m for m in chart.markers}
    assert (by_type["BUY"].date, by_type["BUY"].y) == (D(2025, 3, 3), 100.0)  # its own price, not the close
    assert (by_type["SELL"].date, by_type["SELL"].y, by_type["SELL"].quantity) == (D(2025, 4, 1), 130.0, 4.0)
    # The dividend of Friday 2 May: no close that day, so the last one before it (30 April, 140).
    assert (by_type["DIVIDEND"].y, by_type["DIVIDEND"].price) == (140.0, 0.5)


def test_a_trade_in_another_currency_than_the_chart_sits_on_the_close():
    rows = [txn("2025-03-03", "SAP.DE", "BUY", "2", "110", currency="USD", txn_id=1)]
    loaded = loaded_of(rows)
    conversion = type("Conversion", (), {"currencies": {"SAP.DE": "EUR"}})()  # only `currencies` is read
    loaded = dataclasses.replace(loaded, fx=conversion)
    chart = holding_detail(loaded, holdings_of(loaded), "SAP.DE", closes_of(["2025-03-03"], [100.0])).chart
    assert chart.currency == "EUR"
    assert [(m.y, m.price, m.currency) for m in chart.markers] == [(100.0, 110.0, "USD")]


def test_a_closed_position_shows_its_realized_result_and_its_window():
    loaded = loaded_of(LEDGER)
    closes = closes_of(["2025-03-03", "2025-06-02", "2025-07-01", "2025-07-07"], [20.0, 26.0, 27.0, 28.0])
    detail = holding_detail(loaded, holdings_of(loaded), "CCC", closes)
    f = detail.figures
    assert not detail.is_open
    # Bought 5 at 20 = 100; sold 5 at 26 - 1 fee = 129: realized 29; dividend 5 x 0.40 = 2; total 31.
    assert (f.quantity, f.realized_gain, f.dividends, f.total_return) == (0.0, 29.0, 2.0, 31.0)
    assert (f.market_value, f.unrealized_gain, f.price_status, f.closed_on) == (None, None, None, D(2025, 6, 2))
    # The chart ends 30 days after the close (2 July): 7 July is left out.
    assert detail.chart.dates == (D(2025, 3, 3), D(2025, 6, 2), D(2025, 7, 1))
    assert detail.to_json()["figures"]["closed_on"] == "2025-06-02"


def test_an_unpriced_holding_has_no_total_return_rather_than_a_guess():
    loaded = loaded_of(LEDGER)
    f = holding_detail(loaded, holdings_of(loaded, price=None), "AAA", None).figures
    assert (f.market_value, f.unrealized_gain, f.total_return) == (None, None, None)
    assert (f.realized_gain, f.dividends, f.price_status) == (116.0, 3.0, "missing")


def test_the_payloads_own_fields_win_over_the_replay():
    loaded = loaded_of(LEDGER)
    holdings = holdings_of(loaded)
    # A valuation that adds the fields (issue 15): its numbers are shown as they are.
    rows = tuple(type("Row", (), {**{f.name: getattr(r, f.name) for f in dataclasses.fields(r)},
                                  "realized_gain": 1.0, "dividends": 2.0, "total_return": 3.0})()
                 for r in holdings.holdings)
    closed = ({"ticker": "CCC", "realized_gain": 7.0, "dividends": 1.0, "closed_on": "2025-06-02",
               "day_change": 0.5},)
    given = type("Holdings", (), {"holdings": rows, "prices": holdings.prices, "closed": closed})()
    f = holding_detail(loaded, given, "AAA", None).figures
    assert (f.realized_gain, f.dividends, f.total_return) == (1.0, 2.0, 3.0)
    c = holding_detail(loaded, given, "CCC", None).figures
    assert (c.realized_gain, c.dividends, c.total_return, c.day_change) == (7.0, 1.0, 8.0, 0.5)
    listed = closed_positions(loaded, given).closed
    assert [(r.ticker, r.total, r.day_change) for r in listed] == [("CCC", 8.0, 0.5)]


def test_a_null_from_the_valuation_stays_unknown_rather_than_replaced():
    loaded = loaded_of(LEDGER)
    holdings = holdings_of(loaded)
    # A closed entry whose realized gain the valuation could not know (a missing exchange rate, say).
    given = dataclasses.replace(holdings, closed=({"ticker": "CCC", "realized_gain": None, "dividends": 2.0,
                                                   "closed_on": "2025-06-02"},))
    f = holding_detail(loaded, given, "CCC", None).figures
    assert (f.realized_gain, f.dividends, f.total_return) == (None, 2.0, None)
    row = closed_positions(loaded, given).closed[0]
    assert (row.realized_gain, row.total) == (None, None)


def test_closed_positions_newest_close_first_with_their_totals():
    rows = [*LEDGER, txn("2025-02-03", "BBB", "BUY", "3", "50", txn_id=7),
            txn("2025-02-20", "BBB", "SELL", "3", "40", txn_id=8)]
    loaded = loaded_of(rows)
    payload = closed_positions(loaded, holdings_of(loaded))
    # CCC: 29 + 2 = 31 (above); BBB: 3 x 40 - 3 x 50 = -30, no dividends.
    assert [(r.ticker, r.closed_on, r.realized_gain, r.dividends, r.total) for r in payload.closed] == [
        ("CCC", D(2025, 6, 2), 29.0, 2.0, 31.0), ("BBB", D(2025, 2, 20), -30.0, 0.0, -30.0)]
    assert "day_change" not in payload.to_json()["closed"][0]  # not closed today: no day change
    assert closed_positions(loaded_of(LEDGER[:3]), holdings_of(loaded_of(LEDGER[:3]))).closed == ()


# -- the gatherer, on the real services --------------------------------------------------------------------------
CSV = """date,ticker,type,quantity,price,fees
2025-03-03,AAA,BUY,10,100,5
2025-04-01,AAA,SELL,4,130,2
2025-03-03,CCC,BUY,5,20,0
2025-06-02,CCC,SELL,5,26,1
"""


DELAY_S = 2.0  # every call to the fake source takes this long


@pytest.fixture
def services(settings, clock):
    built = build_services(settings.with_overrides(warmup_enabled=False), clock=clock,
                           provider=CountingProvider(clock, delay_s=DELAY_S))
    yield built
    built.close()


def test_a_cold_holding_answers_at_once_with_its_chart_not_loaded(services):
    pid = services.ledger.create_portfolio("P").id
    services.ledger.import_csv(pid, CSV)
    started = time.monotonic()
    detail = HoldingDetails(services.dashboard).detail(pid, "AAA")
    assert time.monotonic() - started < DELAY_S / 2  # the fake takes 2 s a call: nothing waited on it
    assert detail.chart.status == "not_loaded"
    assert detail.figures.price_status == "missing" and detail.figures.realized_gain == 116.0


def test_a_warm_holding_charts_the_cached_closes(services):
    pid = services.ledger.create_portfolio("P").id
    services.ledger.import_csv(pid, CSV)
    services.dashboard.holdings(pid, wait_s=10)  # AAA's quote and bars are cached now
    detail = HoldingDetails(services.dashboard).detail(pid, "AAA")
    chart = detail.chart
    assert chart.status == "ready"
    # The fake's bars start at the need's first date (3 March); its close that day: 100 + 0.5 x 61 = 130.5.
    assert chart.dates[0] == D(2025, 3, 3) and chart.closes[0] == 130.5
    # Its last close is yesterday's (Monday 7 July): 100 + 0.5 x 187 = 193.5.
    assert chart.dates[-1] <= D(2025, 7, 8) and chart.closes[chart.dates.index(D(2025, 7, 7))] == 193.5
    assert [(m.type, m.y) for m in chart.markers] == [("BUY", 100.0), ("SELL", 130.0)]
    # 6 shares x 194 (the fake's quote today) = 1164; cost 603; unrealized 561; + realized 116 = 677.
    assert (detail.figures.market_value, detail.figures.total_return) == (1164.0, 677.0)


def test_another_owners_portfolio_and_an_unknown_one_are_not_found(services):
    pid = services.ledger.create_portfolio("P").id
    services.ledger.import_csv(pid, CSV)
    stranger = services.for_owner("someone-else")
    with pytest.raises(NotFoundError):
        HoldingDetails(stranger.dashboard).detail(pid, "AAA")
    with pytest.raises(NotFoundError):
        closed_of(stranger.dashboard, pid)
    with pytest.raises(NotFoundError):
        HoldingDetails(services.dashboard).detail(pid + 1000, "AAA")


def test_the_closed_list_through_the_services(services):
    pid = services.ledger.create_portfolio("P").id
    services.ledger.import_csv(pid, CSV)
    payload = closed_of(services.dashboard, pid)
    assert [(r.ticker, r.realized_gain, r.total) for r in payload.closed] == [("CCC", 29.0, 29.0)]  # 130 - 1 - 100
