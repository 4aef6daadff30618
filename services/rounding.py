"""Rounding money for the payloads (services/analytics.py): exact Decimals until the payload, where each amount is
rounded once: money to cents (half up), quantities and fractions to 6 dp. Pure."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
MICRO = Decimal("0.000001")


def round_to(value: Decimal | None, step: Decimal) -> float | None:
    return None if value is None else float(value.quantize(step, rounding=ROUND_HALF_UP))


def cents(value: Decimal | None) -> Decimal | None:
    """Money rounded to cents (half up), still a Decimal so totals of rounded rows stay exact."""
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def as_float(value: Decimal | None) -> float | None:
    """An already rounded Decimal for the JSON payload."""
    return None if value is None else float(value)


def fine(value: Decimal | None) -> float | None:
    return round_to(value, MICRO)


def fraction(value: Decimal | None) -> float | None:
    """A fraction to 6 dp, but never fewer than 2 significant digits.

    A -$0.16 day change on a $400,000 portfolio is -0.0000004: at 6 dp it would be 0, a "no change" next to a
    visible loss. Below 1e-5 the fraction keeps its first two significant digits instead (-0.0000004 stays).
    """
    if value is None or not value or abs(value) >= Decimal("0.00001"):
        return fine(value)
    return round_to(value, Decimal(1).scaleb(value.adjusted() - 1))


def ratio(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    return None if part is None or not whole else part / whole


def from_float(price: float | None) -> Decimal | None:
    """A provider float as the Decimal it prints as (0.1 -> Decimal('0.1')); NaN and inf are unknown."""
    if price is None or not math.isfinite(price):
        return None
    return Decimal(repr(float(price)))
