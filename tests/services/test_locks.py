"""Locks shared by processes: the store's named locks (on every store implementation) and the lock names."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

from services.locks import MACHINE, StoreLocks, chart_lock, circuit_lock, fetch_lock
from services.store import LOCKS, SharedStore
from tests.services.store_implementations import STORE_FACTORIES


@pytest.fixture(params=sorted(STORE_FACTORIES))
def workers(request, tmp_path) -> Iterator[tuple[StoreLocks, StoreLocks]]:
    """The locks of two workers on one store."""
    stores: list[SharedStore] = [STORE_FACTORIES[request.param](tmp_path / "store") for _ in range(2)]
    yield StoreLocks(stores[0]), StoreLocks(stores[1])
    for store in stores:
        store.close()


@pytest.fixture
def locks(workers) -> StoreLocks:
    return workers[0]


def test_lock_names_keep_the_keys_the_store_has_always_had():
    assert [LOCKS.key(fetch_lock("AAPL")), LOCKS.key(chart_lock(3)), LOCKS.key(circuit_lock("yahoo"))] == [
        "lock:fetch:AAPL", "lock:chart:3", "lock:circuit:yahoo"]


def test_try_lock_is_exclusive_and_only_its_holder_unlocks(workers):
    mine, other = workers  # another worker
    token = mine.try_lock("fetch:AAA", ttl_s=60)
    assert token is not None
    assert other.try_lock("fetch:AAA", ttl_s=60) is None
    assert other.is_locked("fetch:AAA")

    other.unlock("fetch:AAA", "someone-else")  # a wrong token does nothing
    assert mine.is_locked("fetch:AAA")

    mine.unlock("fetch:AAA", token)
    assert not other.is_locked("fetch:AAA")
    assert other.try_lock("fetch:AAA", ttl_s=60) is not None


def test_a_lock_expires_by_itself(locks):
    assert locks.try_lock("fetch:AAA", ttl_s=0.2) is not None
    assert locks.try_lock("fetch:AAA", ttl_s=0.2) is None
    time.sleep(0.3)  # its holder died without unlocking
    assert not locks.is_locked("fetch:AAA")
    assert locks.try_lock("fetch:AAA", ttl_s=60) is not None


def test_a_lock_of_a_dead_process_is_taken_over_at_once(locks):
    locks.store.set(LOCKS.key("fetch:AAPL"), "999999999:0123abcd", expire=600)  # no such pid
    assert not locks.is_locked("fetch:AAPL")
    token = locks.try_lock("fetch:AAPL", 60)
    assert token is not None and locks.try_lock("fetch:AAPL", 60) is None  # ours now, and held


def test_a_dead_process_of_this_machine_is_seen_by_the_machine_named_in_its_token(locks):
    locks.store.set(LOCKS.key("fetch:AAPL"), f"999999999:0123abcd:{MACHINE}", expire=600)
    assert not locks.is_locked("fetch:AAPL")
    assert locks.try_lock("fetch:AAPL", 60) is not None


def test_a_lock_of_another_machine_is_left_to_its_ttl(locks):
    # On Redis another machine's pid means nothing here: pid 999999999 may be alive over there.
    locks.store.set(LOCKS.key("fetch:AAPL"), "999999999:0123abcd:another-machine", expire=0.3)
    assert locks.is_locked("fetch:AAPL")
    assert locks.try_lock("fetch:AAPL", 60) is None
    time.sleep(0.4)  # its TTL ran out
    assert locks.try_lock("fetch:AAPL", 60) is not None


def test_a_token_names_its_holders_pid_and_machine(locks):
    token = locks.try_lock("fetch:AAPL", 60)
    pid, _, machine = token.split(":")
    assert (int(pid), machine) == (os.getpid(), socket.gethostname())
    assert locks.store.get(LOCKS.key("fetch:AAPL")) == token


def test_locked_waits_at_most_wait_s_and_releases_after_the_block(locks):
    with locks.locked("seed", ttl_s=60, wait_s=0) as held:
        assert held
        started = time.monotonic()
        with locks.locked("seed", ttl_s=60, wait_s=0.2) as second:
            waited = time.monotonic() - started
            assert second is False
        assert 0.2 <= waited < 1.0
        assert locks.is_locked("seed")  # the failed attempt did not release the holder's lock
    assert not locks.is_locked("seed")
    with locks.locked("seed", ttl_s=60, wait_s=0) as again:
        assert again


def test_locked_releases_when_the_block_raises(locks):
    with pytest.raises(RuntimeError), locks.locked("seed", ttl_s=60, wait_s=0):
        raise RuntimeError("boom")
    assert not locks.is_locked("seed")


class _LookingStore:
    """A worker's store that, right after it wrote a lock (`add`, or the take-over's transaction), lets `look` run.

    That is the moment a thread switch can hand the GIL to another thread of the same process; calling `look` inline
    stands for that thread and makes the interleaving certain instead of a 1-in-20 chance.
    """

    def __init__(self, store: SharedStore, method: str, look):
        self._store, self._method, self._look, self.looked = store, method, look, []

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def add(self, key, value, expire=None):
        written = self._store.add(key, value, expire=expire)
        if written and self._method == "add":
            self.looked.append(self._look())
        return written

    def atomically(self, action):
        result = self._store.atomically(action)
        if result is True and self._method == "atomically":  # take_over answered True: it wrote the token
            self.looked.append(self._look())
        return result


@pytest.mark.parametrize("method", ["add", "atomically"])
def test_a_lock_is_held_for_its_own_process_from_the_moment_it_is_written(workers, method):
    """Two threads of one process (two PriceServices, two chart requests) ask for one lock at once.

    Before the fix the token was registered as live only after the write: a thread reading it in that window found
    "our pid, not a live token", took the lock over as a dead holder's, and both held it (a ticker fetched twice).
    """
    mine, other = workers  # two handles on one store, used by two threads of this process
    if method == "atomically":  # the take-over path: a dead process's lock is in the way
        mine.store.set(LOCKS.key("fetch:AAA"), f"999999999:0123abcd:{MACHINE}", expire=600)
    looking = _LookingStore(mine.store, method, lambda: (other.is_locked("fetch:AAA"),
                                                        other.try_lock("fetch:AAA", ttl_s=60)))
    token = StoreLocks(looking).try_lock("fetch:AAA", ttl_s=60)

    assert token is not None
    assert looking.looked == [(True, None)]  # seen held, and not taken over
    assert mine.store.get(LOCKS.key("fetch:AAA")) == token
    mine.unlock("fetch:AAA", token)
    assert not other.is_locked("fetch:AAA")
