"""`Bounded`: a small thread-safe map that keeps its newest entries, for memos of derived values.

For values that are a pure function of their key (a key that names a version, so a change makes a new key): an
entry is never stale, only dropped, oldest first, once the entries' total weight (`weigh`, e.g. the points of a
chart) passes `budget`. The newest entry always stays: its caller holds it anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from services.forksafe import reset_in_child

_V = TypeVar("_V")


class Bounded(Generic[_V]):
    """Entries of total `weigh(value)` at most `budget` (besides the newest); `get` answers None for one not kept."""

    def __init__(self, budget: int, weigh: Callable[[_V], int] = lambda _value: 1):
        if budget < 1:
            raise ValueError(f"budget must be at least 1, got {budget}")
        self.budget, self.weigh = budget, weigh
        self._entries: dict[Hashable, tuple[_V, int]] = {}
        self._total = 0
        self._lock = threading.Lock()
        reset_in_child(self._reset_after_fork)  # a fork while a thread held the lock would leave it held

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> _V | None:
        with self._lock:
            kept = self._entries.get(key)
        return None if kept is None else kept[0]

    def put(self, key: Hashable, value: _V) -> None:
        weight = max(1, self.weigh(value))
        with self._lock:
            old = self._entries.pop(key, None)  # re-inserted: the newest, so the last to go
            self._total -= old[1] if old is not None else 0
            self._entries[key] = (value, weight)
            self._total += weight
            while len(self._entries) > 1 and self._total > self.budget:
                self._total -= self._entries.pop(next(iter(self._entries)))[1]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def total(self) -> int:
        """The kept entries' total weight."""
        with self._lock:
            return self._total
