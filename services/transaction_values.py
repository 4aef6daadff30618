"""How one transaction's values are read from text or JSON: exact amounts, split ratios `N:M`, times of day.

Pure helpers of `transaction_input` (which holds the rules and the limits' meaning); each returns (value, None)
or (None, why it was refused) so the caller can name every bad field at once.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation

from services.models import SplitRatio, plain_decimal

MAX_AMOUNT = Decimal("1e12")
MAX_NUMBER_CHARS = 40
# Digits with an optional fraction and exponent; the sign is allowed only so "-5" is reported as
# "must be greater than 0" rather than "not a number". Decimal() alone would also take "NaN", "inf", "1_0".
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,4})?$")
_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")
_RATIO = re.compile(r"^(\d{1,7}):(\d{1,7})$")
MAX_RATIO_TERM = 1_000_000


def parse_ratio(value: object) -> tuple[SplitRatio | None, str | None]:
    """(the ratio, None) for text `N:M`, (None, None) when `value` is no ratio at all, (None, why) for a bad one."""
    if not isinstance(value, str) or ":" not in value:
        return None, None
    match = _RATIO.match(value.strip().replace(" ", ""))
    if not match:
        return None, f"is not a ratio N:M of whole numbers: {_shown(value)}"
    new, old = int(match.group(1)), int(match.group(2))
    if new == 0 or old == 0:
        return None, "a ratio N:M needs both numbers greater than 0"
    if new > MAX_RATIO_TERM or old > MAX_RATIO_TERM:
        return None, f"a ratio N:M takes numbers up to {MAX_RATIO_TERM}"
    return SplitRatio(new, old), None


def _parse_time(value: object) -> tuple[dt.time | None, str | None]:
    if isinstance(value, dt.time):
        return value.replace(microsecond=0, tzinfo=None), None
    if isinstance(value, str) and _TIME.match(value.strip()):
        try:
            return dt.time.fromisoformat(value.strip()), None
        except ValueError:
            pass
    return None, f"must be a time HH:MM or HH:MM:SS, got {_shown(value)}"


def _decimal_places(value: Decimal) -> int:
    """Places after the point, ignoring trailing zeros (10.50 has 1)."""
    if value == 0:
        return 0
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite: checked by the caller
    count = len(digits)
    while exponent < 0 and count > 1 and digits[count - 1] == 0:
        count -= 1
        exponent += 1
    return max(0, -exponent)


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _parse_amount(value: object, places: int) -> tuple[Decimal | None, str | None]:
    """(the number, None) or (None, why it was refused). Zero and sign rules are the caller's."""
    if isinstance(value, bool):
        return None, "must be a number"
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None, "must be a finite number"
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            return None, "must be a finite number"
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_CHARS:
            return None, f"is longer than {MAX_NUMBER_CHARS} characters"
        if not _NUMBER.match(text):
            lowered = text.lower().lstrip("+-")
            if lowered in {"nan", "inf", "infinity", "snan"}:
                return None, "must be a finite number"
            return None, f"is not a number: {text!r}"
        try:
            number = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
            return None, f"is not a number: {text!r}"
    else:
        return None, "must be a number"
    if number < 0:
        return None, "must not be negative"
    if number > MAX_AMOUNT:
        return None, f"must be at most {plain_decimal(MAX_AMOUNT)}"
    if _decimal_places(number) > places:
        return None, f"has more than {places} decimal places"
    return Decimal(plain_decimal(number)), None


def _shown(value: object) -> str:
    """A refused value as a message quotes it: text cut to 40 characters, a number or null as it is, a JSON list or
    object only by kind (it may be megabytes long, or nested too deep to print)."""
    if isinstance(value, str):
        return repr(value.strip()[:40])
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    return {list: "a list", dict: "an object"}.get(type(value), f"a {type(value).__name__}")
