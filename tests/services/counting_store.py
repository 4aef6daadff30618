"""A real shared store that counts its calls: how many round trips a reader of many tickers makes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from services.store import SharedStore


class CountingStore:
    """Wraps a real `SharedStore`; `calls` counts each method called (one call = one round trip on Redis)."""

    def __init__(self, inner: SharedStore):
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.keys_read: Counter[str] = Counter()  # every key read, by `get` or `get_many`

    def reset(self) -> None:
        self.calls.clear()
        self.keys_read.clear()

    @property
    def round_trips(self) -> int:
        return sum(self.calls.values())

    def get(self, key: str, default: Any = None) -> Any:
        self.calls["get"] += 1
        self.keys_read[key] += 1
        return self.inner.get(key, default)

    def get_many(self, keys: Sequence[str], default: Any = None) -> list[Any]:
        self.calls["get_many"] += 1
        self.keys_read.update(keys)
        return self.inner.get_many(keys, default)

    def __getattr__(self, name: str) -> Any:
        # Everything else (set, delete, incr, atomically, locks' calls...) is counted and passed through.
        attribute = getattr(self.inner, name)
        if callable(attribute):
            def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls[name] += 1
                return attribute(*args, **kwargs)
            return counted
        return attribute
