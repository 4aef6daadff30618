"""How numbers read on screen."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dashapp.components.format import age, currency_prefix, money, parse_time, percent, tone

GRID_FUNCTIONS = Path(__file__).resolve().parents[2] / "assets" / "dashAgGridFunctions.js"


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
    (-0.0, True, "0.00%"),
    (0.5, False, "50.00%"),
    (None, True, "—"),
    # Too small for 2 decimals but not zero: 2 significant digits, never "-0.00%" (issue 11, item 8).
    (-0.000016, True, "-0.0016%"),  # -$0.16 on $10,000
    (-0.0000004, True, "-0.000040%"),  # -$0.16 on $400,000
    (0.000016, True, "+0.0016%"),
    (0.000016, False, "0.0016%"),
    (0.00004999, True, "+0.0050%"),  # 0.004999 % -> 2 significant digits 0.0050
    (0.00005, True, "+0.01%"),  # 0.005 % rounds up to 0.01 %: the usual 2 decimals
    (0.0000099999, True, "+0.0010%"),  # 0.00099999 % -> 0.0010, not 0.00100
    (12.345678, True, "+1,234.57%"),
])
def test_percent(fraction, signed, expected):
    assert percent(fraction, signed=signed) == expected


JS_PERCENT_CASES = [0.1234, -0.0001, 0.0, -0.0, 0.5, -0.000016, -0.0000004, 0.000016, 0.00004999, 0.00005,
                    0.0000099999, 12.345678, -1e-12]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the grid's formatter")
@pytest.mark.parametrize("signed", [True, False])
def test_grid_percent_formatter_reads_as_python(signed):
    """stPercent (assets/dashAgGridFunctions.js) and format.percent write every fraction the same way."""
    script = (
        "global.window = {};"
        f"require({json.dumps(str(GRID_FUNCTIONS))});"
        f"const values = {json.dumps(JS_PERCENT_CASES)};"
        f"console.log(JSON.stringify(values.map(v => window.dashAgGridFunctions.stPercent(v, {str(signed).lower()}))));"
    )
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True).stdout
    assert json.loads(out) == [percent(v, signed=signed) for v in JS_PERCENT_CASES]
    assert json.loads(out)[5] == "-0.0016%"


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
