"""Every implementation of `services.store.SharedStore`, for the suites that any of them must pass.

A new store (the Redis one of the scale-out issue) adds its factory here: `test_store.py` and `test_locks.py` then
run against it too. A factory is given a directory and opens a store on it; called twice with the same directory it
must give two handles on the same store (two workers).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from services.store import DiskStore, SharedStore

STORE_FACTORIES: dict[str, Callable[[Path], SharedStore]] = {
    "disk": DiskStore,
}
