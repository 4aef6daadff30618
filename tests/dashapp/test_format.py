"""How numbers read on screen."""

from __future__ import annotations

import datetime as dt

import pytest

from dashapp.components.format import age, currency_prefix, money, parse_time, percent, tone


@pytest.mark.parametrize(("value", "currency", "signed", "expected"), [
    (1234.5, "USD", False, "$1,234.50"),
    (-1234.5, "USD", False, "-$1,234.50"),
    (1234.5, "USD", True, "+$1,234.50"),
    (0.0, "USD", True, "$0.00"),
    (None, "USD", False, "—"),
    (12.0, "EUR", False, "€12.00"),
    (12.0, "CHF", False, "CHF 12.00"),
    (12.0, None, False, "$12.00"),
    (0.004, "USD", False, "$0.00"),
    (1_234_567_890.129, "GBP", False, "£1,234,567,890.13"),
])
def test_money(value, currency, signed, expected):
    assert money(value, currency, signed=signed) == expected


@pytest.mark.parametrize(("fraction", "signed", "expected"), [
    (0.1234, True, "+12.34%"),
    (-0.0001, True, "-0.01%"),
    (0.0, True, "0.00%"),
    (0.5, False, "50.00%"),
    (None, True, "—"),
])
def test_percent(fraction, signed, expected):
    assert percent(fraction, signed=signed) == expected


@pytest.mark.parametrize(("value", "expected"), [(1.0, "text-gain"), (-0.01, "text-loss"), (0, "text-muted"),
                                                 (None, "text-muted")])
def test_tone(value, expected):
    assert tone(value) == expected


@pytest.mark.parametrize(("seconds", "expected"), [
    (0, "0 s"), (59, "59 s"), (60, "1 min"), (3599, "59 min"), (3600, "1 h"), (47 * 3600, "47 h"),
    (3 * 86400, "3 d"), (-5, "0 s"),
])
def test_age(seconds, expected):
    assert age(dt.timedelta(seconds=seconds)) == expected


def test_currency_prefix_defaults_to_dollars():
    assert currency_prefix(None) == "$"
    assert currency_prefix("usd") == "$"


def test_parse_time_is_aware():
    assert parse_time("2026-11-27T18:00:00+00:00") == dt.datetime(2026, 11, 27, 18, tzinfo=dt.UTC)
    assert parse_time("2026-11-27T18:00:00").tzinfo is dt.UTC
    assert parse_time(None) is None
    assert parse_time("") is None
