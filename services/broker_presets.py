"""The broker formats the import knows (docs/broker-import.md), and a user's own column mapping as JSON.

Pure. Each preset names the public page its columns come from. A custom mapping is
`{"columns": {our column: their header}, "actions": {"BUY": [words], ...}, "date_format": "MM/DD/YYYY"}`,
checked by `custom_mapping` (unknown columns, layouts and types named) and, against a file's header, by
`check_headers` (their headers that the file lacks named).
"""

from __future__ import annotations

from services.broker_formats import DATE_FORMATS, OUR_COLUMNS, REQUIRED, TYPES, ColumnMapping, normalized
from services.models import FieldError, ValidationError

OWN_FORMAT = "mystocktracker"  # our own CSV, imported as it always was
CUSTOM = "custom"

# Charles Schwab, "History" > "Transactions" > Export (CSV). Header as shown in the export, e.g. on
# https://mystocks.z5525.com/help/faq-en ("Date","Action","Symbol","Description","Quantity","Price","Fees & Comm",
# "Amount", MM/DD/YYYY dates, "$104.00", "-$312.00"); older exports open with a "Transactions for account ..." line
# and end with a "Transactions Total" row. Action words: Schwab's transaction types (Buy, Sell, Reinvest Shares,
# Qualified Dividend, Cash Dividend, ...). Dividends carry only the cash Amount.
SCHWAB = ColumnMapping(
    name="Charles Schwab",
    columns={"date": ("Date",), "type": ("Action",), "ticker": ("Symbol",), "note": ("Description",),
             "quantity": ("Quantity",), "price": ("Price",), "fees": ("Fees & Comm",), "amount": ("Amount",)},
    actions={normalized(word): kind for word, kind in (
        ("Buy", "BUY"), ("Reinvest Shares", "BUY"), ("Sell", "SELL"),
        ("Qualified Dividend", "DIVIDEND"), ("Cash Dividend", "DIVIDEND"), ("Non-Qualified Div", "DIVIDEND"),
        ("Reinvest Dividend", "DIVIDEND"), ("Special Dividend", "DIVIDEND"), ("Qual Div Reinvest", "DIVIDEND"),
        ("Pr Yr Div Reinvest", "DIVIDEND"), ("Special Qual Div", "DIVIDEND"))},
    date_formats=("MM/DD/YYYY",),
    skip_first_cell=("transactionstotal",),
    warn_actions={"stocksplit": "Schwab gives the shares added, not the ratio; add a SPLIT row (new shares per "
                                "old share) by hand"},
)

# Interactive Brokers, Flex Query "Trades" section as CSV. Field names from
# https://www.ibkrguides.com/reportingreference/reportguide/tradesfq.htm (Symbol, Currency, Asset Class, Trade
# Date, Quantity, Trade Price, IB Commission, Buy/Sell, Description); the CSV writes them without spaces
# ("TradeDate", "IBCommission", "CurrencyPrimary"), both spellings match. Sells have a negative Quantity and the
# commission is negative cash. Only stocks (Asset Class STK) are trades here; options, forex, futures are not.
IBKR_FLEX = ColumnMapping(
    name="Interactive Brokers (Flex Query trades)",
    columns={"date": ("TradeDate", "Date/Time"), "type": ("Buy/Sell",), "ticker": ("Symbol",),
             "quantity": ("Quantity",), "price": ("TradePrice", "T. Price"),
             "fees": ("IBCommission", "Comm/Fee"), "currency": ("CurrencyPrimary", "Currency"),
             "note": ("Description",)},
    actions={"buy": "BUY", "sell": "SELL"},
    date_formats=("YYYYMMDD", "YYYY-MM-DD", "MM/DD/YYYY"),
    only=("AssetClass", ("stk",)),
)

PRESETS: dict[str, tuple[ColumnMapping, str]] = {
    "schwab": (SCHWAB, "https://mystocks.z5525.com/help/faq-en"),
    "ibkr": (IBKR_FLEX, "https://www.ibkrguides.com/reportingreference/reportguide/tradesfq.htm"),
}


def preset_list() -> list[dict]:
    """The presets as the API lists them: key, name, source page, their header per our column, date layouts."""
    return [{"key": key, "name": mapping.name, "source": source,
             "columns": {ours: list(theirs) for ours, theirs in mapping.columns.items()},
             "date_formats": list(mapping.date_formats)} for key, (mapping, source) in PRESETS.items()]


def custom_mapping(data: object) -> ColumnMapping:
    """A user's mapping from JSON, or ValidationError naming every problem (field "mapping.<part>")."""
    errors: list[FieldError] = []
    if not isinstance(data, dict):
        raise ValidationError("invalid mapping", [FieldError("mapping", "must be a JSON object")])
    columns = data.get("columns")
    if not isinstance(columns, dict):
        errors.append(FieldError("mapping.columns", "must be an object of our column -> your header"))
        columns = {}
    unknown = [k for k in columns if k not in OUR_COLUMNS]
    if unknown:
        errors.append(FieldError("mapping.columns", f"unknown column(s) {', '.join(map(str, unknown))} (ours are "
                                                    f"{', '.join(OUR_COLUMNS)})"))
    bad = [k for k, v in columns.items() if k in OUR_COLUMNS and not (isinstance(v, str) and v.strip())]
    if bad:
        errors.append(FieldError("mapping.columns", f"{', '.join(bad)}: the header must be non-empty text"))
    missing = [c for c in REQUIRED if not columns.get(c)]
    if missing:
        errors.append(FieldError("mapping.columns", f"missing {', '.join(missing)}: choose the header of each"))
    date_format = data.get("date_format", "YYYY-MM-DD")
    if date_format not in DATE_FORMATS:
        errors.append(FieldError("mapping.date_format", f"must be one of {', '.join(DATE_FORMATS)}"))
    actions = data.get("actions") or {}
    words: dict[str, str] = {}
    if not isinstance(actions, dict):
        errors.append(FieldError("mapping.actions", "must be an object of our type -> a list of your words"))
        actions = {}
    for kind, listed in actions.items():
        if kind not in TYPES:
            errors.append(FieldError("mapping.actions", f"unknown type {kind!r} (ours are {', '.join(TYPES)})"))
        elif not isinstance(listed, list) or not all(isinstance(w, str) for w in listed):
            errors.append(FieldError("mapping.actions", f"{kind}: must be a list of words"))
        else:
            words.update({normalized(w): kind for w in listed if normalized(w)})
    if errors:
        raise ValidationError("invalid mapping", errors)
    for kind in TYPES:  # our own words always work
        words.setdefault(normalized(kind), kind)
    return ColumnMapping(name="custom", columns={k: (str(v).strip(),) for k, v in columns.items() if v},
                         actions=words, date_formats=(str(date_format),))


def check_headers(mapping: ColumnMapping, header: list[str]) -> None:
    """ValidationError naming the mapping's headers that `header` (a file's first row) does not have."""
    names = {normalized(h) for h in header}
    absent = [f"{theirs[0]} ({ours})" for ours, theirs in mapping.columns.items()
              if not any(normalized(t) in names for t in theirs)]
    if absent:
        raise ValidationError("invalid mapping", [FieldError(
            "mapping.columns", f"the file has no column {', '.join(absent)}; its headers are {', '.join(header)}")])


def mapping_for(format_key: str, custom: object = None) -> ColumnMapping | None:
    """The mapping of a format key (None for our own CSV); ValidationError for an unknown key or a bad custom."""
    if format_key == OWN_FORMAT:
        return None
    if format_key == CUSTOM:
        return custom_mapping(custom)
    if format_key in PRESETS:
        return PRESETS[format_key][0]
    known = ", ".join([OWN_FORMAT, *PRESETS, CUSTOM])
    raise ValidationError("unknown format", [FieldError("format", f"unknown format {format_key!r} (known: {known})")])
