"""The price-status badge: one word for the page's prices and a tooltip that says why.

The words are the API's price statuses: Fresh / Market closed / Stale (with its age) / Missing / Partial.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dash import html

from dashapp.components.format import age
from services.payloads import Market, PriceBlock

WORDS = {"fresh": "Fresh", "market_closed": "Market closed", "stale": "Stale", "missing": "Missing",
         "partial": "Partial"}
NO_HOLDINGS = "No holdings"
TONES = {"none": "text-bg-light border", "fresh": "text-bg-success", "market_closed": "text-bg-secondary",
         "stale": "text-bg-warning", "missing": "text-bg-danger", "partial": "text-bg-info"}
# Where an exchange's clock is, to say "opens 09:30 EST" rather than a UTC time nobody reads.
EXCHANGE_ZONES = {"XNYS": "America/New_York", "XNAS": "America/New_York", "XTSE": "America/Toronto",
                  "XLON": "Europe/London", "XETR": "Europe/Berlin", "XPAR": "Europe/Paris",
                  "XAMS": "Europe/Amsterdam", "XTKS": "Asia/Tokyo", "XHKG": "Asia/Hong_Kong",
                  "XASX": "Australia/Sydney"}
LISTED_TICKERS = 12  # a tooltip names at most this many tickers, then "and N more"


@dataclass(frozen=True)
class BadgeView:
    """What the badge shows: its word (with the age when stale), its colour class and its tooltip lines."""

    text: str
    class_name: str
    tooltip: tuple[str, ...]


def badge_text(status: str, as_of: dt.datetime | None, now: dt.datetime) -> str:
    """`Stale (3 h)` for stale prices, else the status's word."""
    word = WORDS.get(status, status.replace("_", " ").capitalize())
    if status == "stale" and as_of is not None:
        return f"{word} ({age(now - as_of)})"
    return word


def _tickers(label: str, tickers: list[str]) -> str:
    shown = ", ".join(tickers[:LISTED_TICKERS])
    more = len(tickers) - LISTED_TICKERS
    return f"{label}: {shown}" + (f" and {more} more" if more > 0 else "")


def _local(moment: dt.datetime, exchange: str) -> str:
    zone = ZoneInfo(EXCHANGE_ZONES.get(exchange, "UTC"))
    return moment.astimezone(zone).strftime("%a %-d %b, %H:%M %Z")


def market_line(market: Market | None) -> str | None:
    """`XNYS open, closes Mon 30 Nov, 16:00 EST` or `XNYS closed, opens ...` (None without market data)."""
    if market is None:
        return None
    exchange = market.exchange or "Market"
    if market.is_open:
        closes = market.next_close
        return f"{exchange} open" + (f", closes {_local(closes, exchange)}" if closes else "")
    opens = market.next_open
    return f"{exchange} closed" + (f", opens {_local(opens, exchange)}" if opens else "")


def badge_view(prices: PriceBlock, market: Market | None, now: dt.datetime) -> BadgeView:
    """The badge for a payload's price block and market state."""
    lines: list[str] = []
    counts = {k: v for k, v in prices.counts.items() if v}
    if not counts:
        # No open holding, so no price to be fresh or stale: the API's `fresh` would be an empty claim here.
        return BadgeView(NO_HOLDINGS, f"badge rounded-pill price-badge {TONES['none']}",
                         ("No open holdings: there is no price to keep fresh",))
    lines.append("Prices: " + ", ".join(f"{n} {WORDS.get(s, s).lower()}" for s, n in counts.items()))
    as_of = prices.as_of
    if as_of is not None:
        exchange = market.exchange if market is not None else "UTC"
        lines.append(f"Oldest price: {_local(as_of, exchange)} ({age(now - as_of)} ago)")
    if prices.missing:
        lines.append(_tickers("Missing", list(prices.missing)))
    if prices.stale:
        lines.append(_tickers("Stale", list(prices.stale)))
    if prices.fetching:  # so a red "Missing" during a first load says it is on its way, not lost
        lines.append(_tickers("Being fetched now", list(prices.fetching)))
    market_text = market_line(market)
    if market_text:
        lines.append(market_text)
    if prices.simulated:
        lines.append("Prices are simulated (demo provider)")
    return BadgeView(badge_text(prices.status, as_of, now),
                     f"badge rounded-pill price-badge {TONES.get(prices.status, '')}", tuple(lines))


def tooltip_children(view: BadgeView) -> list[html.Div]:
    """The tooltip's lines as components (text children: escaped by React)."""
    return [html.Div(line) for line in view.tooltip]
