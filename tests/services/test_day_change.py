"""Day change with the day's trades, at the exchange's date (issue 15, item 1). Every expected value is computed
by hand in the comment next to it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from services import analytics
from services.base_currency import FxView, HoldingRate
from services.day_change import DayTrades, day_change, day_trades, trading_day
from services.models import PriceInfo, Transaction
from services.replay import replay

D = Decimal
UTC = dt.UTC
THU_CLOSE = dt.datetime(2026, 12, 3, 21, 0, tzinfo=UTC)  # 16:00 in New York, Thursday Dec 3
NOW = dt.datetime(2026, 12, 3, 21, 30, tzinfo=UTC)


def tx(date: str, ticker: str, kind: str, qty, price, fees=0) -> Transaction:
    return Transaction(dt.date.fromisoformat(date), ticker, kind, D(str(qty)), D(str(price)), D(str(fees)))


def quote(ticker: str, price: float | None, previous: float | None, as_of: dt.datetime | None = THU_CLOSE,
          ) -> PriceInfo:
    return PriceInfo(ticker, price, previous, as_of, as_of, "fresh")


def rows_of(ledger, prices, **kw) -> dict[str, dict]:
    rows = analytics.holdings_rows(replay(ledger), prices, transactions=ledger, now=NOW, **kw)
    return {r.ticker: r.to_json() for r in rows}


def summary_of(ledger, prices, **kw) -> dict:
    return analytics.summary(replay(ledger), prices, transactions=ledger, now=NOW, **kw).to_json()


def closed_of(ledger, prices, **kw) -> dict[str, dict]:
    return {c.ticker: c.to_json() for c in analytics.closed_rows(replay(ledger), prices, transactions=ledger,
                                                                 now=NOW, **kw)}


def test_no_trade_today_is_shares_times_the_move():
    ledger = [tx("2026-12-01", "AAPL", "BUY", 10, 90)]
    row = rows_of(ledger, {"AAPL": quote("AAPL", 110.0, 100.0)})["AAPL"]
    assert row["day_change"] == 100.0  # 10 x (110 - 100)
    assert row["day_change_pct"] == 0.1  # 100 / (10 x 100)


def test_the_issues_case_bought_today_is_price_minus_buy_price():
    ledger = [tx("2026-12-01", "AAPL", "BUY", 2, 90), tx("2026-12-03", "AAPL", "BUY", 2, 102.55, fees=1)]
    prices = {"AAPL": quote("AAPL", 101.10, 100.0)}
    row = rows_of(ledger, prices)["AAPL"]
    # 2 x (101.10 - 100) + 2 x (101.10 - 102.55) = 2.20 - 2.90 = -0.70 (fees not in it); the old rule showed
    # 4 x (101.10 - 100) = +4.40
    assert row["day_change"] == -0.70
    assert row["day_change_pct"] == -0.001728  # -0.70 / (2 x 100 + 2 x 102.55 = 405.10) = -0.0017279...
    assert summary_of(ledger, prices)["day_change"] == -0.70
    legacy = analytics.holdings_rows(replay(ledger), prices)[0]  # without the ledger: every share since the close
    assert legacy.day_change == 4.40


def test_a_position_opened_today_needs_no_previous_close():
    ledger = [tx("2026-12-03", "AAPL", "BUY", 5, 108)]
    row = rows_of(ledger, {"AAPL": quote("AAPL", 110.0, None)})["AAPL"]
    assert row["day_change"] == 10.0  # 5 x (110 - 108)
    assert row["day_change_pct"] == 0.018519  # 10 / (5 x 108 = 540) = 0.0185185...


def test_sold_out_today_counts_in_closed_and_in_the_summary():
    ledger = [
        tx("2026-12-01", "AAPL", "BUY", 10, 90),
        tx("2026-12-03", "AAPL", "SELL", 10, 105, fees=2),
        tx("2026-12-01", "MSFT", "BUY", 4, 50),
    ]
    prices = {"AAPL": quote("AAPL", 110.0, 100.0), "MSFT": quote("MSFT", 52.0, 51.0)}
    assert set(rows_of(ledger, prices)) == {"MSFT"}  # no holdings row for a sold-out position
    closed = closed_of(ledger, prices)["AAPL"]
    # 10 x (105 - 100) = 50; realized 10 x 105 - 2 - 900 = 148
    assert closed == {"ticker": "AAPL", "realized_gain": 148.0, "dividends": 0.0, "closed_on": "2026-12-03",
                      "day_change": 50.0}
    totals = summary_of(ledger, prices)
    assert totals["day_change"] == 54.0  # MSFT 4 x (52 - 51) = 4, plus AAPL's 50
    assert totals["day_change_pct"] == 0.04485  # 54 / (4 x 51 + 10 x 100 = 1204) = 0.0448505...


def test_partial_sale_today():
    ledger = [tx("2026-12-01", "AAPL", "BUY", 10, 90), tx("2026-12-03", "AAPL", "SELL", 4, 104)]
    row = rows_of(ledger, {"AAPL": quote("AAPL", 110.0, 100.0)})["AAPL"]
    assert row["day_change"] == 76.0  # 6 x (110 - 100) + 4 x (104 - 100) = 60 + 16
    assert row["day_change_pct"] == 0.076  # 76 / (10 x 100)


def test_split_today_counts_the_shares_after_the_split():
    # The quote's previous close is split-adjusted (100 before a 2:1 split is 50).
    ledger = [tx("2026-12-01", "AAPL", "BUY", 10, 180), tx("2026-12-03", "AAPL", "SPLIT", 2, 0),
              tx("2026-12-03", "AAPL", "SELL", 5, 52)]
    row = rows_of(ledger, {"AAPL": quote("AAPL", 55.0, 50.0)})["AAPL"]
    assert row["quantity"] == 15.0
    assert row["day_change"] == 85.0  # 15 x (55 - 50) + 5 x (52 - 50) = 75 + 10
    assert row["day_change_pct"] == 0.085  # 85 / (20 x 50)


def test_weekend_monday_pre_open_buy_against_fridays_quote_is_bought_today():
    friday_close = dt.datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    ledger = [tx("2026-12-03", "AAPL", "BUY", 10, 90), tx("2026-12-07", "AAPL", "BUY", 5, 112)]
    prices = {"AAPL": quote("AAPL", 110.0, 100.0, as_of=friday_close)}
    rows = analytics.holdings_rows(replay(ledger), prices, transactions=ledger,
                                   now=dt.datetime(2026, 12, 7, 13, 0, tzinfo=UTC))
    assert rows[0].day_change == 90.0  # 10 x (110 - 100) + 5 x (110 - 112) = 100 - 10
    # Without a quote time "today" is the exchange's date now: Saturday Dec 5 in New York
    assert trading_day("AAPL", None, dt.datetime(2026, 12, 5, 12, 0, tzinfo=UTC)) == dt.date(2026, 12, 5)


def test_today_is_the_exchange_date_of_the_quote_not_utcs():
    late = dt.datetime(2026, 12, 3, 23, 0, tzinfo=UTC)  # 18:00 Dec 3 in New York, 08:00 Dec 4 in Tokyo
    assert trading_day("AAPL", quote("AAPL", 1.0, 1.0, as_of=late)) == dt.date(2026, 12, 3)
    assert trading_day("7203.T", quote("7203.T", 1.0, 1.0, as_of=late)) == dt.date(2026, 12, 4)
    ledger = [tx("2026-12-03", "AAPL", "BUY", 10, 100), tx("2026-12-03", "7203.T", "BUY", 10, 2000)]
    prices = {"AAPL": quote("AAPL", 105.0, 101.0, as_of=late), "7203.T": quote("7203.T", 2050.0, 2010.0, as_of=late)}
    rows = rows_of(ledger, prices)
    assert rows["AAPL"]["day_change"] == 50.0  # bought on its day (Dec 3 in New York): 10 x (105 - 100)
    assert rows["7203.T"]["day_change"] == 400.0  # held at Tokyo's previous close (Dec 4): 10 x (2050 - 2010)


def test_day_change_in_the_base_currency():
    # A EUR portfolio of a USD stock: USD->EUR 0.80 at the previous close, 0.90 now. The base ledger's prices are
    # each trade's EUR price (buy 108 USD at 0.85 = 91.80 EUR; sale 105 USD at 0.85 = 89.25 EUR).
    local = [tx("2026-12-01", "AAPL", "BUY", 10, 90), tx("2026-12-03", "AAPL", "BUY", 5, 108),
             tx("2026-12-03", "AAPL", "SELL", 2, 105)]
    base = [tx("2026-12-01", "AAPL", "BUY", 10, 72), tx("2026-12-03", "AAPL", "BUY", 5, "91.80"),
            tx("2026-12-03", "AAPL", "SELL", 2, "89.25")]
    view = FxView({"AAPL": HoldingRate("USD", D("0.9"), D("0.8"))}, replay(local))
    row = rows_of(base, {"AAPL": quote("AAPL", 110.0, 100.0)}, fx=view)["AAPL"]
    # held 8 x (110 x 0.9 - 100 x 0.8) + bought 5 x (99 - 91.80) + sold 2 x (89.25 - 80) = 152 + 36 + 18.50
    assert row["day_change"] == 206.5
    assert row["day_change_pct"] == 0.164019  # 206.50 / (10 x 80 + 5 x 91.80 = 1259) = 0.1640190...


def test_day_trades_walks_the_ledger_like_the_replay():
    ledger = [tx("2026-12-01", "AAPL", "BUY", 3, 10), tx("2026-12-02", "AAPL", "SELL", 9, 10),  # oversold: skipped
              tx("2026-12-03", "AAPL", "BUY", 2, 11), tx("2026-12-04", "AAPL", "SELL", 1, 12)]
    trades = day_trades(ledger, {"AAPL": dt.date(2026, 12, 3), "MSFT": dt.date(2026, 12, 3)})
    assert trades["AAPL"] == DayTrades(dt.date(2026, 12, 3), held=D(3), bought=D(2), bought_cost=D(22), sold=D(1),
                                       proceeds=D(12))
    assert trades["MSFT"] == DayTrades(dt.date(2026, 12, 3))  # never traded
    # 4 x 13 - 3 x 10 + 12 - 22 = 52 - 30 - 10 = 12; base 3 x 10 + 22 = 52
    assert day_change(trades["AAPL"], D(4), D(13), D(10)) == (D(12), D(52))


def test_closed_rows_latest_first_and_unknown_without_a_rate():
    ledger = [
        tx("2026-11-02", "AAA", "BUY", 10, 10), tx("2026-11-20", "AAA", "SELL", 10, 12),  # 120 - 100 = 20
        tx("2026-11-02", "BBB", "BUY", 5, 20), tx("2026-11-25", "BBB", "SELL", 5, 18),  # 90 - 100 = -10
        tx("2026-11-02", "CCC", "BUY", 1, 5),  # still open: not closed
    ]
    closed = analytics.closed_rows(replay(ledger), {}, transactions=ledger, now=NOW)
    assert [c.to_json() for c in closed] == [  # no sale today: no day_change key
        {"ticker": "BBB", "realized_gain": -10.0, "dividends": 0.0, "closed_on": "2026-11-25"},
        {"ticker": "AAA", "realized_gain": 20.0, "dividends": 0.0, "closed_on": "2026-11-20"},
    ]
    view = FxView({}, replay(ledger), missing=frozenset({"AAA"}))  # AAA's money has no rate into the base
    aaa = next(c for c in analytics.closed_rows(replay(ledger), {}, fx=view) if c.ticker == "AAA")
    assert (aaa.realized_gain, aaa.dividends) == (None, None)


def test_holding_rows_carry_realized_gain_and_dividends_net_of_withholding():
    # DESIGN: a DIVIDEND's fees are the withholding tax. 10 x 0.50 = 5.00 less 0.75 withheld = 4.25.
    ledger = [tx("2026-11-02", "AAPL", "BUY", 12, 100), tx("2026-11-10", "AAPL", "SELL", 2, 110, fees=1),
              tx("2026-11-12", "AAPL", "DIVIDEND", 10, "0.50", fees="0.75")]
    row = rows_of(ledger, {"AAPL": quote("AAPL", 105.0, 104.0)})["AAPL"]
    # realized 2 x 110 - 1 - 200 = 19; unrealized 10 x 105 - 1000 = 50; total 50 + 19 + 4.25
    assert (row["realized_gain"], row["dividends"], row["total_return"]) == (19.0, 4.25, 73.25)


def test_a_reverse_split_today_given_as_a_ratio_is_exact():
    from services.models import SplitRatio

    split = Transaction(dt.date(2026, 12, 3), "AAPL", "SPLIT", D(1) / D(3), D(0), ratio=SplitRatio(1, 3))
    ledger = [tx("2026-12-01", "AAPL", "BUY", 99, 10), split]
    row = rows_of(ledger, {"AAPL": quote("AAPL", 31.0, 30.0)})["AAPL"]
    assert row["quantity"] == 33.0  # 99 x 1/3 exactly
    assert row["day_change"] == 33.0  # 33 x (31 - 30): the previous close 30 is the split-adjusted one
    assert row["day_change_pct"] == 0.033333  # 33 / (33 x 30 = 990)
