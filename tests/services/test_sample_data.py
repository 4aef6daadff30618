"""The demo's sample portfolios: both import through the real ledger (SQLite), London trades are written in pence
and stored in pounds exactly, the euro stock in EUR, nothing oversold, and the same clock gives the same files."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from services.analytics import oversells
from services.ledger import Ledger
from services.market_hours import MarketClock
from services.models import Transaction
from services.sample_data import (
    SAMPLE_EUR_NAME,
    SAMPLE_FOREIGN_TICKERS,
    SAMPLE_NAME,
    SAMPLE_TICKERS,
    sample_csv,
    sample_eur_csv,
)

NOW = dt.datetime(2025, 6, 18, 15, 0, tzinfo=dt.UTC)  # a Wednesday, markets open
TODAY = NOW.date()


@pytest.fixture(scope="module")
def clock() -> MarketClock:
    return MarketClock(now=lambda: NOW)


@pytest.fixture(scope="module")
def csvs(clock: MarketClock) -> dict[str, str]:
    return {"USD": sample_csv(clock, TODAY), "EUR": sample_eur_csv(clock, TODAY)}


def imported(ledger: Ledger, name: str, base: str, text: str) -> list[Transaction]:
    portfolio = ledger.create_portfolio(name, base)
    count = ledger.import_csv(portfolio.id, text)
    stored = ledger.list_transactions(portfolio.id)
    assert count == len(stored) == len(rows(text))
    return stored


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def key(t: Transaction) -> tuple:
    return (t.date, t.ticker, t.type, t.quantity)


def test_the_usd_sample_keeps_its_us_tickers_and_adds_a_london_and_a_euro_stock(csvs: dict[str, str]) -> None:
    assert len(SAMPLE_TICKERS) == 20 and all("." not in t for t in SAMPLE_TICKERS)
    tickers = {row["ticker"] for row in rows(csvs["USD"])}
    assert {"VOD.L", "SAP.DE"} <= tickers and set(SAMPLE_FOREIGN_TICKERS) <= tickers
    assert tickers - set(SAMPLE_FOREIGN_TICKERS) <= set(SAMPLE_TICKERS)


def test_the_eur_sample_holds_a_us_a_german_and_a_london_stock(csvs: dict[str, str]) -> None:
    tickers = {row["ticker"] for row in rows(csvs["EUR"])}
    assert {"AAPL", "SAP.DE", "VOD.L"} <= tickers
    assert SAMPLE_EUR_NAME != SAMPLE_NAME


@pytest.mark.parametrize("base", ["USD", "EUR"])
def test_london_trades_are_written_in_pence_and_stored_in_pounds_exactly(
    ledger: Ledger, csvs: dict[str, str], base: str
) -> None:
    text = csvs[base]
    stored = {key(t): t for t in imported(ledger, f"sample {base}", base, text)}
    london = [row for row in rows(text) if row["ticker"] == "VOD.L" and row["type"] in ("BUY", "SELL")]
    assert len(london) >= 3
    for row in london:
        assert row["currency"] == "GBp"
        pence = Decimal(row["price"])
        assert Decimal(30) <= pence <= Decimal(150), "a plausible Vodafone price in pence"
        t = stored[(dt.date.fromisoformat(row["date"]), "VOD.L", row["type"], Decimal(row["quantity"]))]
        assert t.currency == "GBP"
        assert t.price == pence / 100  # e.g. 61.1 pence -> 0.611 pounds, exactly (Decimal)
        assert t.fees == Decimal(row["fees"]) / 100 == Decimal("11.95")
    dividends = [t for t in stored.values() if t.ticker == "VOD.L" and t.type == "DIVIDEND"]
    assert dividends and all(t.currency == "GBP" and t.price == Decimal("0.0225") for t in dividends)


def test_the_euro_stock_is_in_eur_with_one_explicit_rate(ledger: Ledger, csvs: dict[str, str]) -> None:
    sap = [t for t in imported(ledger, SAMPLE_NAME, "USD", csvs["USD"]) if t.ticker == "SAP.DE"]
    assert sap and all(t.currency == "EUR" for t in sap)
    rated = [t for t in sap if t.fx_rate is not None]
    assert len(rated) == 1 and rated[0].type == "BUY"
    assert Decimal("0.9") < rated[0].fx_rate < Decimal("1.4")  # EUR -> USD


def test_the_eur_sample_imports_into_a_eur_portfolio(ledger: Ledger, csvs: dict[str, str]) -> None:
    stored = imported(ledger, SAMPLE_EUR_NAME, "EUR", csvs["EUR"])
    assert ledger.get_portfolio(stored[0].portfolio_id).base_currency == "EUR"
    by_ticker = {t.ticker: t.currency for t in stored}
    assert by_ticker == {"AAPL": "USD", "SAP.DE": "EUR", "VOD.L": "GBP"}
    rated = [t for t in stored if t.fx_rate is not None]
    assert [t.ticker for t in rated] == ["AAPL"]
    assert Decimal("0.7") < rated[0].fx_rate < Decimal("1.1")  # USD -> EUR


@pytest.mark.parametrize("base", ["USD", "EUR"])
def test_no_sample_oversells(ledger: Ledger, csvs: dict[str, str], base: str) -> None:
    stored = imported(ledger, f"sample {base}", base, csvs[base])
    assert oversells(stored) == []
    assert any(t.type == "SELL" for t in stored)


def test_buys_are_priced_from_the_simulated_closes(clock: MarketClock, csvs: dict[str, str]) -> None:
    from services.providers.demo import simulated_series

    for ticker, scale in (("VOD.L", 100), ("SAP.DE", 1)):
        bars, _ = simulated_series(ticker, dt.date(2000, 1, 1), TODAY, clock)
        for row in rows(csvs["USD"]):
            if row["ticker"] == ticker and row["type"] == "BUY":
                close = bars.loc[bars.index == row["date"], "close"].iloc[0] * scale
                assert Decimal(row["price"]) == Decimal(str(round(close, 2)))


def test_the_samples_are_deterministic(csvs: dict[str, str]) -> None:
    again = MarketClock(now=lambda: NOW)  # a fresh clock: nothing cached on the instance
    assert sample_csv(again, TODAY) == csvs["USD"]
    assert sample_eur_csv(again, TODAY) == csvs["EUR"]
