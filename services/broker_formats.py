"""Broker CSV exports turned into our own ledger CSV (docs/broker-import.md): column mapping and presets.

Pure: text in, text out. A `ColumnMapping` says which of the broker's headers holds each of our columns, which of
its action words are BUY/SELL/DIVIDEND/SPLIT, and how it writes dates. `convert` finds the header row (a preamble
such as Schwab's "Transactions for account ..." line is skipped), turns every trade row into a canonical row
(`date,ticker,type,quantity,price,fees,note[,currency]`) and counts the rows that are not trades (deposits,
interest, journals, totals) by action word. `ConvertedCsv.line_map` takes a line of the canonical text back to the
line of the user's file, so every error and warning names the line the user sees.

The presets (their sources in `services/broker_presets.py`) and a user's own mapping go through the same code.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from services.csv_io import escape_cell, rows_rejected
from services.models import FieldError, Transaction, ValidationError

OUR_COLUMNS: tuple[str, ...] = ("date", "ticker", "type", "quantity", "price", "fees", "note", "currency", "amount")
REQUIRED: tuple[str, ...] = ("date", "ticker", "type", "quantity", "price")
TYPES: tuple[str, ...] = ("BUY", "SELL", "DIVIDEND", "SPLIT")
# The date layouts a mapping may name (the first of a preset's that parses a cell wins).
DATE_FORMATS: dict[str, str] = {"YYYY-MM-DD": "%Y-%m-%d", "MM/DD/YYYY": "%m/%d/%Y", "DD/MM/YYYY": "%d/%m/%Y",
                                "DD.MM.YYYY": "%d.%m.%Y", "YYYYMMDD": "%Y%m%d"}
MAX_HEADER_SEARCH = 20  # lines looked through for the header row (a preamble is a line or two)
_CURRENCY_SIGNS = re.compile(r"[$€£¥\s\u00a0]|USD|EUR|GBP")
_CASH_MARK = "(dividend total)"  # the note's end on a dividend given only as its cash amount
# "09/25/2023 as of 09/22/2023" (Schwab): the trade happened on the "as of" date.
_AS_OF = re.compile(r"\bas of\b\s*(.+)$", re.IGNORECASE)


def normalized(text: str) -> str:
    """A header or action word compared loosely: "Fees & Comm" = "fees&comm" = "FEES & COMM", "Trade Date" =
    "TradeDate"."""
    return re.sub(r"[^a-z0-9&/]", "", text.lower())


@dataclass(frozen=True)
class ColumnMapping:
    """Which broker header holds each of our columns (alternatives allowed: the first present wins), their action
    words (normalized) -> our type, or "" for a row that is not a trade, and their date layouts.

    `amount`: the cash column, used for a DIVIDEND row that gives no per-share figures (quantity 1, price = the
    cash). `unknown_action_is_trade=False` counts a row of an action word not listed as not a trade.
    `only`: (header, allowed values) — rows of other values (e.g. IB's options, AssetClass OPT) are not trades.
    """

    name: str
    columns: Mapping[str, tuple[str, ...]]
    actions: Mapping[str, str]
    date_formats: tuple[str, ...] = ("YYYY-MM-DD",)
    only: tuple[str, tuple[str, ...]] | None = None
    skip_first_cell: tuple[str, ...] = ()  # normalized first cells of footer rows ("transactionstotal")
    warn_actions: Mapping[str, str] = field(default_factory=dict)  # action -> why it was left out

    def to_json(self) -> dict:
        return {"name": self.name, "columns": {k: list(v) for k, v in self.columns.items()},
                "actions": dict(self.actions), "date_formats": list(self.date_formats)}


@dataclass(frozen=True)
class ConvertedCsv:
    """Our CSV of a broker file: `text`, `line_map[i]` = the user's line of our line i + 1 (header included),
    the rows that were not trades (`not_trades`, and how many per action word) and warnings on the user's lines."""

    text: str
    line_map: tuple[int, ...]
    trades: int
    not_trades: int
    not_trade_actions: dict[str, int]
    warnings: tuple[FieldError, ...]

    def original_line(self, line: int | None) -> int | None:
        """The user's line of our line `line` (None stays None; a line past the end is the file's last)."""
        if line is None or not self.line_map:
            return line
        return self.line_map[min(max(line, 1), len(self.line_map)) - 1]

    def remap(self, errors: list[FieldError]) -> list[FieldError]:
        return [FieldError(e.field, e.message, self.original_line(e.line)) for e in errors]


def parse_number(text: str) -> Decimal | None:
    """ "$1,234.56" -> 1234.56, "-$5.00" -> -5.00, "(5.00)" -> -5.00, "" -> None; ValueError if not a number."""
    cleaned = _CURRENCY_SIGNS.sub("", text.strip())
    if cleaned == "":
        return None
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    cleaned = cleaned.strip("()").replace(",", "")
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{text.strip()!r} is not a number")
    return -number if negative else number


def parse_date(text: str, formats: tuple[str, ...]) -> dt.date:
    """The date of a cell in one of `formats` (a time after it, "2023-01-05 14:30:00" or "20230105;143000", and
    Schwab's "as of" are handled); ValueError naming the layouts expected."""
    cell = text.strip()
    found = _AS_OF.search(cell)
    if found:
        cell = found.group(1).strip()
    cell = re.split(r"[ ;T,]", cell, maxsplit=1)[0]
    for name in formats:
        try:
            return dt.datetime.strptime(cell, DATE_FORMATS[name]).date()
        except ValueError:
            continue
    raise ValueError(f"{text.strip()!r} is not a date in {' or '.join(formats)}")


def _plain(number: Decimal) -> str:
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _find_header(rows: list[tuple[int, list[str]]], mapping: ColumnMapping) -> tuple[int, dict[str, int]]:
    """The index in `rows` of the header and our column -> cell index; ValidationError naming what is missing."""
    best: tuple[int, list[str]] | None = None
    for index, (_line, cells) in enumerate(rows[:MAX_HEADER_SEARCH]):
        names = [normalized(c) for c in cells]
        positions: dict[str, int] = {}
        for ours, theirs in mapping.columns.items():
            for header in theirs:
                if normalized(header) in names:
                    positions[ours] = names.index(normalized(header))
                    break
        missing = [ours for ours in REQUIRED if ours in mapping.columns and ours not in positions]
        if not missing:
            return index, positions
        if best is None or len(missing) < len(best[1]):
            best = (index, missing)
    wanted = ", ".join(f"{mapping.columns[m][0]} ({m})" for m in (best[1] if best else REQUIRED)
                       if m in mapping.columns)
    line = rows[best[0]][0] if best and rows else 1
    raise ValidationError("header rejected", [FieldError(
        "header", f"no header row with the {mapping.name} columns: missing {wanted}", line)])


def _cell(cells: list[str], positions: dict[str, int], ours: str) -> str:
    index = positions.get(ours)
    return cells[index].strip() if index is not None and index < len(cells) else ""


def convert(text: str, mapping: ColumnMapping, existing: Sequence[Transaction] = ()) -> ConvertedCsv:
    """Our ledger CSV of a broker file read through `mapping`; ValidationError naming the user's lines when a
    trade row's date or a number cannot be read, or no header row is found (nothing is half-converted).

    A dividend given only as cash (Schwab) becomes shares held that day x cash per share, the shares counted from
    `existing` (the portfolio's transactions) and the file's own trades; held none, it stays 1 x the cash."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if any(c.strip() for c in cells):
                rows.append((start, cells))
    except csv.Error as exc:
        raise ValidationError("file rejected", [FieldError("file", f"is not valid CSV: {exc}", line)]) from None
    if not rows:
        raise ValidationError("empty file", [FieldError("file", "is empty: expected a header row", 1)])
    header_index, positions = _find_header(rows, mapping)
    header_line, header_cells = rows[header_index]
    has_currency = "currency" in positions
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "ticker", "type", "quantity", "price", "fees", "note", *(["currency"] if has_currency
                                                                                      else [])])
    line_map = [header_line]
    out_rows: list[list[str]] = []
    cash_rows: set[int] = set()  # indexes in out_rows of dividends given as cash only
    errors: list[FieldError] = []
    warnings: list[FieldError] = []
    skipped: dict[str, int] = {}
    header_names = [normalized(c) for c in header_cells]
    for line, cells in rows[header_index + 1:]:
        if [normalized(c) for c in cells] == header_names or normalized(cells[0]) in mapping.skip_first_cell:
            continue  # a repeated header (IB, one per account) or a totals row: neither a trade nor a row
        action = _cell(cells, positions, "type")
        key = normalized(action)
        if mapping.only is not None:
            column, allowed = mapping.only
            index = next((i for i, n in enumerate(header_names) if n == normalized(column)), None)
            value = cells[index].strip() if index is not None and index < len(cells) else ""
            if index is not None and normalized(value) not in allowed:
                skipped[f"{column} {value}"] = skipped.get(f"{column} {value}", 0) + 1  # "AssetClass OPT"
                continue
        ours = mapping.actions.get(key)
        if not ours:
            if key in mapping.warn_actions:
                warnings.append(FieldError("type", f"{action!r} not imported: {mapping.warn_actions[key]}", line))
            skipped[action or "(none)"] = skipped.get(action or "(none)", 0) + 1
            continue
        row, problems = _row(cells, positions, ours, mapping, line)
        if problems:
            errors.extend(problems)
            continue
        if row[-1].endswith(_CASH_MARK):
            cash_rows.add(len(out_rows))
        out_rows.append([*row, *([_cell(cells, positions, "currency").upper()] if has_currency else [])])
        line_map.append(line)
    if errors:
        raise rows_rejected(errors)
    spread_cash_dividends(out_rows, cash_rows, existing)
    writer.writerows(out_rows)
    return ConvertedCsv(out.getvalue(), tuple(line_map), len(line_map) - 1, sum(skipped.values()), skipped,
                        tuple(warnings))


def _row(cells: list[str], positions: dict[str, int], ours: str, mapping: ColumnMapping,
         line: int) -> tuple[list[str], list[FieldError]]:
    """One trade row in our columns (text cells escaped as the export escapes them), or the problems found."""
    problems: list[FieldError] = []
    values: dict[str, Decimal | None] = {}
    for name in ("quantity", "price", "fees", "amount"):
        try:
            values[name] = parse_number(_cell(cells, positions, name))
        except ValueError as error:
            problems.append(FieldError(name, f"{error} (column {mapping.columns[name][0]})", line))
    try:
        day = parse_date(_cell(cells, positions, "date"), mapping.date_formats).isoformat()
    except ValueError as error:
        problems.append(FieldError("date", str(error), line))
        day = ""
    if problems:
        return [], problems
    quantity, price, fees, amount = (values[n] for n in ("quantity", "price", "fees", "amount"))
    note = " ".join(_cell(cells, positions, "note").split())[:500]  # one line: line numbers stay the file's
    if ours == "DIVIDEND" and (quantity is None or price is None) and amount is not None:
        # A cash total without per-share figures (Schwab): one "share" of the whole cash amount.
        quantity, price = Decimal(1), abs(amount)
        note = (note + " " if note else "") + _CASH_MARK
    # Sells are often negative quantities (IB), commissions negative cash (IB, Schwab's "Fees & Comm" is not).
    cells_out = [day, escape_cell(_cell(cells, positions, "ticker").upper()), ours,
                 "" if quantity is None else _plain(abs(quantity)), "" if price is None else _plain(abs(price)),
                 "" if fees is None else _plain(abs(fees)), escape_cell(note)]
    return cells_out, []


def _held(events: list[tuple[str, str, str, Decimal]], ticker: str, day: str) -> Decimal:
    """Shares of `ticker` a dividend on `day` (ISO) is paid on, after `events` (date, ticker, type, quantity):
    the ledger's day order is SPLIT, BUY, DIVIDEND, SELL, so that day's sells come after it."""
    held = Decimal(0)
    for when, name, kind, quantity in sorted(events, key=lambda e: e[0]):
        if name != ticker or when > day or (when == day and kind == "SELL"):
            continue
        if kind == "BUY":
            held += quantity
        elif kind == "SELL":
            held -= quantity
        elif kind == "SPLIT":
            held *= quantity
    return held


def spread_cash_dividends(rows: list[list[str]], cash_rows: set[int], existing: Sequence[Transaction]) -> None:
    """Rewrite each cash-only dividend row (1 x the cash) as shares held that day x cash per share (8 places, the
    most a price has: the total moves by less than a millionth of a cent per share)."""
    if not cash_rows:
        return
    events = [(t.date.isoformat(), t.ticker, t.type, t.quantity) for t in existing]
    for index, row in enumerate(rows):
        if index not in cash_rows and row[2] in ("BUY", "SELL", "SPLIT"):
            try:
                events.append((row[0], row[1], row[2], Decimal(row[3])))
            except InvalidOperation:
                continue  # a ratio such as 2:1: the ledger reads it; the count here does without it
    for index in sorted(cash_rows):
        row = rows[index]
        held = _held(events, row[1], row[0])
        if held > 0:
            cash = Decimal(row[4])
            row[3], row[4] = _plain(held), _plain((cash / held).quantize(Decimal("1e-8")))
            row[6] = f"{row[6][: -len(_CASH_MARK)]}(dividend total {_plain(cash)})".strip()
