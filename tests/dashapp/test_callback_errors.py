"""Dash's `on_error` hook of the app factory: a portfolio that is gone is no update, anything else still fails."""

from __future__ import annotations

import pytest

from dashapp import callback_error
from services.models import NotFoundError


def test_a_missing_portfolio_leaves_the_page_as_it_is() -> None:
    assert callback_error(NotFoundError("portfolio 7 not found")) is None  # Dash turns None into no_update


def test_any_other_error_is_raised_as_before() -> None:
    with pytest.raises(ZeroDivisionError):
        callback_error(ZeroDivisionError("a bug"))
