"""Valuing positions against their quotes: the holdings rows, the summary and the allocation payloads.

Pure functions over `services.models` values: no I/O, no dash. Amounts are exact Decimals until the payload, where
they are rounded once (money to cents, quantities and fractions to 6 dp). A total that a person can add up from
the rows on screen is the sum of the rounded rows, never the rounded exact sum, so the cents agree (issue 11,
item 8): each holding's money is rounded to cents once, and the summary and the weights are built from those
cents. Replaying the ledger is services/replay.py, the value over time services/value_series.py; their names are
re-exported here for the callers that reach them as `analytics.*`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from services.base_currency import FxView, HoldingRate, rate_digits, worse_status
from services.day_change import DayTrades, day_change, day_trades, trading_day
from services.models import PriceInfo, PriceStatus, Transaction
from services.payloads import AllocationSlice, ClosedPosition, Holding, Summary
from services.replay import Oversell, OversellError, Position, oversells, replay
from services.rounding import as_float as _float
from services.rounding import cents as _cents
from services.rounding import fine as _fine
from services.rounding import fraction as _fraction
from services.rounding import from_float as _decimal
from services.rounding import ratio as _ratio
from services.value_series import RANGES, range_start, value_series

__all__ = ["RANGES", "Oversell", "OversellError", "Position", "allocation", "allocation_slices", "closed_rows",
           "holdings_rows", "oversells", "range_start", "replay", "summary", "value_series"]

ZERO = Decimal(0)
ONE = Decimal(1)
# Weights are shown as percentages with 2 decimals (0.01 % = 0.0001 of the whole): they are allocated in these
# steps so the shown weights add up to exactly 100.00 %.
WEIGHT_STEP = Decimal("0.0001")


# --- valuing positions --------------------------------------------------------------------------------------


def _weights(values: Mapping[str, Decimal], step: Decimal = WEIGHT_STEP) -> dict[str, Decimal] | None:
    """Each value's share of the total in whole `step`s that add up to exactly 1 (largest-remainder method).

    Rounding each share on its own can make three thirds 0.9999 or 100.0001 % (issue 11, item 8). Here every
    share is floored to a step and the steps left over go, one each, to the shares that lost the most by the
    flooring (ties: the larger value, then the ticker). None when the total is not positive.
    """
    total = sum(values.values(), ZERO)
    if total <= 0:
        return None
    units = 1 / step  # steps in the whole
    quotas = {t: v * units / total for t, v in values.items()}
    floors = {t: q.to_integral_value(rounding=ROUND_FLOOR) for t, q in quotas.items()}
    left = int(units - sum(floors.values(), ZERO))
    by_remainder = sorted(quotas, key=lambda t: (-(quotas[t] - floors[t]), -values[t], t))
    for ticker in by_remainder[:left]:
        floors[ticker] += 1
    return {t: (n * step).quantize(step) for t, n in floors.items()}


@dataclass(frozen=True)
class _Valued:
    """One open position against its quote (and its rate), in exact Decimals (None = cannot be known).

    Without an FxView everything is in the price's currency, as it always was. With one, `price` stays in the
    quote currency and the money is in the base currency: market_value = qty x price x rate now, cost_basis from
    the base replay, fx_gain = local cost x rate now - base cost, day_change as services/day_change.py makes it
    (without the day's trades: qty x (price x rate now - previous close x rate then)).
    """

    position: Position
    info: PriceInfo | None
    price: Decimal | None
    market_value: Decimal | None
    day_change: Decimal | None
    day_base: Decimal | None  # held at the previous close x previous close + today's buys: day_change's whole
    cost_basis: Decimal | None
    status: PriceStatus
    rate: HoldingRate | None = None  # None: no conversion (the legacy single-currency call)
    fx_gain: Decimal | None = None


def _value(position: Position, info: PriceInfo | None, fx: FxView | None = None,
           trades: DayTrades | None = None) -> _Valued:
    price = _decimal(info.price) if info else None
    previous = _decimal(info.previous_close) if info else None
    status = info.status if info and price is not None else "missing"
    qty, cost, now, then, rate, fx_gain = position.quantity, position.cost_basis, ONE, ONE, None, None
    if fx is not None:
        rate = fx.rate_of(position.ticker)
        now, then = rate.rate, rate.previous
        if position.ticker in fx.missing:  # its cost in the base currency is unknown: show none of its money
            cost = now = then = None
        status = "missing" if now is None else worse_status(status, rate.status)
        local = fx.local.get(position.ticker)
        if now is not None and local is not None and position.ticker not in fx.missing_local:
            fx_gain = local.cost_basis * now - position.cost_basis
    market_value = qty * price * now if price is not None and now is not None else None
    # Without the ledger's trades (the legacy call) every share counts as held at the previous close.
    trades = trades if trades is not None else DayTrades(dt.date.min, held=qty)
    change, day_base = day_change(trades, qty, price, previous, now, then)
    return _Valued(position, info, price, market_value, change, day_base, cost, status, rate,
                   fx_gain if market_value is not None else None)


def _day_trades(positions: Mapping[str, Position], prices: Mapping[str, PriceInfo],
                transactions: Sequence[Transaction] | None, now: dt.datetime | None) -> dict[str, DayTrades]:
    """Each position's trades on its trading day (none without the ledger: the legacy call)."""
    if transactions is None:
        return {}
    days = {t: trading_day(t, prices.get(t), now) for t, p in positions.items()
            if p.is_open or p.closed_on is not None}
    # Only a ticker traded on or after its day needs its history walked; the others held all day what they hold
    # (two passes over the list instead of a replay of the whole ledger on every request).
    traded = {t.ticker for t in transactions if t.ticker in days and t.date >= days[t.ticker]}
    moves = day_trades([t for t in transactions if t.ticker in traded], {t: days[t] for t in traded})
    return {t: moves[t] if t in traded else DayTrades(day, held=positions[t].quantity) for t, day in days.items()}


def _open_valued(positions: Mapping[str, Position], prices: Mapping[str, PriceInfo], fx: FxView | None = None,
                 trades: Mapping[str, DayTrades] | None = None) -> list[_Valued]:
    trades = trades or {}
    return [_value(p, prices.get(t), fx, trades.get(t)) for t, p in positions.items() if p.is_open]


def _closed_today(positions: Mapping[str, Position], prices: Mapping[str, PriceInfo], fx: FxView | None,
                  trades: Mapping[str, DayTrades]) -> dict[str, _Valued]:
    """Each position sold out on its trading day, valued: its day_change (None without a previous close)."""
    out: dict[str, _Valued] = {}
    for ticker, move in trades.items():
        position = positions[ticker]
        if position.is_open or position.closed_on is None or position.closed_on < move.day:
            continue
        out[ticker] = _value(position, prices.get(ticker), fx, move)
    return out


def _gains(position: Position, fx: FxView | None) -> tuple[Decimal | None, Decimal | None]:
    """(realized gain, dividends) in cents; unknown when the ticker's money has no rate into the base."""
    if fx is not None and position.ticker in fx.missing:
        return None, None
    return _cents(position.realized_gain), _cents(position.dividends)


def _rounded(v: _Valued) -> dict[str, Decimal | None]:
    """One holding's money in cents, rounded once; every total and gain on screen is built from these."""
    cost_basis = _cents(v.cost_basis)
    market_value = _cents(v.market_value)
    known = market_value is not None and cost_basis is not None
    return {
        "cost_basis": cost_basis,
        "market_value": market_value,
        # value - cost of the shown cents, so the row adds up on screen (not the rounded exact gain); the price
        # part of it is unrealized_gain - fx_gain, to the cent.
        "unrealized_gain": market_value - cost_basis if known else None,
        "day_change": _cents(v.day_change),
        "fx_gain": _cents(v.fx_gain),
    }


def holdings_rows(positions: Mapping[str, Position], prices: Mapping[str, PriceInfo], *,
                  fx: FxView | None = None, transactions: Sequence[Transaction] | None = None,
                  now: dt.datetime | None = None) -> list[Holding]:
    """The holdings table: open positions, largest market value first, unpriced ones last (by ticker).

    Money is in cents, rounded once per row; unrealized_gain is the row's market_value - cost_basis as shown.
    The weights are shares of the sum of the rows' market values, allocated in 0.0001 steps that add up to
    exactly 1 (see `_weights`); an unpriced row has no weight. With `fx` (services/base_currency.py), the money is
    in the base currency, `positions` being the base replay: each row adds its quote currency, the rate and
    fx_gain; a row without a rate is `missing` (no market value, no weight).

    `transactions` is the ledger `positions` were replayed from (in the base currency: `ConvertedLedger.in_base`):
    with it the day change counts the day's trades (services/day_change.py), "today" being each quote's trading
    day (or the exchange's date at `now`). Each row adds realized_gain, dividends and total_return (unrealized +
    realized + dividends; null while unpriced).
    """
    valued = _open_valued(positions, prices, fx, _day_trades(positions, prices, transactions, now))
    valued.sort(key=lambda v: (v.market_value is None, -(v.market_value or ZERO), v.position.ticker))
    money = [_rounded(v) for v in valued]
    weights = _weights({v.position.ticker: m["market_value"] for v, m in zip(valued, money, strict=True)
                        if m["market_value"] is not None}) or {}
    rows = []
    for v, m in zip(valued, money, strict=True):
        p = v.position
        priced = v.price is not None
        realized, dividends = _gains(p, fx)
        parts = (m["unrealized_gain"], realized, dividends)
        rows.append(Holding(
            ticker=p.ticker,
            quantity=_fine(p.quantity),
            # a per-share amount: 6 dp so penny stocks keep their digits
            avg_cost=_fine(v.cost_basis / p.quantity if v.cost_basis is not None else None),
            cost_basis=_float(m["cost_basis"]),
            price=_fine(v.price),
            market_value=_float(m["market_value"]),
            unrealized_gain=_float(m["unrealized_gain"]),
            unrealized_gain_pct=_fraction(_ratio(m["unrealized_gain"], m["cost_basis"])),
            day_change=_float(m["day_change"]),
            day_change_pct=_fraction(_ratio(m["day_change"], v.day_base)),
            weight=_float(weights.get(p.ticker)),
            price_as_of=v.info.as_of if priced else None,
            price_status=v.status,
            currency=(v.rate.currency or getattr(v.info, "currency", None)) if v.rate else None,
            fx_rate=rate_digits(v.rate.rate) if v.rate and v.rate.rate is not None else None,
            fx_gain=_float(m["fx_gain"]),
            realized_gain=_float(realized),
            dividends=_float(dividends),
            total_return=_float(sum(parts, ZERO)) if None not in parts else None,
        ))
    return rows


def closed_rows(positions: Mapping[str, Position], prices: Mapping[str, PriceInfo] | None = None, *,
                fx: FxView | None = None, transactions: Sequence[Transaction] | None = None,
                now: dt.datetime | None = None) -> list[ClosedPosition]:
    """The sold-out positions (quantity 0), latest closed first (then by ticker), with what each earned; one sold
    out on its trading day adds its day change (sale price - previous close, per share sold), as the summary's
    day change counts it. `prices` need only hold the tickers closed lately (see `holdings_rows`)."""
    prices = prices or {}
    today = _closed_today(positions, prices, fx, _day_trades(positions, prices, transactions, now))
    closed = [p for p in positions.values() if not p.is_open]
    closed.sort(key=lambda p: (-(p.closed_on or p.last_date or p.first_date).toordinal(), p.ticker))
    return [ClosedPosition(p.ticker, *map(_float, _gains(p, fx)), p.closed_on or p.last_date,
                           _float(_cents(today[p.ticker].day_change)) if p.ticker in today else None)
            for p in closed]


def summary(positions: Mapping[str, Position], prices: Mapping[str, PriceInfo], currency: str = "USD", *,
            fx: FxView | None = None, transactions: Sequence[Transaction] | None = None,
            now: dt.datetime | None = None) -> Summary:
    """Portfolio totals for the summary cards, each the sum of the holdings rows' rounded cents.

    Missing prices never turn into made-up values: market_value is the sum over priced holdings only, and
    unrealized_gain(_pct) compares it with the cost basis of those same holdings (`priced_cost_basis`, so
    unrealized_gain == market_value - priced_cost_basis to the cent), and an unpriced holding does not show up
    as a loss. cost_basis is the full cost of every open holding (it needs no price); `priced_count` says how
    many of the `holdings_count` holdings are in market_value. day_change(_pct) covers the holdings whose day
    change is known (a price, and a previous close unless every share was bought today). With holdings but
    none of them priced, the price-dependent values are None; an empty portfolio is worth exactly 0.
    realized_gain and dividends include closed positions (each position rounded to cents, then summed, like
    everything else here).

    With `fx` every figure is in `currency`, the base (see `holdings_rows`); a missing rate is a missing price,
    and the money of a ticker whose cost has no rate (`fx.missing`) is left out of every total, cost basis,
    realized gain and dividends included: its count is still in holdings_count, not in priced_count.

    With `transactions` (see `holdings_rows`) the day change counts the day's trades, and a position sold out on
    its trading day adds its day change (`closed_rows`): the summary's day change is the sum of those rows.
    """
    trades = _day_trades(positions, prices, transactions, now)
    valued = _open_valued(positions, prices, fx, trades)
    money = [_rounded(v) for v in valued]
    priced = [m for m in money if m["market_value"] is not None]
    moved = [(v.day_base, m["day_change"]) for v, m in zip(valued, money, strict=True) if m["day_change"] is not None]
    moved += [(v.day_base, _cents(v.day_change)) for v in _closed_today(positions, prices, fx, trades).values()
              if v.day_change is not None]
    market_value = sum((m["market_value"] for m in priced), ZERO) if priced or not valued else None
    priced_cost = sum((m["cost_basis"] for m in priced), ZERO)
    gain = market_value - priced_cost if market_value is not None else None
    day_change = sum((c for _b, c in moved), ZERO) if moved or not valued else None
    day_base = sum((b for b, _c in moved), ZERO)
    known = [p for t, p in positions.items() if fx is None or t not in fx.missing]
    realized = sum((_cents(p.realized_gain) for p in known), ZERO)
    dividends = sum((_cents(p.dividends) for p in known), ZERO)
    return Summary(
        market_value=_float(market_value),
        cost_basis=_float(sum((m["cost_basis"] for m in money if m["cost_basis"] is not None), ZERO)),
        unrealized_gain=_float(gain),
        unrealized_gain_pct=_fraction(_ratio(gain, priced_cost)),
        day_change=_float(day_change),
        day_change_pct=_fraction(_ratio(day_change, day_base)),
        realized_gain=_float(realized),
        dividends=_float(dividends),
        holdings_count=len(valued),
        priced_count=len(priced),
        priced_cost_basis=_float(priced_cost),
        currency=currency,
        total_return=_float(gain + realized + dividends) if gain is not None else None,
    )


def allocation_slices(rows: Sequence[Holding]) -> tuple[AllocationSlice, ...]:
    """The allocation: every weighted holdings row, largest first (ties by ticker); the weights add up to 1.

    The one allocation builder, for the page's donut and the chart payload alike. It takes the rows' own
    largest-remainder weights (`holdings_rows`), so the donut and the table agree to the 0.01 %.
    """
    weighted = [row for row in rows if row.weight is not None]
    weighted.sort(key=lambda row: (-row.weight, row.ticker))
    return tuple(AllocationSlice(row.ticker, row.weight) for row in weighted)


def allocation(rows: Sequence[Holding]) -> list[dict]:
    """`allocation_slices` as JSON: the form the chart store keeps (services/chart_generator.py)."""
    return [slice_.to_json() for slice_ in allocation_slices(rows)]
