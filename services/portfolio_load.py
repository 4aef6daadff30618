"""Load + replay + price needs of one portfolio, in one place, memoized per ledger version.

The dashboard's builders, the chart generator and the warm-up all start from the same question (what does this
portfolio hold, and which prices does it need?); they ask `PortfolioLoader.load`, which answers a frozen
`LoadedPortfolio`. Reading and replaying 20,000 transactions takes a few hundred ms; the version check takes one.

With `fx` the loaded portfolio is also in its base currency (services/portfolio_fx.py): `positions` are the
replay of the converted ledger, `pair_needs` the exchange-rate pairs it needs. That conversion is memoized per
(ledger version, base currency) and recomputed only when a quote it lacked has landed since (its fingerprint).

A load asks the database one question when the memo is current: the portfolio's row, with its version, in one
read (`read_portfolio`); a caller that read it already hands it in (`known`) and the load asks nothing. The version
is read on every load, never kept: a write through another process shows in the very next load.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from services.forksafe import reset_in_child
from services.fx import FxRates
from services.ledger import Ledger
from services.models import Portfolio, Transaction
from services.portfolio_fx import Conversion, convert, still_valid
from services.price_planning import Need, merge_needs
from services.replay import Position, replay

MEMO_PORTFOLIOS = 16  # ledgers kept replayed in memory, per process
# ... and at most this many bytes of them (issue 17: one 400k-row ledger is ~280 MB), estimated as rows x
# MEMO_ROW_BYTES: a loaded transaction with its share of the replay measured ~690 bytes (tracemalloc, 50k rows of
# bench.writes). The newest entry is always kept: its caller holds it anyway.
MEMO_BYTES = 128 * 2**20
MEMO_ROW_BYTES = 700


def _trim(memo: dict, keep: int, budget: int, rows_of: Callable[[object], int]) -> None:
    """Drop the oldest entries of `memo` (insertion order) until at most `keep` remain and their estimated bytes fit
    `budget`; the newest entry always stays."""
    total = sum(rows_of(entry) for entry in memo.values()) * MEMO_ROW_BYTES
    while len(memo) > 1 and (len(memo) > keep or total > budget):
        total -= rows_of(memo.pop(next(iter(memo)))) * MEMO_ROW_BYTES


def _converted_rows(entry: tuple[int, Conversion]) -> int:
    """The rows a kept conversion holds (none when the ledger needed no conversion)."""
    ledger = entry[1].ledger
    return 0 if ledger is None else len(ledger.in_base)


def read_portfolio(ledger: Ledger, portfolio_id: int) -> tuple[Portfolio, int]:
    """The portfolio (as `ledger`, maybe an owner's view, shows it: NotFoundError otherwise) and its version, in one
    read: one session and one statement, where `get_portfolio` and `version` took two of each."""
    return ledger.portfolio_and_version(portfolio_id)


def first_dates(transactions: Sequence[Transaction]) -> dict[str, dt.date]:
    """Every ticker of the ledger with its earliest transaction date (what `Ledger.portfolio_tickers` answers)."""
    first: dict[str, dt.date] = {}
    for txn in transactions:
        known = first.get(txn.ticker)
        if known is None or txn.date < known:
            first[txn.ticker] = txn.date
    return dict(sorted(first.items()))


def price_needs(transactions: Sequence[Transaction], positions: Mapping[str, Position]) -> dict[str, Need]:
    """What a chart needs of every ticker ever held: open ones up to now, closed ones up to their last trade."""
    last_trade: dict[str, dt.date] = {}
    for txn in transactions:
        last_trade[txn.ticker] = max(txn.date, last_trade.get(txn.ticker, txn.date))
    return {
        ticker: Need(position.first_date, None if position.is_open else last_trade[ticker])
        for ticker, position in positions.items()
    }


@dataclass(frozen=True)
class LoadedPortfolio:
    """One portfolio at one ledger version: its transactions, positions (in the base currency), the stocks' price
    needs (`needs`: the chart's date grid), open tickers and its conversion (`fx`: quote currencies, the
    converted ledger, the pairs' needs)."""

    portfolio: Portfolio
    version: int
    transactions: Sequence[Transaction]
    positions: Mapping[str, Position]
    needs: Mapping[str, Need]
    open_tickers: tuple[str, ...]
    fx: Conversion | None = None
    tickers: Mapping[str, dt.date] = field(default_factory=dict)  # every ticker ever traded -> its first date

    @property
    def base(self) -> str:
        return self.portfolio.base_currency

    @property
    def base_transactions(self) -> Sequence[Transaction]:
        """The ledger `positions` were replayed from: converted into the base currency, else as entered (what the
        day change reads the day's trades from)."""
        return self.fx.ledger.in_base if self.fx is not None and self.fx.ledger is not None else self.transactions

    def closed_since(self, day: dt.date) -> tuple[str, ...]:
        """The tickers sold out on or after `day`: a sale of today still counts in today's day change."""
        return tuple(t for t, p in self.positions.items()
                     if not p.is_open and p.closed_on is not None and p.closed_on >= day)

    @property
    def pair_needs(self) -> Mapping[str, Need]:
        """The exchange-rate pairs the conversion needs (none when every amount is in the base currency)."""
        return self.fx.pair_needs if self.fx is not None else {}

    @property
    def open_needs(self) -> dict[str, Need]:
        """The needs of the open holdings: what the quotes of the page are fetched for."""
        return {ticker: self.needs[ticker] for ticker in self.open_tickers}

    @property
    def benchmark_needs(self) -> dict[str, Need]:
        """The benchmark's history from the first transaction on, and its quote (issue 16); none while the ledger
        is empty (there is no return to compare yet)."""
        if not self.needs:
            return {}
        return {self.portfolio.benchmark: Need(min(need.start for need in self.needs.values()))}

    @property
    def fetch_needs(self) -> dict[str, Need]:
        """Every stock's needs, the pairs' and the benchmark's: what the chart and the warm-up fetch, in the same
        batches."""
        return merge_needs([self.needs, self.pair_needs, self.benchmark_needs])

    @property
    def open_fetch_needs(self) -> dict[str, Need]:
        """The open holdings' needs and the pairs': what the page fetches."""
        return merge_needs([self.open_needs, self.pair_needs])


@dataclass(frozen=True)
class _Replayed:
    version: int
    transactions: Sequence[Transaction]
    positions: Mapping[str, Position]
    needs: Mapping[str, Need]
    open_tickers: tuple[str, ...]
    tickers: Mapping[str, dt.date]


class PortfolioLoader:
    """Loads portfolios from the ledger; the replay is kept per ledger version for the last few portfolios."""

    def __init__(self, ledger: Ledger, fx: FxRates | None = None, memo_size: int = MEMO_PORTFOLIOS,
                 memo_bytes: int = MEMO_BYTES):
        self.ledger, self.fx, self.memo_size, self.memo_bytes = ledger, fx, memo_size, memo_bytes
        self._memo: dict[int, _Replayed] = {}
        self._converted: dict[int, tuple[int, Conversion]] = {}  # portfolio -> (ledger version, conversion)
        self._lock = threading.Lock()
        # Dash's background callbacks fork the server. The chart generator's thread and the request threads take
        # this lock; a fork while one held it left the child's copy locked for good, and the background wait for
        # prices hung in its first load (the page's summary and holdings then never refilled).
        reset_in_child(self._reset_after_fork)

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()

    def load(self, portfolio_id: int, ledger: Ledger | None = None,
             known: tuple[Portfolio, int] | None = None) -> LoadedPortfolio:
        """The portfolio as the ledger has it now (NotFoundError for an unknown id, or for one that `ledger`, an
        owner's view, does not show). The memo is shared by every owner: ids are never reused, so it is safe.

        `known`: the (portfolio, version) this request has just read through `ledger` (`read_portfolio`), not read
        again."""
        portfolio, version = known if known is not None else read_portfolio(ledger or self.ledger, portfolio_id)
        with self._lock:
            memo = self._memo.get(portfolio_id)
        if memo is None or memo.version != version:
            transactions = self.ledger.list_transactions(portfolio_id)
            positions = replay(transactions)
            memo = _Replayed(version, transactions, positions, price_needs(transactions, positions),
                             tuple(t for t, p in positions.items() if p.is_open), first_dates(transactions))
            with self._lock:
                self._memo.pop(portfolio_id, None)  # re-inserted: the newest, so the last to go
                self._memo[portfolio_id] = memo
                _trim(self._memo, self.memo_size, self.memo_bytes, lambda entry: len(entry.transactions))
        conversion = self._conversion(portfolio_id, memo, portfolio.base_currency)
        positions = conversion.positions if conversion is not None else memo.positions
        return LoadedPortfolio(portfolio, memo.version, memo.transactions, positions, memo.needs,
                               memo.open_tickers, conversion, memo.tickers)

    def _conversion(self, portfolio_id: int, memo: _Replayed, base: str) -> Conversion | None:
        """The memo's ledger in `base`, reused while its version, base and fingerprint still hold."""
        if self.fx is None:
            return None
        with self._lock:
            known = self._converted.get(portfolio_id)
        if (known is not None and known[0] == memo.version and known[1].base == base
                and still_valid(self.fx.prices, known[1])):
            return known[1]
        conversion = convert(self.fx, memo.transactions, memo.positions, base)
        with self._lock:
            self._converted.pop(portfolio_id, None)
            self._converted[portfolio_id] = (memo.version, conversion)
            # A conversion holds the ledger again, in the base currency: bounded the same way.
            _trim(self._converted, self.memo_size, self.memo_bytes, _converted_rows)
        return conversion
