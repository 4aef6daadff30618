"""The deployment's shared store: values, counters and the keys of locks that every process and worker sees.

`SharedStore` is the interface; `DiskStore` (diskcache in CACHE_DIR, one SQLite file every worker of one machine
opens) is the default, and `services.store_redis.RedisStore` (chosen by REDIS_URL) the one for several machines.

Every key is built here, by a named key space (`QUOTES.key("AAPL")` is "quote:AAPL"): no module writes a key
string by hand. The spaces keep the prefixes the cache file has always used, so a deploy keeps a warm cache.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import diskcache

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True)
class KeySpace:
    """One named family of keys; `template` has one `{}` per part of an id."""

    name: str
    template: str

    def key(self, *parts: object) -> str:
        return self.template.format(*parts)


# The key spaces of the deployment (docs/ARCHITECTURE.md lists them). The templates are the file's prefixes.
QUOTES = KeySpace("quotes", "quote:{}")  # ticker -> Quote
BARS = KeySpace("bars", "bars:{}")  # ticker -> daily bars as arrays
BARS_FROM = KeySpace("bars", "bars-from:{}")  # ticker -> the earliest date its bars were fetched from
BARS_STAMP = KeySpace("bars", "bars-stamp:{}")  # ticker -> when its bars were last written
FAILURES = KeySpace("failures", "fail:{}")  # ticker -> FailureRecord
CHARTS = KeySpace("charts", "portfolio:{}:chart")  # portfolio id -> ChartEntry
PROGRESS = KeySpace("progress", "portfolio:{}:chart-progress")  # portfolio id -> chart generation progress
PORTFOLIO_DERIVED = KeySpace("charts", "portfolio:{}:")  # the prefix of everything derived from one portfolio
CIRCUIT = KeySpace("circuit", "circuit:{}")  # provider -> the circuit breaker's state
SCHEDULER = KeySpace("scheduler", "scheduler:{}")  # leader_pid, last_warmup
COUNTERS = KeySpace("counters", "{}")  # deployment-wide counts (see the names below)
LOCKS = KeySpace("locks", "lock:{}")  # lock name (services.locks builds them) -> holder's token
HEALTH = KeySpace("health", "__health__:{}")  # a probe of the health check

# Counters keep the names they were written under.
WARMUP_RUNS_COUNTER = COUNTERS.key("scheduler:warmup_runs")


def unreachable_streak(provider: str) -> str:
    """The counter of requests in a row that could not reach `provider`."""
    return COUNTERS.key(f"circuit-streak:{provider}:unreachable")


class StoreUnavailable(RuntimeError):
    """The store cannot be reached (Redis down), and the call has no honest answer without it (`incr`,
    `atomically`). Reads of an unreachable store miss and its writes are dropped instead (see `RedisStore`)."""


class SharedStore(Protocol):
    """What the app asks of the shared store. Keys come from the key spaces above."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def get_many(self, keys: Sequence[str], default: Any = None) -> list[Any]:
        """`get` of every key, in order, in one round trip where the store has round trips (Redis: MGET)."""
        ...

    def set(self, key: str, value: Any, expire: float | None = None) -> None: ...

    def add(self, key: str, value: Any, expire: float | None = None) -> bool:
        """Set `key` only if it is absent; True if this call set it."""
        ...

    def delete(self, key: str) -> bool: ...

    def delete_prefix(self, prefix: str) -> int:
        """Drop every key starting with `prefix`; how many were dropped."""
        ...

    def incr(self, key: str, amount: int = 1) -> int:
        """Add to a counter (absent counts as 0), atomically across processes; the new count.

        Raises `StoreUnavailable` if the store cannot be reached."""
        ...

    def keys(self, prefix: str) -> list[str]:
        """Every key starting with `prefix`."""
        ...

    def atomically(self, action: Callable[[], _T]) -> _T:
        """Run `action` (which uses this store) so that no other process interleaves reads or writes with it.

        What every implementation guarantees: the action's reads are one consistent view and its writes land
        together, or not at all if it raises. It may be run more than once (Redis reruns it when a key it read
        changed), so it must have no effect outside the store, and it must not call `keys`/`delete_prefix`.
        Raises `StoreUnavailable` if the store cannot be reached."""
        ...

    def writable(self) -> bool:
        """True if a value can be written and read back (the health check)."""
        ...

    def close(self) -> None: ...


_DB_FILE = diskcache.core.DBNAME  # "cache.db"
# How often a call checks that CACHE_DIR still holds the file the cache has open.
_CHECK_EVERY_S = 1.0
_HEX = frozenset("0123456789abcdef")


def open_diskcache(directory: Path) -> diskcache.Cache:
    """The diskcache of a store in `directory`, as every worker opens it."""
    # timeout: a writer in another process holds SQLite's lock only for milliseconds; waiting beats failing.
    return diskcache.Cache(str(directory), timeout=10, size_limit=2**30, eviction_policy="least-recently-stored")


def remove_cache_files(directory: Path) -> None:
    """Delete diskcache's own files only: CACHE_DIR may be DATA_DIR, next to the ledger's SQLite file, and
    holds yfinance's cookie cache, so removing the whole directory could lose data that is no cache."""
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        if path.is_file() and path.name.startswith("cache.db"):  # cache.db, -wal, -shm, -journal
            path.unlink(missing_ok=True)
        elif path.is_dir() and len(path.name) == 2 and set(path.name) <= _HEX:  # large values: ab/cd/....val
            shutil.rmtree(path, ignore_errors=True)


def is_busy(error: BaseException) -> bool:
    """A lock held by another connection (it passes), as opposed to a missing or broken cache file."""
    return isinstance(error, diskcache.Timeout) or "locked" in str(error) or "busy" in str(error)


class DiskStore:
    """`SharedStore` on diskcache: one directory, seen by every process of this machine.

    A cache is only a cache: one found corrupted at start is rebuilt, and so is one deleted or replaced while the
    app runs (someone clears CACHE_DIR, a deploy wipes the disk). Without that, every request thread that opens
    its own SQLite connection (diskcache keeps one per thread) would meet "unable to open database file" or an
    empty file with "no such table" and answer 500, until a restart. This is the one place that rebuilds it.
    """

    def __init__(self, directory: Path, on_reopen: Callable[[], None] | None = None):
        self.directory = Path(directory)
        self._on_reopen = on_reopen
        self._open_lock = threading.Lock()
        self._checked_at = time.monotonic()
        self._cache, self._identity = self._open()

    # -- opening, and reopening a cache that was deleted or broken under us ---------------------------------------
    def _open(self) -> tuple[diskcache.Cache, tuple[int, int] | None]:
        opened: diskcache.Cache | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            opened = open_diskcache(self.directory)
            opened.get("__probe__")
        except Exception as error:
            if is_busy(error):  # another process holds the lock a moment: that is no corruption
                raise
            log.warning("price cache at %s unusable (%s); rebuilding it", self.directory, error)
            if opened is not None:
                with suppress(Exception):
                    opened.close()  # do not keep a connection to the file about to be deleted
            remove_cache_files(self.directory)
            self.directory.mkdir(parents=True, exist_ok=True)
            opened = open_diskcache(self.directory)
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
            if self._on_reopen is not None:
                self._on_reopen()
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

    def run(self, action: Callable[[diskcache.Cache], _T]) -> _T:
        """Run `action` on the cache; if the cache's file is gone or broken, reopen (rebuild) it and run it again."""
        cache = self._current()
        try:
            return action(cache)
        except sqlite3.DatabaseError as error:  # "unable to open database file", "no such table", "not a database"
            if is_busy(error):
                raise
            self._reopen(cache, error)
            return action(self._cache)

    def reset_after_fork(self) -> None:
        """diskcache reconnects by itself when it sees a new pid; only our own lock needs re-arming."""
        self._open_lock = threading.Lock()

    # -- SharedStore ----------------------------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        return self.run(lambda cache: cache.get(key, default))

    def get_many(self, keys: Sequence[str], default: Any = None) -> list[Any]:
        return self.run(lambda cache: [cache.get(key, default) for key in keys])

    def set(self, key: str, value: Any, expire: float | None = None) -> None:
        self.run(lambda cache: cache.set(key, value, expire=expire))

    def add(self, key: str, value: Any, expire: float | None = None) -> bool:
        return self.run(lambda cache: cache.add(key, value, expire=expire))

    def delete(self, key: str) -> bool:
        return bool(self.run(lambda cache: cache.delete(key)))

    def delete_prefix(self, prefix: str) -> int:
        def drop(cache: diskcache.Cache) -> int:
            return sum(bool(cache.delete(key)) for key in _keys(cache, prefix))

        return self.run(drop)

    def incr(self, key: str, amount: int = 1) -> int:
        return self.run(lambda cache: cache.incr(key, amount, default=0))

    def keys(self, prefix: str) -> list[str]:
        return self.run(lambda cache: _keys(cache, prefix))

    def atomically(self, action: Callable[[], _T]) -> _T:
        # SQLite's own transaction: every process writes the same file, so it serialises them all. Run through
        # `run`, so a store rebuilt under the transaction runs it again on the new file.
        def inside(cache: diskcache.Cache) -> _T:
            with cache.transact():
                return action()

        return self.run(inside)

    def writable(self) -> bool:
        # A key of its own: with one shared key, two health checks at once read each other's probe and report the
        # cache broken (a 503 from /healthz under load).
        probe = uuid.uuid4().hex
        key = HEALTH.key(probe)
        self.set(key, probe, expire=60)
        try:
            return self.get(key) == probe
        finally:
            self.delete(key)

    def close(self) -> None:
        self._cache.close()


def _keys(cache: diskcache.Cache, prefix: str) -> list[str]:
    return [key for key in list(cache.iterkeys()) if isinstance(key, str) and key.startswith(prefix)]


def iter_keys(store: SharedStore, space: KeySpace) -> Iterator[str]:
    """The ids of every key in a one-part space (`QUOTES` -> tickers)."""
    prefix, _, suffix = space.template.partition("{}")
    for key in store.keys(prefix):
        if key.endswith(suffix):
            yield key[len(prefix):len(key) - len(suffix)] if suffix else key[len(prefix):]
