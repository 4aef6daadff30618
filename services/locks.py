"""Every lock shared by processes, in one place.

- `StoreLocks`: named locks in the shared store, seen by every worker of the deployment (a fetch of one ticker,
  the generation of one chart, a change of the circuit breaker). They expire after a TTL, and one whose holder
  has died is taken over at once. Their names are built by the functions below, never by hand. A token names its
  holder's machine and pid: only a holder on this machine can be seen dead (on Redis, another machine's lock is
  left to its TTL). A store that cannot be reached gives no lock.
- `exclusive_file_lock`: a blocking `flock` on a file, for start-up steps every worker runs (creating tables).
- `FileLeaderLock`: a non-blocking `flock` held for a process's life: the warm-up scheduler's leader.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from services.store import LOCKS, SharedStore, StoreUnavailable


def fetch_lock(ticker: str) -> str:
    """The lock a worker holds while it fetches `ticker` (single-flight across workers)."""
    return f"fetch:{ticker}"


def chart_lock(portfolio_id: int) -> str:
    """The lock a worker holds while it generates the chart of a portfolio."""
    return f"chart:{portfolio_id}"


def circuit_lock(provider: str) -> str:
    """The lock that serialises changes of a provider's circuit breaker."""
    return f"circuit:{provider}"


class StoreLocks:
    """Named locks in a shared store, for the whole deployment."""

    def __init__(self, store: SharedStore):
        self.store = store

    def try_lock(self, name: str, ttl_s: float) -> str | None:
        """Take a lock shared by every process, or None if someone holds it. Expires after `ttl_s`.

        A lock whose holder has died (killed, crashed) is taken over at once rather than after its `ttl_s`: the TTLs
        are long (a chart generation's is 10 minutes), and a restarted server would otherwise show no chart, and
        fetch none of the tickers the dead process was fetching, for that long.
        """
        key, token = LOCKS.key(name), f"{os.getpid()}:{uuid.uuid4().hex}:{MACHINE}"

        def take_over() -> bool:
            held = self.store.get(key)
            if held is None or not _holder_alive(held):
                self.store.set(key, token, expire=ttl_s)
                return True
            return False

        # Live before it is written: a thread of this process that reads the token in the store between the write
        # and a later registration saw a dead holder, took the lock over, and two threads fetched one ticker.
        _LIVE_TOKENS.add(token)
        taken = False
        try:
            taken = self.store.add(key, token, expire=ttl_s) or self.store.atomically(take_over)
        except StoreUnavailable:  # no worker can see it: holding it would single-flight nothing
            pass
        finally:
            if not taken:  # refused, or raised: never held, so never live
                _LIVE_TOKENS.discard(token)
        return token if taken else None

    def unlock(self, name: str, token: str) -> None:
        key = LOCKS.key(name)

        def release() -> None:
            if self.store.get(key) == token:
                self.store.delete(key)

        try:
            self.store.atomically(release)
        except StoreUnavailable:  # it expires after its TTL
            pass
        finally:
            _LIVE_TOKENS.discard(token)

    def is_locked(self, name: str) -> bool:
        """True while a live process holds the lock."""
        held = self.store.get(LOCKS.key(name))
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


# This machine, as lock tokens name it: a container's hostname is its own (a restarted dyno's is new).
MACHINE = socket.gethostname()
# The lock tokens this process holds. A token names its holder's pid; one with our pid that is not in here was taken
# by an earlier process that had the same pid (a restarted container's app is often pid 1 again). A token is added
# before it is written to the store and discarded after it is removed, so one of ours is never seen dead while held.
_LIVE_TOKENS: set[str] = set()


def _holder_alive(token: object) -> bool:
    """False when the process that took a lock is known to be gone: only a process of this machine can be checked.

    A token without a machine ("pid:hex") was written before tokens named one, when the store was a local directory.
    """
    pid_text, _, rest = str(token).partition(":")
    _, _, machine = rest.partition(":")
    if machine and machine != MACHINE:
        return True  # another machine's process: its lock expires after its TTL
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


@contextmanager
def exclusive_file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` for the block, waiting for other processes (start-up steps)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class FileLeaderLock:
    """An exclusive `flock` on a file: held until released or until this process dies.

    flock belongs to the open file description, which fork() shares: a child that kept the inherited descriptor
    would keep the lock alive after the leader died, and nobody (that child included: its own new descriptor
    conflicts with the inherited one) could lead again. So a forked child closes it at once (without unlocking,
    which would drop the parent's lock too) and never counts it as held.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None
        self._owner_pid: int | None = None
        _LEADER_LOCKS.add(self)

    def try_acquire(self) -> bool:
        """Become (or stay) the leader; False while another process leads."""
        if self._fd is not None and self._owner_pid == os.getpid():
            return True
        self._drop_inherited()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd, self._owner_pid = fd, os.getpid()
        return True

    def release(self) -> None:
        if self._fd is not None and self._owner_pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._drop_inherited()

    def _drop_inherited(self) -> None:
        """Close a descriptor inherited through fork(): the parent's lock must not outlive the parent."""
        if self._fd is not None and self._owner_pid != os.getpid():
            with suppress(OSError):
                os.close(self._fd)
            self._fd = None


_LEADER_LOCKS: weakref.WeakSet[FileLeaderLock] = weakref.WeakSet()


def _drop_inherited_locks() -> None:
    for lock in list(_LEADER_LOCKS):
        lock._drop_inherited()


# Any fork (a Dash background callback, multiprocessing) would otherwise carry the leader's lock into the child.
os.register_at_fork(after_in_child=_drop_inherited_locks)
