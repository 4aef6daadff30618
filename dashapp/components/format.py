"""How numbers, money, percentages and ages read on screen. Pure; `None` (not known yet) reads as an em dash."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

DASH = "—"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "INR": "₹"}


def currency_prefix(currency: str | None) -> str:
    """The symbol written before an amount: `$` for USD, else the ISO code and a space."""
    code = (currency or "USD").upper()
    return CURRENCY_SYMBOLS.get(code, f"{code} ")


def money(value: float | None, currency: str | None = "USD", *, signed: bool = False) -> str:
    """`$1,234.56`, `-$1,234.56`; with `signed`, gains get a `+`. None is an em dash."""
    if value is None:
        return DASH
    sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
    return f"{sign}{currency_prefix(currency)}{abs(value):,.2f}"


def percent(fraction: float | None, *, signed: bool = True, digits: int = 2) -> str:
    """A fraction as a percentage: 0.1234 -> `+12.34%`. None is an em dash.

    A non-zero fraction too small for `digits` decimals keeps two significant digits (-0.000016 -> `-0.0016%`),
    never `-0.00%` next to a visible loss (issue 11, item 8); exactly zero is `0.00%`. stPercent in
    assets/dashAgGridFunctions.js follows the same rule for the holdings grid.
    """
    if fraction is None:
        return DASH
    sign = "-" if fraction < 0 else ("+" if signed and fraction > 0 else "")
    scaled = abs(fraction) * 100
    text = f"{scaled:,.{digits}f}"
    if fraction and not any(c in "123456789" for c in text):
        text = format(Decimal(f"{scaled:.1e}"), "f")  # 2 significant digits, written out: 1.6e-03 -> 0.0016
    return f"{sign}{text}%"


def tone(value: float | None) -> str:
    """The CSS class that colours a gain green and a loss red."""
    if value is None or value == 0:
        return "text-muted"
    return "text-gain" if value > 0 else "text-loss"


def age(delta: dt.timedelta) -> str:
    """A short age: `40 s`, `12 min`, `3 h`, `2 d`."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def parse_time(value: str | None) -> dt.datetime | None:
    """An ISO 8601 time from a payload, as an aware datetime (UTC if it names no zone)."""
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
