"""Every implementation of `services.store.SharedStore`, for the suites that any of them must pass.

A new store adds its factory here: `test_store.py` and `test_locks.py` then run against it too. A factory is given
a directory and opens a store on it; called twice with the same directory it must give two handles on the same
store (two workers, or two machines).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from services.store import DiskStore, SharedStore
from services.store_redis import RedisStore
from tests.services.redis_server import redis_missing, shared_redis_url


def redis_store(directory: Path) -> RedisStore:
    """A store on this test process's Redis server, under a namespace named after `directory` (so one per test)."""
    missing = redis_missing()
    if missing:
        pytest.skip(missing)
    namespace = "test-" + hashlib.sha1(str(directory).encode()).hexdigest()[:12] + ":"
    return RedisStore(shared_redis_url(), namespace=namespace)


STORE_FACTORIES: dict[str, Callable[[Path], SharedStore]] = {
    "disk": DiskStore,
    "redis": redis_store,
}
