"""Quote currencies as the price source names them, and the one rule that turns them into the major unit.

Pure facts shared by every provider: what leaves a provider is always in the major unit, with the major currency
in `Quote.currency` (Yahoo's `GBp` pence become GBP / 100, `ZAc` cents ZAR / 100, `ILA` agorot ILS / 100).
No I/O, no pandas.
"""

from __future__ import annotations

# Yahoo quotes these in the minor unit: (the major currency, how many minor units make one major unit). Case
# matters: `GBp` is pence, `GBP` pounds. `GBX` is the other name of pence (ISO-style, used by some feeds).
MINOR_CURRENCIES: dict[str, tuple[str, float]] = {
    "GBp": ("GBP", 100.0), "GBX": ("GBP", 100.0), "ZAc": ("ZAR", 100.0), "ILA": ("ILS", 100.0),
}

# The currency Yahoo reports for a symbol with this suffix (minor units as Yahoo names them); none: USD.
# What the demo provider simulates; the Yahoo adapter reads the currency from each answer instead.
CURRENCY_BY_SUFFIX: dict[str, str] = {
    ".L": "GBp",
    ".DE": "EUR", ".PA": "EUR", ".AS": "EUR", ".MI": "EUR", ".MC": "EUR",
    ".SW": "CHF",
    ".T": "JPY",
    ".TO": "CAD",
    ".AX": "AUD",
    ".HK": "HKD",
    ".JO": "ZAc",
    ".TA": "ILA",
}
DEFAULT_CURRENCY = "USD"


def major_currency(currency: str | None) -> tuple[str | None, float]:
    """(the major currency, the divisor from the given unit to it): ("GBp") -> ("GBP", 100.0); ("EUR") ->
    ("EUR", 1.0); None (unknown) -> (None, 1.0)."""
    if currency in MINOR_CURRENCIES:
        return MINOR_CURRENCIES[currency]
    return currency, 1.0


def listed_currency(ticker: str) -> str:
    """The currency a symbol is quoted in on its exchange, as Yahoo names it (`GBp` for VOD.L), by its suffix.

    For an exchange-rate pair see `fx_pair` (its quote currency is the pair's second currency).
    """
    base, dot, suffix = ticker.rpartition(".")
    if not dot or not base:
        return DEFAULT_CURRENCY
    return CURRENCY_BY_SUFFIX.get("." + suffix, DEFAULT_CURRENCY)


def fx_pair(ticker: str) -> tuple[str, str] | None:
    """(base, quote) of a Yahoo exchange-rate symbol: `EURUSD=X` -> ("EUR", "USD"); `JPY=X` -> ("USD", "JPY"),
    Yahoo's short form for the dollar against a currency. None for anything else (whether the codes are known
    is the caller's question)."""
    if not ticker.endswith("=X"):
        return None
    codes = ticker[:-2]
    if len(codes) == 6 and codes.isalpha() and codes.isupper():
        return codes[:3], codes[3:]
    if len(codes) == 3 and codes.isalpha() and codes.isupper():
        return "USD", codes
    return None
