"""The shared price store: diskcache in CACHE_DIR, one SQLite file that every process and worker opens.

Daily bars are kept per ticker for good (a past bar as traded never changes) and only the tail is written again;
quotes carry their fetch time, so freshness is decided when read; failures are remembered with a retry time, so a
delisted or failing symbol is not asked for again in a tight loop. Locks and counters for the whole deployment
live here too, because every gunicorn worker sees the same file.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import diskcache
import numpy as np
import pandas as pd

from services.forksafe import reset_in_child
from services.models import Quote
from services.providers.base import BAR_COLUMNS, empty_bars

log = logging.getLogger(__name__)
_T = TypeVar("_T")
_DB_FILE = diskcache.core.DBNAME  # "cache.db"
# How often a call checks that CACHE_DIR still holds the file the cache has open.
_CHECK_EVERY_S = 1.0


@dataclass(frozen=True)
class FailureRecord:
    """The last failed fetch of a ticker, and when it may be asked for again."""

    ticker: str
    error: str
    failed_at: dt.datetime
    retry_after: dt.datetime


def _open_cache(directory: Path) -> diskcache.Cache:
    # timeout: a writer in another process holds SQLite's lock only for milliseconds; waiting beats failing.
    return diskcache.Cache(str(directory), timeout=10, size_limit=2**30, eviction_policy="least-recently-stored")


_HEX = frozenset("0123456789abcdef")


def _remove_cache_files(directory: Path) -> None:
    """Delete diskcache's own files only: CACHE_DIR may be DATA_DIR, next to the ledger's SQLite file, and
    holds yfinance's cookie cache, so removing the whole directory could lose data that is no cache."""
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        if path.is_file() and path.name.startswith("cache.db"):  # cache.db, -wal, -shm, -journal
            path.unlink(missing_ok=True)
        elif path.is_dir() and len(path.name) == 2 and set(path.name) <= _HEX:  # large values: ab/cd/....val
            shutil.rmtree(path, ignore_errors=True)


def _encode_bars(bars: pd.DataFrame) -> dict[str, np.ndarray]:
    """Bars as plain arrays: pickling a DataFrame costs about 13 ms in pandas 3.1, its arrays 0.04 ms."""
    encoded = {column: bars[column].to_numpy(dtype="float64") for column in BAR_COLUMNS}
    encoded["date"] = bars.index.to_numpy(dtype="datetime64[ns]").view("int64")
    return encoded


def _decode_bars(stored: dict[str, np.ndarray] | pd.DataFrame) -> pd.DataFrame:
    if isinstance(stored, pd.DataFrame):  # written by an earlier version
        return stored
    index = pd.DatetimeIndex(stored["date"].view("datetime64[ns]"), name="date")
    return pd.DataFrame({column: stored[column] for column in BAR_COLUMNS}, index=index)


class PriceCache:
    """Bars, quotes, failures, locks and counters in one diskcache directory.

    A cache is only a cache: one found corrupted at start is rebuilt, and so is one deleted or replaced while the
    app runs (someone clears CACHE_DIR, a deploy wipes the disk). Without that, every request thread that opens
    its own SQLite connection (diskcache keeps one per thread) would meet "unable to open database file" or an
    empty file with "no such table" and answer 500, until a restart.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._memo: dict[str, tuple[float, dt.date | None]] = {}
        self._memo_lock = threading.Lock()
        reset_in_child(self._reset_after_fork)
        self._open_lock = threading.Lock()
        self._checked_at = time.monotonic()
        self._cache, self._identity = self._open()

    # -- opening, and reopening a cache that was deleted or broken under us ---------------------------------------
    def _open(self) -> tuple[diskcache.Cache, tuple[int, int] | None]:
        opened: diskcache.Cache | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            opened = _open_cache(self.directory)
            opened.get("__probe__")
        except Exception as error:
            if _is_busy(error):  # another process holds the lock a moment: that is no corruption
                raise
            log.warning("price cache at %s unusable (%s); rebuilding it", self.directory, error)
            if opened is not None:
                with suppress(Exception):
                    opened.close()  # do not keep a connection to the file about to be deleted
            _remove_cache_files(self.directory)
            self.directory.mkdir(parents=True, exist_ok=True)
            opened = _open_cache(self.directory)
        return opened, self._file_identity()

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.directory / _DB_FILE)
        except OSError:
            return None
        return stat.st_dev, stat.st_ino

    def _reopen(self, broken: diskcache.Cache, reason: object) -> None:
        with self._open_lock:
            if self._cache is not broken:  # another thread reopened it meanwhile
                return
            log.warning("price cache at %s lost (%s); reopening it", self.directory, reason)
            with suppress(Exception):
                broken.close()
            with self._memo_lock:
                self._memo.clear()
            # Another worker may have rebuilt it already: then _open finds a good file and keeps it.
            self._cache, self._identity = self._open()

    def _current(self) -> diskcache.Cache:
        """The open cache; reopened first if its file was deleted or replaced (checked at most once a second).

        A thread whose connection is older than the deletion would not notice by itself: it goes on reading and
        writing the deleted file, which nobody else sees.
        """
        now = time.monotonic()
        if now - self._checked_at >= _CHECK_EVERY_S:
            self._checked_at = now
            if self._file_identity() != self._identity:
                self._reopen(self._cache, "its file was deleted or replaced")
        return self._cache

    def _run(self, action: Callable[[diskcache.Cache], _T]) -> _T:
        """Run `action` on the cache; if the cache's file is gone or broken, reopen (rebuild) it and run it again."""
        cache = self._current()
        try:
            return action(cache)
        except sqlite3.DatabaseError as error:  # "unable to open database file", "no such table", "not a database"
            if _is_busy(error):
                raise
            self._reopen(cache, error)
            return action(self._cache)

    def _reset_after_fork(self) -> None:
        # diskcache reconnects by itself when it sees a new pid; only our own locks need re-arming.
        self._memo_lock = threading.Lock()
        self._open_lock = threading.Lock()

    # -- bars ---------------------------------------------------------------------------------------------------
    def get_bars(self, ticker: str) -> pd.DataFrame | None:
        """The cached daily bars of a ticker, or None if it was never fetched (decoded afresh: ~0.2 ms)."""
        stored = self.get(f"bars:{ticker}")
        return None if stored is None else _decode_bars(stored)

    def get_closes(self, ticker: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(dates as int64 nanoseconds, closes) of the cached bars, or None if never fetched: what a chart needs of
        every ticker, without building a frame per ticker."""
        stored = self.get(f"bars:{ticker}")
        if stored is None:
            return None
        if isinstance(stored, pd.DataFrame):  # written by an earlier version
            return stored.index.to_numpy(dtype="datetime64[ns]").view("int64"), stored["close"].to_numpy("float64")
        return stored["date"], stored["close"]

    def bars_tail(self, ticker: str) -> tuple[bool, dt.date | None]:
        """(ever fetched, date of the last cached bar or None) without decoding the bars.

        Memoized by the stamp written with the bars: every page load asks this for every ticker, while keeping
        whole frames in memory for 500 tickers cost ~50 MB of the worker's RSS.
        """
        stamp = self.get(f"bars-stamp:{ticker}")
        if stamp is None:
            return False, None
        with self._memo_lock:
            memo = self._memo.get(ticker)
        if memo is not None and memo[0] == stamp:
            return True, memo[1]
        stored = self.get(f"bars:{ticker}")
        if stored is None:
            return False, None
        dates = stored["date"] if isinstance(stored, dict) else stored.index.asi8
        last = pd.Timestamp(int(dates[-1])).date() if len(dates) else None
        with self._memo_lock:
            self._memo[ticker] = (stamp, last)
        return True, last

    def history_from(self, ticker: str) -> dt.date | None:
        """The earliest date the cached bars of a ticker were fetched from (they cover it onwards)."""
        return self.get(f"bars-from:{ticker}")

    def put_bars(self, ticker: str, new_bars: pd.DataFrame, requested_from: dt.date) -> pd.DataFrame:
        """Merge freshly fetched bars: rows before the new first date stay, the rest are replaced."""
        return self._run(lambda cache: _merge_bars(cache, ticker, new_bars, requested_from))

    # -- quotes and failures --------------------------------------------------------------------------------------
    def get_quote(self, ticker: str) -> Quote | None:
        return self.get(f"quote:{ticker}")

    def put_quote(self, quote: Quote) -> None:
        def put(cache: diskcache.Cache) -> None:
            cache.set(f"quote:{quote.ticker}", quote)
            cache.delete(f"fail:{quote.ticker}")

        self._run(put)

    def get_failure(self, ticker: str) -> FailureRecord | None:
        return self.get(f"fail:{ticker}")

    def put_failure(self, record: FailureRecord) -> None:
        self.set(f"fail:{record.ticker}", record)

    # -- generic values, counters and locks for the whole deployment ----------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        return self._run(lambda cache: cache.get(key, default))

    def set(self, key: str, value: Any, expire: float | None = None) -> None:
        self._run(lambda cache: cache.set(key, value, expire=expire))

    def delete(self, key: str) -> None:
        self._run(lambda cache: cache.delete(key))

    def delete_prefix(self, prefix: str) -> int:
        """Drop every key starting with `prefix` (a portfolio's derived caches)."""
        def drop(cache: diskcache.Cache) -> int:
            removed = 0
            for key in list(cache.iterkeys()):
                if isinstance(key, str) and key.startswith(prefix):
                    removed += bool(cache.delete(key))
            return removed

        return self._run(drop)

    def incr(self, key: str, amount: int = 1) -> int:
        return self._run(lambda cache: cache.incr(key, amount, default=0))

    def try_lock(self, name: str, ttl_s: float) -> str | None:
        """Take a lock shared by every process, or None if someone holds it. Expires after `ttl_s`.

        A lock whose holder has died (killed, crashed) is taken over at once rather than after its `ttl_s`: the TTLs
        are long (a chart generation's is 10 minutes), and a restarted server would otherwise show no chart, and
        fetch none of the tickers the dead process was fetching, for that long.
        """
        key, token = f"lock:{name}", f"{os.getpid()}:{uuid.uuid4().hex}"

        def take(cache: diskcache.Cache) -> bool:
            if cache.add(key, token, expire=ttl_s):
                return True
            with cache.transact():
                held = cache.get(key)
                if held is None or not _holder_alive(held):
                    cache.set(key, token, expire=ttl_s)
                    return True
            return False

        if not self._run(take):
            return None
        _LIVE_TOKENS.add(token)
        return token

    def unlock(self, name: str, token: str) -> None:
        def release(cache: diskcache.Cache) -> None:
            with cache.transact():
                if cache.get(f"lock:{name}") == token:
                    cache.delete(f"lock:{name}")

        self._run(release)
        _LIVE_TOKENS.discard(token)

    def is_locked(self, name: str) -> bool:
        """True while a live process holds the lock."""
        held = self.get(f"lock:{name}")
        return held is not None and _holder_alive(held)

    @contextmanager
    def locked(self, name: str, ttl_s: float, wait_s: float) -> Iterator[bool]:
        """Hold a shared lock for the block; yields False if it could not be had within `wait_s`."""
        deadline = time.monotonic() + wait_s
        token = self.try_lock(name, ttl_s)
        while token is None and time.monotonic() < deadline:
            time.sleep(0.02)
            token = self.try_lock(name, ttl_s)
        try:
            yield token is not None
        finally:
            if token is not None:
                self.unlock(name, token)

    def tickers_with_quotes(self) -> Iterable[str]:
        keys = self._run(lambda cache: list(cache.iterkeys()))
        return [key[len("quote:"):] for key in keys if isinstance(key, str) and key.startswith("quote:")]

    def writable(self) -> bool:
        """True if a value can be written and read back (the health check)."""
        # A key of its own: with one shared key, two health checks at once read each other's probe and report the
        # cache broken (a 503 from /healthz under load).
        probe = uuid.uuid4().hex
        key = f"__health__:{probe}"
        self.set(key, probe, expire=60)
        try:
            return self.get(key) == probe
        finally:
            self.delete(key)

    def close(self) -> None:
        self._cache.close()


def _merge_bars(cache: diskcache.Cache, ticker: str, new_bars: pd.DataFrame, requested_from: dt.date) -> pd.DataFrame:
    with cache.transact():
        known_from = cache.get(f"bars-from:{ticker}")
        cache.set(f"bars-from:{ticker}", min(known_from or requested_from, requested_from))
        stored = cache.get(f"bars:{ticker}")
        existing = None if stored is None else _decode_bars(stored)
        if existing is None or existing.empty:
            merged = new_bars
        elif new_bars.empty:
            merged = existing
        else:
            merged = pd.concat([existing.loc[existing.index < new_bars.index[0]], new_bars])
        merged = merged if not merged.empty else empty_bars()
        cache.set(f"bars:{ticker}", _encode_bars(merged))
        cache.set(f"bars-stamp:{ticker}", time.time())
    return merged


# The lock tokens this process holds. A token names its holder's pid; one with our pid that is not in here was taken
# by an earlier process that had the same pid (a restarted container's app is often pid 1 again).
_LIVE_TOKENS: set[str] = set()


def _holder_alive(token: object) -> bool:
    """False when the process that took a lock (on this machine: the cache is a local directory) is gone."""
    pid_text, _, _ = str(token).partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return True  # not a token of ours: leave it to its TTL
    if pid == os.getpid():
        return token in _LIVE_TOKENS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, under another user
        return True
    return True


def _is_busy(error: BaseException) -> bool:
    """A lock held by another connection (it passes), as opposed to a missing or broken cache file."""
    return isinstance(error, diskcache.Timeout) or "locked" in str(error) or "busy" in str(error)
