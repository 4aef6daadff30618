"""Read a price record of the shared store once per request: `read_once()` and the `ReadOnceStore` it takes effect in.

A dashboard payload reads the same records more than once: the fetch planner reads every quote, failure and bars
stamp of the page's tickers and pairs (one MGET each), then the page reads the quotes again to show them, the
circuit's state is read twice, and each pair's quote and bars stamp once more for its rate. On Redis each read
is a round trip. Inside `with read_once():` (a payload builder, in its own thread and context) a record read
once is answered from what that read got, so each is asked of Redis once per payload; and a builder that knows
which records it is about to read reads them all at once (`prime`: one MGET).

What is kept, and for how long: only the price records (quotes, failures, bars stamps and starts, the circuit's
state), never locks, counters, charts or progress, whose changes a request may wait on; only inside the scope
(one payload, a few ms), never across requests; never inside `atomically` (its reads must WATCH their keys); and a
key this context writes is forgotten. A builder that waits for fetches calls `forget_reads()` after the wait:
what landed meanwhile is then read again. A record shown from the scope is what this request read a few ms
earlier, with its own fetch time: its freshness badge stays honest.

Outside a scope, and in other threads (the fetch pool, the chart generator), the wrapper is the store itself.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

from services.store import BARS_FROM, BARS_STAMP, CIRCUIT, FAILURES, QUOTES, SharedStore

_T = TypeVar("_T")
_MISSING = object()
# The key prefixes a scope keeps (see the module's docstring for why these and no others).
KEPT_PREFIXES = tuple(space.key("") for space in (QUOTES, FAILURES, BARS_STAMP, BARS_FROM, CIRCUIT))
_SCOPE: ContextVar[dict[str, Any] | None] = ContextVar("stocktracker_read_once", default=None)


@contextlib.contextmanager
def read_once() -> Iterator[None]:
    """Within it, in this context, each price record is read from the store at most once (nested: the outer one)."""
    if _SCOPE.get() is not None:
        yield
        return
    token = _SCOPE.set({})
    try:
        yield
    finally:
        _SCOPE.reset(token)


def prime(store: SharedStore, keys: Sequence[str]) -> None:
    """Read `keys` in one call (Redis: one MGET) into this scope, for the reads that follow; nothing outside one,
    nor on a store that keeps nothing (the embedded diskcache: its reads are local, and would be made twice).

    What is read then is what separate reads would have got a moment later: the records, as the scope keeps them.
    """
    if isinstance(store, ReadOnceStore) and _SCOPE.get() is not None and keys:
        store.get_many(list(dict.fromkeys(keys)))


def forget_reads() -> None:
    """Forget what this scope has read (after waiting on fetches that may have written since)."""
    kept = _SCOPE.get()
    if kept is not None:
        kept.clear()


class ReadOnceStore:
    """A `SharedStore` in front of `inner` that answers repeated reads of price records from the current scope."""

    def __init__(self, inner: SharedStore):
        self.inner = inner
        self._local = threading.local()

    def __getattr__(self, name: str) -> Any:  # anything else the inner store offers (its url, its directory)
        if name == "inner":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _scope(self) -> dict[str, Any] | None:
        return None if getattr(self._local, "atomic", 0) else _SCOPE.get()

    def get(self, key: str, default: Any = None) -> Any:
        kept = self._scope()
        if kept is None or not key.startswith(KEPT_PREFIXES):
            return self.inner.get(key, default)
        if key not in kept:
            kept[key] = self.inner.get(key, _MISSING)  # a miss is kept too: _MISSING
        value = kept[key]
        return default if value is _MISSING else value

    def get_many(self, keys: Sequence[str], default: Any = None) -> list[Any]:
        kept = self._scope()
        if kept is None:
            return self.inner.get_many(keys, default)
        wanted = list(dict.fromkeys(k for k in keys if k not in kept))
        if wanted:
            read = dict(zip(wanted, self.inner.get_many(wanted, _MISSING), strict=True))
            kept.update((k, v) for k, v in read.items() if k.startswith(KEPT_PREFIXES))
        else:
            read = {}
        values = [kept[k] if k in kept else read[k] for k in keys]
        return [default if v is _MISSING else v for v in values]

    def _forget(self, key: str) -> None:
        kept = _SCOPE.get()
        if kept is not None:
            kept.pop(key, None)

    def set(self, key: str, value: Any, expire: float | None = None) -> None:
        self._forget(key)
        self.inner.set(key, value, expire)

    def add(self, key: str, value: Any, expire: float | None = None) -> bool:
        self._forget(key)
        return self.inner.add(key, value, expire)

    def delete(self, key: str) -> bool:
        self._forget(key)
        return self.inner.delete(key)

    def delete_prefix(self, prefix: str) -> int:
        forget_reads()
        return self.inner.delete_prefix(prefix)

    def incr(self, key: str, amount: int = 1) -> int:
        self._forget(key)
        return self.inner.incr(key, amount)

    def keys(self, prefix: str) -> list[str]:
        return self.inner.keys(prefix)

    def atomically(self, action: Callable[[], _T]) -> _T:
        self._local.atomic = getattr(self._local, "atomic", 0) + 1
        try:
            return self.inner.atomically(action)
        finally:
            self._local.atomic -= 1

    def writable(self) -> bool:
        return self.inner.writable()

    def reset_after_fork(self) -> None:
        self._local = threading.local()
        reset = getattr(self.inner, "reset_after_fork", None)
        if reset is not None:
            reset()

    def close(self) -> None:
        self.inner.close()
