"""Re-arm per-process state in a forked child (Dash's background callbacks fork the server process).

A child inherits locks that may be held by threads it does not have, an executor whose threads are gone and
SQLite connections that must not be used on both sides of a fork. Objects register a reset method here;
it is held weakly, so registering never keeps an object alive.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable

_resets: list[weakref.WeakMethod] = []
_guard = threading.Lock()


def reset_in_child(method: Callable[[], None]) -> None:
    """Call the bound `method` in every child forked from now on (while its object lives)."""
    with _guard:
        _resets[:] = [ref for ref in _resets if ref() is not None]
        _resets.append(weakref.WeakMethod(method))


def _after_fork_in_child() -> None:
    global _guard
    _guard = threading.Lock()  # the parent may have held it while forking
    for ref in list(_resets):
        method = ref()
        if method is not None:
            method()


os.register_at_fork(after_in_child=_after_fork_in_child)
