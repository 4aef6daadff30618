"""Money in the portfolio's base currency (issue 14): services/base_currency.py, the holdings and summary of
services/analytics.py with an FxView, and the value series at daily rates. Every expected figure is worked out by
hand in the comments beside it, from the rates stated here.

The rates (the price of 1 unit in USD; crosses through USD, as services/fx.py makes them):

    day                  GBPUSD   EURUSD   -> GBPEUR = GBPUSD / EURUSD   USDEUR = 1 / EURUSD
    2024-03-01 Fri       1.28     1.024       1.25                        0.9765625
    2024-03-04 Mon       1.28     1.08        (EURUSD unused: SAP's buy says fx_rate 1.10)
    2024-06-03 Mon       1.296    1.08        1.2
    2024-08-15 Thu       1.296    1.25        1.0368                      0.8
    2024-09-02 Mon       1.296    1.12
    previous close       1.2875   1.28        1.005859375                 0.78125
    today                1.30     1.25        1.04                        0.8

The ledger (VOD.L quoted in GBP, typed in pence as a UK broker prints it; SAP.DE quoted in EUR; AAPL in USD):

    2024-03-01 BUY      VOD.L  1000 @ 70p, fees 500p   -> CSV-level: 0.70 GBP, fees 5 GBP: cost 705 GBP
    2024-03-01 BUY      AAPL      5 @ 180 USD, fees 1  -> cost 901 USD
    2024-03-04 BUY      SAP.DE   10 @ 150 EUR, fees 2, fx_rate 1.10 (EUR -> USD, given by the user): 1502 EUR
    2024-06-03 DIVIDEND VOD.L  1000 @ 2.5p = 0.025 GBP -> 25 GBP
    2024-08-15 DIVIDEND AAPL      5 @ 0.25 USD         -> 1.25 USD
    2024-09-02 SELL     SAP.DE    4 @ 170 EUR, fees 1  -> proceeds 679 EUR

Today's prices (quote currency, major unit): VOD.L 0.754 GBP (75.4p; previous 0.75), SAP.DE 160 (158), AAPL 190
(188).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pandas as pd
import pytest

from services import analytics
from services.base_currency import (
    NO_RATE,
    FxView,
    HoldingRate,
    convert_ledger,
    fx_view,
    rates_needed,
    worse_status,
)
from services.models import PriceInfo, Transaction, in_major_unit
from services.replay import replay
from services.value_series import value_series

D = Decimal
AS_OF = dt.datetime(2024, 11, 29, 16, 30, tzinfo=dt.UTC)

# The price of 1 unit in USD on each day a rate changes; a day in between takes the last earlier one.
USD_LEGS = {
    dt.date(2024, 3, 1): {"GBP": D("1.28"), "EUR": D("1.024")},
    dt.date(2024, 3, 4): {"GBP": D("1.28"), "EUR": D("1.08")},
    dt.date(2024, 6, 3): {"GBP": D("1.296"), "EUR": D("1.08")},
    dt.date(2024, 8, 15): {"GBP": D("1.296"), "EUR": D("1.25")},
    dt.date(2024, 9, 2): {"GBP": D("1.296"), "EUR": D("1.12")},
}
QUOTES = {"VOD.L": "GBP", "SAP.DE": "EUR", "AAPL": "USD"}


class Lookup:
    """`rate(source, target, day)` as services.fx.FxRates answers it (through USD, the last earlier day, None when
    unknown), recording what it was asked."""

    def __init__(self, legs=USD_LEGS):
        self.legs, self.asked = legs, []

    def leg(self, currency, day):
        if currency == "USD":
            return D(1)
        earlier = [d for d in self.legs if d <= day]
        return self.legs[max(earlier)].get(currency) if earlier else None

    def __call__(self, source, target, day):
        self.asked.append((source, target, day))
        top, bottom = self.leg(source, day), self.leg(target, day)
        return None if top is None or bottom is None else top / bottom  # exact here: every cross terminates


def tx(day, ticker, kind, quantity, price="0", fees="0", currency=None, fx_rate=None) -> Transaction:
    return Transaction(dt.date.fromisoformat(day), ticker, kind, D(str(quantity)), D(str(price)), D(str(fees)),
                       currency=currency, fx_rate=None if fx_rate is None else D(str(fx_rate)))


LEDGER = [
    # The pence the user typed, as the CSV import stores them: price and fees / 100 (exactly), currency GBP.
    tx("2024-03-01", "VOD.L", "BUY", 1000, in_major_unit(D("70")), in_major_unit(D("500")), "GBP"),
    tx("2024-03-01", "AAPL", "BUY", 5, 180, 1),
    tx("2024-03-04", "SAP.DE", "BUY", 10, 150, 2, "EUR", "1.10"),
    tx("2024-06-03", "VOD.L", "DIVIDEND", 1000, in_major_unit(D("2.5")), currency="GBP"),
    tx("2024-08-15", "AAPL", "DIVIDEND", 5, "0.25"),
    tx("2024-09-02", "SAP.DE", "SELL", 4, 170, 1),
]


def info(ticker, price, previous, status="fresh"):
    return PriceInfo(ticker, price, previous, AS_OF, AS_OF, status)


PRICES = {"VOD.L": info("VOD.L", 0.754, 0.75), "SAP.DE": info("SAP.DE", 160.0, 158.0),
          "AAPL": info("AAPL", 190.0, 188.0)}
# quote -> base now and at the previous close, per portfolio.
RATES_USD = {"VOD.L": HoldingRate("GBP", D("1.30"), D("1.2875")), "SAP.DE": HoldingRate("EUR", D("1.25"), D("1.28")),
             "AAPL": HoldingRate("USD", D(1), D(1))}
RATES_EUR = {"VOD.L": HoldingRate("GBP", D("1.04"), D("1.005859375")), "SAP.DE": HoldingRate("EUR", D(1), D(1)),
             "AAPL": HoldingRate("USD", D("0.8"), D("0.78125"))}


def in_base(base, rates, ledger=LEDGER, prices=PRICES, lookup=None):
    """(rows by ticker as JSON, summary as JSON, the converted ledger) of `ledger` in `base`."""
    converted = convert_ledger(ledger, QUOTES.get, base, lookup or Lookup())
    positions, fx = fx_view(converted, rates)
    rows = {r.ticker: r.to_json() for r in analytics.holdings_rows(positions, prices, fx=fx)}
    return rows, analytics.summary(positions, prices, base, fx=fx).to_json(), converted


# --- converting the ledger ------------------------------------------------------------------------------------


def test_each_transaction_is_converted_at_its_own_dates_rate_and_fx_rate_wins():
    lookup = Lookup()
    converted = convert_ledger(LEDGER, QUOTES.get, "USD", lookup)
    vod, aapl, sap, vod_div, aapl_div, sap_sell = converted.in_base
    assert (vod.price, vod.fees, vod.currency) == (D("0.896"), D("6.4"), "USD")  # 0.70 * 1.28, 5 * 1.28
    assert (aapl.price, aapl.fees) == (D(180), D(1))  # USD into USD: 1, no lookup
    # The user's fx_rate 1.10, not the day's 1.08: 150 * 1.10 = 165, 2 * 1.10 = 2.2
    assert (sap.price, sap.fees, sap.fx_rate) == (D("165.0"), D("2.2"), None)
    assert vod_div.price == D("0.0324")  # 0.025 GBP * 1.296 (the dividend's own date)
    assert aapl_div.price == D("0.25")
    assert (sap_sell.price, sap_sell.fees) == (D("190.4"), D("1.12"))  # 170 * 1.12, 1 * 1.12 (the sale's date)
    assert [t.quantity for t in converted.in_base] == [t.quantity for t in LEDGER]
    # Asked once per (pair, day) it needs: never for USD -> USD, nor for SAP's buy (fx_rate given).
    assert sorted(lookup.asked) == [("EUR", "USD", dt.date(2024, 9, 2)), ("GBP", "USD", dt.date(2024, 3, 1)),
                                    ("GBP", "USD", dt.date(2024, 6, 3))]
    # Every row is already in its quote currency: the local ledger is the ledger as typed, currency stated.
    assert converted.in_quote == tuple(replace(t, currency=QUOTES[t.ticker], fx_rate=None) for t in LEDGER)
    assert converted.missing == converted.missing_local == frozenset()
    assert converted.currencies == QUOTES


def test_rates_needed_names_every_lookup_so_it_can_be_read_in_bulk():
    needed = rates_needed(LEDGER, QUOTES.get, "EUR")
    # EUR portfolio: GBP on the VOD buy and dividend, USD on the AAPL buy and dividend; SAP is EUR: none.
    assert needed == {("GBP", "EUR"): [dt.date(2024, 3, 1), dt.date(2024, 6, 3)],
                      ("USD", "EUR"): [dt.date(2024, 3, 1), dt.date(2024, 8, 15)]}
    lookup = Lookup()
    table = {(s, t, d): lookup(s, t, d) for (s, t), days in needed.items() for d in days}
    asked = Lookup()
    assert convert_ledger(LEDGER, QUOTES.get, "EUR", lambda s, t, d: table[(s, t, d)]) == convert_ledger(
        LEDGER, QUOTES.get, "EUR", asked)
    assert sorted(asked.asked) == sorted(table)  # exactly the lookups named


def test_a_transaction_in_another_currency_than_the_quote_is_converted_into_it_for_the_local_ledger():
    # VOD.L bought from a USD statement: 100 shares at 0.896 USD, fees 1.28 USD, on 2024-03-01 (GBPUSD 1.28).
    buy = tx("2024-03-01", "VOD.L", "BUY", 100, "0.896", "1.28", "USD")
    converted = convert_ledger([buy], QUOTES.get, "USD", Lookup())
    assert (converted.in_base[0].price, converted.in_base[0].fees) == (D("0.896"), D("1.28"))  # USD: as typed
    local = converted.in_quote[0]  # USD -> GBP = 1 / 1.28 = 0.78125: 0.896 * 0.78125 = 0.7, 1.28 * 0.78125 = 1
    assert (local.price, local.fees, local.currency) == (D("0.7"), D("1"), "GBP")


def test_a_split_needs_no_rate_and_a_missing_rate_is_never_one():
    def no_rates(source, target, day):
        return None

    ledger = [tx("2024-03-01", "VOD.L", "BUY", 10, "0.7", currency="GBP"), tx("2024-05-01", "VOD.L", "SPLIT", 2)]
    converted = convert_ledger(ledger, QUOTES.get, "USD", no_rates)
    assert converted.missing == {"VOD.L"} and converted.missing_local == frozenset()
    assert converted.in_base[0].price == 0 and converted.in_base[0].quantity == 10  # a placeholder, never 0.7
    assert converted.in_base[1] == replace(ledger[1], currency="USD")
    # An unknown quote currency and no currency typed: nothing to convert from.
    unknown = convert_ledger([tx("2024-03-01", "XYZ", "BUY", 1, 5)], lambda t: None, "USD", Lookup())
    assert unknown.missing == unknown.missing_local == {"XYZ"}


def test_worse_status_and_holding_rate_from_a_latest_rate():
    assert worse_status("fresh", "stale") == "stale" and worse_status("market_closed", "fresh") == "market_closed"

    class Latest:  # services.fx.LatestRate's shape
        rate, status, as_of = None, "fresh", None

    assert HoldingRate.of("GBP", Latest(), D(1)).status == "missing"
    assert FxView({}, {}).rate_of("ANY") == NO_RATE


# --- a USD portfolio ------------------------------------------------------------------------------------------


def test_usd_portfolio_holdings_each_to_the_cent():
    rows, _summary, _ = in_base("USD", RATES_USD)
    assert list(rows) == ["SAP.DE", "VOD.L", "AAPL"]  # by market value: 1200.00, 980.20, 950.00
    vod = rows["VOD.L"]
    assert vod["quantity"] == 1000.0
    assert vod["cost_basis"] == 902.40  # 705 GBP * 1.28 (the buy's date)
    assert vod["avg_cost"] == 0.9024  # 902.40 / 1000, USD per share
    assert (vod["price"], vod["currency"], vod["fx_rate"]) == (0.754, "GBP", 1.3)  # the price stays in GBP
    assert vod["market_value"] == 980.20  # 1000 * 0.754 * 1.30
    assert vod["unrealized_gain"] == 77.80  # 980.20 - 902.40
    assert vod["fx_gain"] == 14.10  # 705 GBP * 1.30 - 902.40 = 916.50 - 902.40; price part 63.70 = 49 GBP * 1.30
    assert vod["day_change"] == 14.58  # 1000 * (0.754 * 1.30 - 0.75 * 1.2875) = 980.20 - 965.625 = 14.575, half up
    assert vod["price_status"] == "fresh"

    sap = rows["SAP.DE"]
    assert sap["quantity"] == 6.0  # 10 - 4
    # Bought at the user's 1.10: 1502 * 1.10 = 1652.20; the sale released 4/10 of it: 660.88; left 991.32.
    assert sap["cost_basis"] == 991.32 and sap["avg_cost"] == 165.22  # 991.32 / 6
    assert sap["market_value"] == 1200.00  # 6 * 160 * 1.25
    assert sap["unrealized_gain"] == 208.68  # 1200.00 - 991.32
    # 901.20 EUR left (1502 * 6/10) * 1.25 = 1126.50, - 991.32 = 135.18; price part 73.50 = (960 - 901.20) * 1.25
    assert sap["fx_gain"] == 135.18
    assert sap["day_change"] == -13.44  # 6 * (160 * 1.25 - 158 * 1.28) = 6 * (200 - 202.24)

    aapl = rows["AAPL"]  # in the base currency: exactly the single-currency numbers, no FX part
    assert (aapl["cost_basis"], aapl["market_value"], aapl["unrealized_gain"]) == (901.0, 950.0, 49.0)
    assert (aapl["fx_gain"], aapl["fx_rate"], aapl["day_change"]) == (0.0, 1.0, 10.0)  # 5 * (190 - 188)

    # Every row adds up: price part + FX part = unrealized gain (the price part is unrealized_gain - fx_gain).
    # Weights of 3130.20: 3833.62, 3131.43, 3034.95 steps; floors 9998, the 2 left go to .95 (AAPL) and .62 (SAP).
    assert [rows[t]["weight"] for t in rows] == [0.3834, 0.3131, 0.3035]


def test_usd_portfolio_summary_realized_gain_and_dividends():
    _rows, total, _ = in_base("USD", RATES_USD)
    assert total["currency"] == "USD"
    assert total["market_value"] == 3130.20  # 1200.00 + 980.20 + 950.00
    assert total["cost_basis"] == 2794.72  # 991.32 + 902.40 + 901.00
    assert total["unrealized_gain"] == 335.48  # 3130.20 - 2794.72 = 208.68 + 77.80 + 49.00
    assert total["day_change"] == 11.14  # 14.58 - 13.44 + 10.00
    # of 1000 * 0.75 * 1.2875 + 6 * 158 * 1.28 + 5 * 188 = 965.625 + 1213.44 + 940 = 3119.065: 0.0035716
    assert total["day_change_pct"] == 0.003572
    # Proceeds at the sale's 1.12: (4 * 170 - 1) * 1.12 = 760.48; cost released at the buy's 1.10: 660.88.
    assert total["realized_gain"] == 99.60  # 760.48 - 660.88
    assert total["dividends"] == 33.65  # 25 GBP * 1.296 (2024-06-03) = 32.40, + 1.25 USD
    assert (total["holdings_count"], total["priced_count"]) == (3, 3)


# --- the same ledger in a EUR portfolio ------------------------------------------------------------------------


def test_eur_portfolio_is_the_usd_one_converted_at_the_stated_rates():
    rows, total, converted = in_base("EUR", RATES_EUR)
    usd_rows, usd_total, _ = in_base("USD", RATES_USD)
    # SAP's stored fx_rate (EUR -> USD) does not apply: EUR into EUR is exactly 1.
    assert converted.in_base[2].price == D(150)
    vod, sap, aapl = rows["VOD.L"], rows["SAP.DE"], rows["AAPL"]
    # Market values at today's EURUSD 1.25: 980.20 / 1.25, 1200 / 1.25, 950 / 1.25.
    assert (vod["market_value"], sap["market_value"], aapl["market_value"]) == (784.16, 960.0, 760.0)
    # (1000 * 0.754 GBP * GBPEUR 1.04 = 784.16: the same, from the cross.)
    # Cost at each buy's own EURUSD: 902.40 / 1.024 = 881.25 (= 705 GBP * 1.25); 991.32 / 1.10 = 901.20 EUR;
    # 901 / 1.024 = 879.8828125 -> 879.88.
    assert (vod["cost_basis"], sap["cost_basis"], aapl["cost_basis"]) == (881.25, 901.20, 879.88)
    assert (vod["unrealized_gain"], sap["unrealized_gain"], aapl["unrealized_gain"]) == (-97.09, 58.80, -119.88)
    # Day change: USD value now / 1.25 - USD value at the previous close / 1.28:
    # VOD 980.20 / 1.25 - 965.625 / 1.28 = 784.16 - 754.39453125 = 29.76546875 -> 29.77
    # SAP 1200 / 1.25 - 1213.44 / 1.28 = 960 - 948 = 12.00; AAPL 950 / 1.25 - 940 / 1.28 = 760 - 734.375 = 25.625
    assert (vod["day_change"], sap["day_change"], aapl["day_change"]) == (29.77, 12.0, 25.63)
    # The FX part is relative to the base, so it is no conversion of the USD one: GBP against EUR here.
    # VOD 705 GBP * 1.04 - 881.25 = -148.05 (price part 49 GBP * 1.04 = 50.96; 50.96 - 148.05 = -97.09)
    # SAP quoted in the base: 0.  AAPL 901 USD * 0.8 - 879.8828125 = -159.0828125 -> -159.08 (price part 39.20)
    assert (vod["fx_gain"], sap["fx_gain"], aapl["fx_gain"]) == (-148.05, 0.0, -159.08)
    assert (vod["fx_rate"], sap["fx_rate"], aapl["fx_rate"]) == (1.04, 1.0, 0.8)
    # Every market value scaled by the same 1 / 1.25: the weights are the USD portfolio's.
    assert [rows[t]["weight"] for t in usd_rows] == [usd_rows[t]["weight"] for t in usd_rows]

    assert total["currency"] == "EUR"
    assert total["market_value"] == 2504.16 == round(usd_total["market_value"] / 1.25, 2)  # 3130.20 / 1.25
    assert total["cost_basis"] == 2662.33  # 881.25 + 901.20 + 879.88
    assert total["unrealized_gain"] == -158.17  # 2504.16 - 2662.33
    assert total["day_change"] == 67.40  # 29.77 + 12.00 + 25.63
    # Proceeds 760.48 / 1.12 = 679 EUR; cost released 660.88 / 1.10 = 600.80 EUR.
    assert total["realized_gain"] == 78.20  # 679 - 600.80
    # 32.40 / 1.08 = 30.00 (25 GBP * GBPEUR 1.2 on 2024-06-03) + 1.25 USD / 1.25 = 1.00 (2024-08-15)
    assert total["dividends"] == 31.00


# --- missing rates ----------------------------------------------------------------------------------------------


def test_a_missing_rate_today_makes_the_holding_missing_never_converted_at_one():
    rates = {**RATES_USD, "VOD.L": HoldingRate("GBP", None, None, "missing")}
    rows, total, _ = in_base("USD", rates)
    vod = rows["VOD.L"]
    assert list(rows) == ["SAP.DE", "AAPL", "VOD.L"]  # unvalued last
    assert vod["price_status"] == "missing" and vod["price"] == 0.754  # its own price is known, in GBP
    assert vod["market_value"] is None and vod["weight"] is None and vod["unrealized_gain"] is None
    assert vod["day_change"] is None and "fx_gain" not in vod and "fx_rate" not in vod
    assert vod["cost_basis"] == 902.40  # fixed at the buy's rate: known
    assert (total["priced_count"], total["holdings_count"]) == (2, 3)
    assert total["market_value"] == 2150.00  # 1200 + 950: VOD left out, not added at 0.754 * 1000 * 1
    assert total["unrealized_gain"] == 257.68  # 2150.00 - (991.32 + 901.00)
    assert total["cost_basis"] == 2794.72
    assert rows["SAP.DE"]["weight"] + rows["AAPL"]["weight"] == 1.0  # 0.5581 + 0.4419 of 2150
    # A ticker without any rate entry is missing too.
    rows, _, _ = in_base("USD", {k: v for k, v in RATES_USD.items() if k != "AAPL"})
    assert rows["AAPL"]["price_status"] == "missing" and rows["AAPL"]["market_value"] is None


def test_a_missing_rate_on_the_trade_date_leaves_that_tickers_money_unknown():
    legs = {day: {k: v for k, v in legs.items() if k != "GBP"} for day, legs in USD_LEGS.items()}
    rows, total, converted = in_base("USD", RATES_USD, lookup=Lookup(legs))  # no GBPUSD on any day
    assert converted.missing == {"VOD.L"}
    vod = rows["VOD.L"]
    assert vod["quantity"] == 1000.0 and vod["price_status"] == "missing"
    assert (vod["cost_basis"], vod["avg_cost"], vod["market_value"], vod["weight"]) == (None, None, None, None)
    assert total["cost_basis"] == 1892.32  # 991.32 + 901.00: VOD's cost is unknown, not 705 * 1
    assert total["dividends"] == 1.25  # AAPL's; VOD's 25 GBP has no rate
    assert total["market_value"] == 2150.00 and total["priced_count"] == 2


def test_a_stale_rate_makes_the_row_stale():
    rates = {**RATES_USD, "SAP.DE": HoldingRate("EUR", D("1.25"), D("1.28"), "stale")}
    rows, _, _ = in_base("USD", rates)
    assert rows["SAP.DE"]["price_status"] == "stale" and rows["SAP.DE"]["market_value"] == 1200.0


# --- same currency --------------------------------------------------------------------------------------------


def test_a_single_currency_portfolio_has_exactly_todays_numbers():
    ledger = [tx("2024-03-01", "AAPL", "BUY", 5, 180, 1), tx("2024-03-04", "MSFT", "BUY", 3, "400.5", "0.99"),
              tx("2024-06-03", "AAPL", "SELL", 2, 200, 1), tx("2024-07-01", "MSFT", "DIVIDEND", 3, "0.75")]
    prices = {"AAPL": info("AAPL", 190.0, 188.0), "MSFT": info("MSFT", 410.25, 412.0, "market_closed")}
    quotes = {"AAPL": "USD", "MSFT": "USD"}
    lookup = Lookup()
    converted = convert_ledger(ledger, quotes.get, "USD", lookup)
    assert lookup.asked == []  # nothing to convert
    positions, fx = fx_view(converted, {t: HoldingRate("USD", D(1), D(1)) for t in quotes})
    assert positions == replay(ledger)
    before = [r.to_json() for r in analytics.holdings_rows(replay(ledger), prices)]
    after = [r.to_json() for r in analytics.holdings_rows(positions, prices, fx=fx)]
    assert [{k: v for k, v in r.items() if k not in ("currency", "fx_rate", "fx_gain")} for r in after] == before
    assert all((r["currency"], r["fx_rate"], r["fx_gain"]) == ("USD", 1.0, 0.0) for r in after)
    assert (analytics.summary(positions, prices, "USD", fx=fx) == analytics.summary(replay(ledger), prices, "USD"))


# --- the value series in the base currency ---------------------------------------------------------------------


FRI, MON, TUE = (pd.Timestamp(d) for d in ("2024-03-01", "2024-03-04", "2024-03-05"))


def test_value_series_at_daily_rates_forward_filled_over_the_weekend():
    # GBPUSD bars on Thu 1.27, Fri 1.28 and Tue 1.30 (none on Mon, none on the weekend): Monday takes Friday's.
    rates_gbp = pd.Series([1.27, 1.28, 1.30], index=pd.to_datetime(["2024-02-29", "2024-03-01", "2024-03-05"]))
    legs = {dt.date(2024, 2, 29): {"GBP": D("1.27")}, dt.date(2024, 3, 1): {"GBP": D("1.28")},
            dt.date(2024, 3, 5): {"GBP": D("1.30")}}
    ledger = [
        tx("2024-03-01", "VOD.L", "BUY", 1000, "0.70", "5", "GBP"),  # 705 GBP * 1.28 = 902.40 USD
        tx("2024-03-04", "VOD.L", "SELL", 400, "0.73", "0", "GBP"),  # Monday: releases 902.40 * 0.4 = 360.96
        tx("2024-03-01", "AAPL", "BUY", 2, 100),  # quoted in the base: rate 1.0
    ]
    converted = convert_ledger(ledger, QUOTES.get, "USD", Lookup(legs))
    assert converted.in_base[1].price == D("0.9344")  # the sale at Monday's rate, Friday's 1.28: 0.73 * 1.28
    closes = pd.DataFrame({"VOD.L": [0.72, 0.73, 0.74], "AAPL": [100.0, 101.0, 102.0]}, index=[FRI, MON, TUE])
    rates = pd.DataFrame({"VOD.L": rates_gbp, "AAPL": 1.0})  # AAPL 1.0 on each of VOD's rate days
    series = value_series(converted.in_base, closes, rates=rates)
    # Fri: 1000 * 0.72 * 1.28 = 921.60 + 2 * 100 = 1121.60; cost 902.40 + 200 = 1102.40
    # Mon: 600 * 0.73 * 1.28 (Friday's rate) = 560.64 + 202 = 762.64; cost 902.40 - 360.96 = 541.44, + 200
    # Tue: 600 * 0.74 * 1.30 = 577.20 + 204 = 781.20; cost 741.44
    assert series["market_value"].tolist() == [1121.60, 762.64, 781.20]
    assert series["cost_basis"].tolist() == [1102.40, 741.44, 741.44]
    # Without rates: today's single-currency numbers (prices and costs as typed): 1000 * 0.72 + 200 = 920
    plain = value_series(ledger, closes)
    assert plain["market_value"].tolist() == [920.0, 640.0, 648.0]  # 600 * 0.73 + 202; 600 * 0.74 + 204


def test_value_series_without_a_rate_is_unknown_never_one():
    ledger = [tx("2024-03-01", "VOD.L", "BUY", 10, "0.896", "0", "USD")]  # typed in USD: cost known, 8.96
    closes = pd.DataFrame({"VOD.L": [0.72, 0.73, 0.74]}, index=[FRI, MON, TUE])
    late = pd.DataFrame({"VOD.L": [1.30]}, index=[TUE])  # the pair's first bar is Tuesday's: never used earlier
    series = value_series(ledger, closes, rates=late)
    assert series["market_value"].isna().tolist() == [True, True, False]
    assert series["market_value"].iloc[2] == 9.62  # 10 * 0.74 * 1.30
    assert series["cost_basis"].tolist() == [8.96, 8.96, 8.96]
    # No column for the ticker at all: unknown on every day it is held.
    assert value_series(ledger, closes, rates=pd.DataFrame(index=[FRI]))["market_value"].isna().all()
    # A ticker whose cost has no rate: both lines unknown while it is held.
    missing = value_series(ledger, closes, rates=late, missing={"VOD.L"})
    assert missing.isna().all().all()


@pytest.mark.parametrize("base", ["USD", "EUR"])
def test_the_rows_add_up_to_the_summary_in_any_base(base):
    rows, total, _ = in_base(base, RATES_USD if base == "USD" else RATES_EUR)
    assert round(sum(r["market_value"] for r in rows.values()), 2) == total["market_value"]
    assert round(sum(r["unrealized_gain"] for r in rows.values()), 2) == total["unrealized_gain"]
    assert round(sum(r["weight"] for r in rows.values()), 4) == 1.0
