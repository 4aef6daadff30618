"""One holding's own time-weighted return (issue 16): the holding detail's `figures.twr`.

The value series of that ticker alone (its closes, in the base currency at each day's rate) and its own flows
(its buys in, its sales and dividends out, each at its own date's rate), from its first trade to its close, or
to today while it is open. The same chained formula as the portfolio's (services/returns.py `twr_series`).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from services import analytics
from services.fx import FxRates
from services.portfolio_load import LoadedPortfolio
from services.returns import ledger_flows, twr_series

Closes = tuple[np.ndarray, np.ndarray]  # (dates as int64 nanoseconds, closes): PriceCache.get_closes


def holding_twr(loaded: LoadedPortfolio, ticker: str, closes: Closes | None, today: dt.date,
                fx: FxRates | None = None) -> float | None:
    """The cumulative TWR of `ticker` over the time it was held; None without closes (or a rate) to value it."""
    position = loaded.positions.get(ticker)
    if position is None or closes is None or not len(closes[0]):
        return None
    frame = pd.DataFrame({ticker: np.asarray(closes[1], dtype="float64")},
                         index=pd.DatetimeIndex(np.asarray(closes[0], dtype="int64").view("datetime64[ns]")))
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    end = today if position.is_open else (position.closed_on or position.last_date)
    txns = [t for t in loaded.base_transactions if t.ticker == ticker]
    conversion = loaded.fx
    if conversion is None or conversion.ledger is None or fx is None:
        values = analytics.value_series(txns, frame, start=position.first_date, end=end)
    else:
        from services.chart_generator import rates_frame  # not at import: the generator imports far more

        values = analytics.value_series(txns, frame, start=position.first_date, end=end,
                                        rates=rates_frame(fx, conversion, frame),
                                        missing=conversion.missing & {ticker})
    if values.empty:
        return None
    flows = ledger_flows(txns, values.index)
    line = twr_series(values["market_value"], flows.inflows, flows.outflows).dropna()
    if line.empty:
        return None
    last = float(line.iloc[-1])
    return last if math.isfinite(last) else None
