"""services/broker_formats.py and broker_presets.py: each preset on a sample file written in that broker's format
(tests/data/brokers/), a custom mapping, and errors named by the line of the user's file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from services.broker_formats import convert, parse_date, parse_number
from services.broker_presets import IBKR_FLEX, SCHWAB, check_headers, custom_mapping, mapping_for
from services.csv_io import parse_transactions_csv_lines
from services.models import ValidationError

SAMPLES = Path(__file__).parent.parent / "data" / "brokers"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def rows(text: str) -> list[tuple]:
    """Our CSV as (line, date, ticker, type, quantity, price, fees) through our own parser."""
    return [(line, t.date.isoformat(), t.ticker, t.type, t.quantity, t.price, t.fees)
            for line, t in parse_transactions_csv_lines(text)]


def test_parse_number_reads_broker_amounts():
    assert parse_number("$1,234.56") == Decimal("1234.56")
    assert parse_number("-$5.00") == Decimal("-5.00")
    assert parse_number("(5.25)") == Decimal("-5.25")
    assert parse_number(" 1,000 ") == Decimal("1000")
    assert parse_number("") is None
    with pytest.raises(ValueError, match="'abc' is not a number"):
        parse_number("abc")


def test_parse_date_layouts_and_as_of():
    assert parse_date("03/04/2024", ("MM/DD/YYYY",)) == dt.date(2024, 3, 4)
    # Schwab: posted on the 15th, happened ("as of") on the 14th.
    assert parse_date("02/15/2024 as of 02/14/2024", ("MM/DD/YYYY",)) == dt.date(2024, 2, 14)
    assert parse_date("20240105", ("YYYYMMDD",)) == dt.date(2024, 1, 5)
    assert parse_date("2024-01-05 14:30:00", ("YYYY-MM-DD",)) == dt.date(2024, 1, 5)
    with pytest.raises(ValueError, match="not a date in MM/DD/YYYY"):
        parse_date("2024-13-01", ("MM/DD/YYYY",))


def test_schwab_sample_converts_trades_and_counts_the_rest():
    converted = convert(sample("schwab_transactions.csv"), SCHWAB)
    # File lines: 1 preamble, 2 header, 3 Sell MSFT, 4 Qualified Dividend AAPL, 5 MoneyLink, 6 Bank Interest,
    # 7 Buy MSFT, 8 Reinvest Shares SCHD, 9 Reinvest Dividend SCHD, 10 Stock Split, 11 Buy AAPL, 12 Journal,
    # 13 the totals row (neither a trade nor counted).
    assert converted.line_map == (2, 3, 4, 7, 8, 9, 11)
    assert converted.trades == 6
    assert converted.not_trades == 4  # MoneyLink, Bank Interest, Stock Split, Journal
    assert converted.not_trade_actions == {"MoneyLink Transfer": 1, "Bank Interest": 1, "Stock Split": 1,
                                           "Journal": 1}
    assert [(w.line, w.field) for w in converted.warnings] == [(10, "type")]
    assert "ratio" in converted.warnings[0].message
    D = Decimal
    assert rows(converted.text) == [
        (2, "2024-03-04", "MSFT", "SELL", D("1000"), D("390.25"), D("1.2")),  # "1,000", "$390.25", "$1.20"
        # The "as of" day; $2.40 cash on the 10 AAPL bought on 01/02: 10 x 0.24.
        (3, "2024-02-14", "AAPL", "DIVIDEND", D("10"), D("0.24"), D("0")),
        (4, "2024-01-10", "MSFT", "BUY", D("1500"), D("370"), D("0")),  # empty Fees & Comm: 0
        (5, "2024-01-05", "SCHD", "BUY", D("0.5123"), D("75.4"), D("0")),  # Reinvest Shares is a buy
        # $38.63 on the 0.5123 SCHD held that day: 38.63 / 0.5123 = 75.4050361116..., 8 places.
        (6, "2024-01-05", "SCHD", "DIVIDEND", D("0.5123"), D("75.40503611"), D("0")),
        (7, "2024-01-02", "AAPL", "BUY", D("10"), D("185.64"), D("0.65")),
    ]
    # Our line 3 (the dividend) is the user's line 4; the header is theirs at line 2.
    assert converted.original_line(3) == 4 and converted.original_line(1) == 2


def test_ibkr_flex_sample_keeps_stocks_and_makes_sells_positive():
    converted = convert(sample("ibkr_flex_trades.csv"), IBKR_FLEX)
    # Lines: 1 header, 2 AAPL BUY, 3 an option (OPT), 4 forex (CASH), 5 MSFT BUY, 6 the header again, 7 AAPL SELL.
    assert converted.line_map == (1, 2, 5, 7)
    assert converted.not_trades == 2
    assert converted.not_trade_actions == {"AssetClass OPT": 1, "AssetClass CASH": 1}
    assert converted.text.splitlines()[0] == "date,ticker,type,quantity,price,fees,note,currency"
    D = Decimal
    assert rows(converted.text) == [
        (2, "2024-01-05", "AAPL", "BUY", D("20"), D("181.18"), D("1")),  # IBCommission -1 is a fee of 1
        (3, "2024-01-10", "MSFT", "BUY", D("7.5"), D("375.8"), D("1.0023")),
        (4, "2024-02-12", "AAPL", "SELL", D("5"), D("188.85"), D("1.0023")),  # Quantity -5
    ]
    assert all(t.currency == "USD" for _, t in parse_transactions_csv_lines(converted.text))


def test_bad_cells_are_named_by_the_users_line():
    text = sample("schwab_transactions.csv").replace('"01/10/2024","Buy"', '"01/41/2024","Buy"').replace(
        '"$185.64"', '"$18x.64"')
    with pytest.raises(ValidationError) as info:
        convert(text, SCHWAB)
    # The bad date is on line 7 of the file, the bad price on line 11.
    assert [(e.line, e.field) for e in info.value.errors] == [(7, "date"), (11, "price")]
    assert info.value.message == "2 rows rejected"


def test_a_file_without_the_presets_header_names_what_is_missing():
    with pytest.raises(ValidationError) as info:
        convert("Date,Symbol,Quantity\n01/02/2024,AAPL,1\n", SCHWAB)
    message = info.value.errors[0].message
    assert info.value.errors[0].field == "header"
    assert "Action (type)" in message and "Price (price)" in message and "Symbol" not in message


def test_custom_mapping_reads_other_headers_and_action_words():
    mapping = custom_mapping({
        "columns": {"date": "Trade day", "ticker": "Sym", "type": "Side", "quantity": "Qty", "price": "Px",
                    "fees": "Costs"},
        "actions": {"BUY": ["Kauf"], "SELL": ["Verkauf"]}, "date_format": "DD.MM.YYYY"})
    text = ("Trade day,Sym,Side,Qty,Px,Costs\n"
            "02.01.2024,sap.de,Kauf,3,\"1,234.50\",2\n"
            "03.01.2024,,Einzahlung,,,\n"
            "04.01.2024,SAP.DE,Verkauf,-1,1300,1\n")
    converted = convert(text, mapping)
    assert converted.line_map == (1, 2, 4)
    assert converted.not_trade_actions == {"Einzahlung": 1}
    assert rows(converted.text) == [(2, "2024-01-02", "SAP.DE", "BUY", Decimal(3), Decimal("1234.5"), Decimal(2)),
                                    (3, "2024-01-04", "SAP.DE", "SELL", Decimal(1), Decimal(1300), Decimal(1))]


def test_custom_mapping_is_validated():
    with pytest.raises(ValidationError) as info:
        custom_mapping({"columns": {"date": "D", "tikker": "T"}, "actions": {"BOUGHT": ["x"]},
                        "date_format": "D/M/Y"})
    text = " | ".join(e.message for e in info.value.errors)
    assert "unknown column(s) tikker" in text
    assert "missing ticker, type, quantity, price" in text
    assert "date_format" in {e.field.split(".")[-1] for e in info.value.errors}
    assert "unknown type 'BOUGHT'" in text


def test_check_headers_names_the_headers_the_file_lacks():
    mapping = custom_mapping({"columns": {"date": "Day", "ticker": "Sym", "type": "Side", "quantity": "Qty",
                                          "price": "Price"}})
    check_headers(mapping, ["Day", "Sym", "Side", "Qty", "Price"])  # all there
    with pytest.raises(ValidationError, match="invalid mapping") as info:
        check_headers(mapping, ["Day", "Symbol", "Side", "Qty", "Price"])
    assert "no column Sym (ticker)" in info.value.errors[0].message


def test_unknown_format_names_the_known_ones():
    assert mapping_for("mystocktracker") is None
    assert mapping_for("schwab") is SCHWAB
    with pytest.raises(ValidationError) as info:
        mapping_for("robinhood")
    assert "schwab" in info.value.errors[0].message and "ibkr" in info.value.errors[0].message


def test_formula_cells_are_escaped_like_our_export():
    mapping = custom_mapping({"columns": {"date": "d", "ticker": "t", "type": "k", "quantity": "q", "price": "p",
                                          "note": "n"}})
    converted = convert("d,t,k,q,p,n\n2024-01-02,AAPL,BUY,1,2,=HYPERLINK(\"x\")\n", mapping)
    [(_, transaction)] = parse_transactions_csv_lines(converted.text)
    assert transaction.note == '=HYPERLINK("x")'  # escaped on the way out, unescaped on import: unchanged


def test_a_cash_dividend_counts_the_portfolios_shares_and_stays_one_share_when_none_are_held():
    import datetime as dt

    from services.models import Transaction

    text = ('"Date","Action","Symbol","Description","Quantity","Price","Fees & Comm","Amount"\n'
            '"03/01/2024","Cash Dividend","KO","COCA COLA","","","","$9.70"\n'
            '"03/02/2024","Cash Dividend","PEP","PEPSICO","","","","$1.00"\n')
    existing = [Transaction(date=dt.date(2023, 5, 1), ticker="KO", type="BUY", quantity=Decimal(20),
                            price=Decimal(60)),
                Transaction(date=dt.date(2023, 6, 1), ticker="KO", type="SPLIT", quantity=Decimal("0.5"),
                            price=Decimal(0))]
    converted = convert(text, SCHWAB, existing)
    got = [(t.ticker, t.quantity, t.price, t.note) for _, t in parse_transactions_csv_lines(converted.text)]
    # KO: 20 shares, then a 1-for-2 split: 10 held; $9.70 / 10 = 0.97. PEP never held: 1 x $1.00.
    assert got == [("KO", Decimal(10), Decimal("0.97"), "COCA COLA (dividend total 9.7)"),
                   ("PEP", Decimal(1), Decimal(1), "PEPSICO (dividend total)")]


def test_a_cash_dividend_is_paid_on_the_shares_before_that_days_sell():
    # The ledger's day order is SPLIT, BUY, DIVIDEND, SELL: 20 bought on 03/01; on 03/04 a sell of 5 and a $2.00
    # dividend, paid on the 20 held before the sell: 2.00 / 20 = 0.10 a share.
    text = ('"Date","Action","Symbol","Description","Quantity","Price","Fees & Comm","Amount"\n'
            '"03/04/2024","Sell","KO","COCA COLA","5","$61.00","",""\n'
            '"03/04/2024","Cash Dividend","KO","COCA COLA","","","","$2.00"\n'
            '"03/01/2024","Buy","KO","COCA COLA","20","$60.00","",""\n')
    converted = convert(text, SCHWAB)
    dividend = [t for _, t in parse_transactions_csv_lines(converted.text) if t.type == "DIVIDEND"]
    assert [(t.quantity, t.price) for t in dividend] == [(Decimal(20), Decimal("0.1"))]
