"""services/import_mappings.py (the format saved per portfolio, owner scoped) and services/broker_import.py (a
broker file imported into a real SQLite ledger, errors on the user's lines)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from services.broker_import import import_broker_csv
from services.broker_presets import IBKR_FLEX, SCHWAB
from services.import_mappings import ImportMappings, SavedFormat
from services.ledger import Ledger
from services.models import NotFoundError, ValidationError

SAMPLES = Path(__file__).parent.parent / "data" / "brokers"
CUSTOM = {"columns": {"date": "Day", "ticker": "Sym", "type": "Side", "quantity": "Qty", "price": "Px"},
          "actions": {"BUY": ["Bought"]}, "date_format": "MM/DD/YYYY"}


def services_of(ledger: Ledger) -> SimpleNamespace:
    """What the import needs of the services: the ledger, and cached closes (none here)."""
    return SimpleNamespace(ledger=ledger, prices=SimpleNamespace(cache=SimpleNamespace(get_closes=lambda _t: None)))


def test_default_is_our_own_csv_and_a_saved_mapping_reads_back(ledger):
    pid = ledger.create_portfolio("Main").id
    mappings = ImportMappings(ledger)
    assert mappings.get(pid) == SavedFormat("mystocktracker", None)
    assert mappings.save(pid, {"format": "schwab"}) == SavedFormat("schwab", None)
    assert mappings.save(pid, {"format": "custom", "custom": CUSTOM}).custom == CUSTOM  # replaces the first
    again = ImportMappings(ledger.for_owner("local")).get(pid)  # a new instance reads the database
    assert again == SavedFormat("custom", CUSTOM)


def test_saving_a_bad_mapping_is_refused_and_keeps_the_old_one(ledger):
    pid = ledger.create_portfolio("Main").id
    mappings = ImportMappings(ledger)
    mappings.save(pid, {"format": "ibkr"})
    with pytest.raises(ValidationError) as info:
        mappings.save(pid, {"format": "custom", "custom": {"columns": {"date": "Day", "colour": "C"}}})
    assert any("unknown column(s) colour" in e.message for e in info.value.errors)
    with pytest.raises(ValidationError, match="unknown format"):
        mappings.save(pid, {"format": "etrade"})
    assert mappings.get(pid).format == "ibkr"


def test_another_owners_portfolio_is_not_found(ledger):
    alice = ledger.for_owner("alice")
    bob = ledger.for_owner("bob")
    pid = alice.create_portfolio("Alice's").id
    ImportMappings(alice).save(pid, {"format": "schwab"})
    with pytest.raises(NotFoundError):
        ImportMappings(bob).get(pid)
    with pytest.raises(NotFoundError):
        ImportMappings(bob).save(pid, {"format": "ibkr"})
    assert ImportMappings(alice).get(pid).format == "schwab"  # bob's attempt changed nothing


def test_schwab_sample_imports_into_the_ledger(ledger):
    pid = ledger.create_portfolio("Schwab").id
    text = (SAMPLES / "schwab_transactions.csv").read_text()
    result = import_broker_csv(services_of(ledger), pid, text, SCHWAB, format_key="schwab")
    assert (result.imported, result.not_trades) == (6, 4)
    assert [(w.line, w.field) for w in result.warnings] == [(10, "type")]  # the Stock Split row
    stored = ledger.list_transactions(pid)
    held: dict[str, Decimal] = {}
    for t in stored:
        sign = {"BUY": 1, "SELL": -1}.get(t.type, 0)
        held[t.ticker] = held.get(t.ticker, Decimal(0)) + sign * t.quantity
    # MSFT 1500 bought - 1000 sold = 500; AAPL 10; SCHD 0.5123 reinvested.
    assert held == {"MSFT": Decimal(500), "AAPL": Decimal(10), "SCHD": Decimal("0.5123")}
    assert result.to_json()["not_trade_actions"]["Journal"] == 1


def test_ibkr_sample_imports_with_currency(ledger):
    pid = ledger.create_portfolio("IB").id
    text = (SAMPLES / "ibkr_flex_trades.csv").read_text()
    result = import_broker_csv(services_of(ledger), pid, text, IBKR_FLEX, format_key="ibkr")
    assert result.imported == 3
    assert [(t.ticker, t.type, t.quantity) for t in ledger.list_transactions(pid)] == [
        ("AAPL", "BUY", Decimal(20)), ("MSFT", "BUY", Decimal("7.5")), ("AAPL", "SELL", Decimal(5))]


def test_ledger_errors_name_the_users_line(ledger):
    pid = ledger.create_portfolio("IB").id
    # Selling 50 AAPL when 20 are held: the ledger refuses our line 4, which is line 7 of the user's file.
    text = (SAMPLES / "ibkr_flex_trades.csv").read_text().replace('"-5","188.85"', '"-50","188.85"')
    with pytest.raises(ValidationError) as info:
        import_broker_csv(services_of(ledger), pid, text, IBKR_FLEX, format_key="ibkr")
    assert [e.line for e in info.value.errors] == [7]
    assert ledger.list_transactions(pid) == []  # nothing half-imported


def test_a_file_with_no_trades_is_refused(ledger):
    pid = ledger.create_portfolio("IB").id
    text = ('"AssetClass","Symbol","TradeDate","Quantity","TradePrice","Buy/Sell"\n'
            '"OPT","X","20240102","1","1","BUY"\n')
    with pytest.raises(ValidationError) as info:
        import_broker_csv(services_of(ledger), pid, text, IBKR_FLEX, format_key="ibkr")
    message = info.value.errors[0].message
    assert "no trade rows" in message and "(1 row was not a trade)" in message


def test_a_cash_dividend_on_a_ticker_never_held_is_refused_on_its_line(ledger):
    pid = ledger.create_portfolio("Schwab").id
    text = ('"Transactions for account XXXX-1234"\n'
            '"Date","Action","Symbol","Description","Quantity","Price","Fees & Comm","Amount"\n'
            '"03/02/2024","Cash Dividend","PEP","PEPSICO","","","","$1.00"\n')
    with pytest.raises(ValidationError) as info:
        import_broker_csv(services_of(ledger), pid, text, SCHWAB, format_key="schwab")
    # Line 3 of the user's file (a preamble line, then the header); our CSV had it on line 2.
    assert [(e.line, e.field) for e in info.value.errors] == [(3, "ticker")]
    assert "PEP" in info.value.errors[0].message
