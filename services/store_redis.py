"""`SharedStore` on Redis (REDIS_URL): one store for every process of every machine of the deployment.

Semantics as `DiskStore`'s, with what a network adds:
- Keys live under a namespace (`stocktracker:` unless told otherwise), so several deployments, and Flask-Limiter's
  counters, can share one Redis. `keys` and `delete_prefix` walk them with SCAN, never KEYS (which blocks Redis).
- Values are pickled, as diskcache pickles them (bars are numpy arrays); plain ints are stored as digits, so
  `incr` (INCRBY) counts on a value `set` wrote, as diskcache's `incr` does. Anyone who can write to this Redis can
  make the app unpickle what they wrote: it must be private to the deployment, like CACHE_DIR is.
- `atomically(action)` is an optimistic transaction (WATCH/MULTI/EXEC): every key the action reads is watched, its
  writes are queued and applied together, and if another client changed a key it read, the action is run again on
  the new values. So the action must have no effect outside this store (it may run more than once) and must not
  call `keys`/`delete_prefix` (a prefix cannot be watched). What callers may rely on: the action's reads are one
  consistent view and its writes land all together, only if nothing it read changed meanwhile.
- Redis down or hung: no call waits longer than the socket timeouts (0.5 s to connect, 1 s to answer), and after a
  failure the store answers without asking Redis for `retry_after_s`: reads miss (`get` gives the default, `keys`
  none), writes are dropped, `add`/`delete` answer False, `writable()` False. What cannot be answered honestly
  raises `StoreUnavailable`: `incr` (no count to give) and `atomically` (nothing can be made atomic), which the
  locks turn into "not taken", so no worker fetches upstream what it could not cache anyway.
- TLS (`rediss://`): the URL says how the certificate is checked (`ssl_cert_reqs`, `ssl_ca_certs`: Settings writes
  REDIS_TLS_VERIFY and REDIS_TLS_CA_FILE onto it, services/redis_tls.py). A refused certificate is a failure like
  any other (reads miss, writes are dropped), logged as an error that names the settings that fix it.
- A forked child: redis-py's ConnectionPool sees the new pid and opens its own connections (the parent's sockets
  are never used by both); our own per-thread transaction state is re-armed by `reset_after_fork`.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from services.redis_tls import certificate_refused
from services.store import HEALTH, StoreUnavailable

log = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_NAMESPACE = "stocktracker:"
CONNECT_TIMEOUT_S = 0.5
ANSWER_TIMEOUT_S = 1.0  # the largest value (20 years of bars of a ticker, ~300 KB) takes milliseconds
RETRY_AFTER_S = 1.0
_MAX_ATTEMPTS = 50  # runs of one `atomically` action that lost its race before giving up
_NETWORK_ERRORS = (redis.ConnectionError, redis.TimeoutError)
_PICKLED = b"\x80"  # every pickle of protocol 2 or later starts with PROTO; digits never do
_SCAN_COUNT = 1000


def encode(value: Any) -> bytes:
    if type(value) is int:  # not bool, not numpy ints: those come back as what they were, pickled
        return str(value).encode()
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def decode(raw: bytes) -> Any:
    return pickle.loads(raw) if raw[:1] == _PICKLED else int(raw)


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def _expiry_ms(expire: float | None) -> int | None:
    return None if expire is None else max(1, round(expire * 1000))


class _Transaction:
    """The reads and queued writes of one `atomically` action, on a pipeline that WATCHes what it reads."""

    def __init__(self, pipe: redis.client.Pipeline):
        self.pipe = pipe
        self.view: dict[str, bytes | None] = {}  # what the action wrote, as it reads it back
        self.writes: list[tuple[str, str, bytes | None, int | None]] = []  # (op, key, raw, ms)

    def read(self, key: str) -> bytes | None:
        if key in self.view:
            return self.view[key]
        self.pipe.watch(key)
        raw = self.pipe.get(key)
        self.view[key] = raw  # a second read must see the same value, not a newer one
        return raw

    def write(self, key: str, raw: bytes | None, ms: int | None = None, op: str = "set") -> None:
        self.view[key] = raw
        self.writes.append((op, key, raw, ms))

    def commit(self) -> None:
        """Apply the queued writes together; redis.WatchError if a key the action read changed meanwhile."""
        if not self.writes:
            return
        self.pipe.multi()
        for op, key, raw, ms in self.writes:
            if op == "delete":
                self.pipe.delete(key)
            elif op == "keep-ttl":
                self.pipe.set(key, raw, keepttl=True)
            else:
                self.pipe.set(key, raw, px=ms)
        self.pipe.execute()


class RedisStore:
    """`SharedStore` on one Redis database, under `namespace`."""

    def __init__(self, url: str, namespace: str = DEFAULT_NAMESPACE, *, connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 timeout_s: float = ANSWER_TIMEOUT_S, retry_after_s: float = RETRY_AFTER_S):
        if not namespace:
            raise ValueError("a RedisStore needs a non-empty namespace (its keys' prefix)")
        self.url, self.namespace, self.retry_after_s = url, namespace, retry_after_s
        # No retries inside redis-py (its default retries 3 times with backoff): one failed call marks Redis down.
        self._client = redis.Redis.from_url(url, socket_connect_timeout=connect_timeout_s, socket_timeout=timeout_s,
                                            retry=Retry(NoBackoff(), 0))
        self._down_until = 0.0
        self._state_lock = threading.Lock()
        self._local = threading.local()

    # -- reaching Redis ---------------------------------------------------------------------------------------------
    def available(self) -> bool:
        """False while Redis is taken for down (a call failed less than `retry_after_s` ago)."""
        return time.monotonic() >= self._down_until

    def _mark_down(self, error: Exception) -> None:
        with self._state_lock:
            was_up = self.available()
            self._down_until = time.monotonic() + self.retry_after_s
        if was_up and certificate_refused(error):
            log.error("shared store: the Redis server's TLS certificate was refused (%s); reads miss and writes are "
                      "dropped. A self-signed one (Heroku Redis) needs REDIS_TLS_VERIFY=none, a private CA's "
                      "REDIS_TLS_CA_FILE (docs/scale-out.md)", error.__context__ or error)
        elif was_up:
            log.warning("shared store unreachable (%s: %s); reads miss and writes are dropped", type(error).__name__,
                        error)

    def _mark_up(self) -> None:
        if self._down_until:  # the first call that worked after a failure: say so once
            with self._state_lock:
                was_down, self._down_until = bool(self._down_until), 0.0
            if was_down:
                log.warning("shared store reachable again")

    def _call(self, operation: Callable[[redis.Redis], _T], fallback: _T) -> _T:
        if not self.available():
            return fallback
        try:
            answer = operation(self._client)
        except _NETWORK_ERRORS as error:
            self._mark_down(error)
            return fallback
        self._mark_up()
        return answer

    def _required(self, operation: Callable[[redis.Redis], _T], what: str) -> _T:
        if not self.available():
            raise StoreUnavailable(f"{what}: the shared store (Redis) is unreachable")
        try:
            return operation(self._client)
        except _NETWORK_ERRORS as error:
            self._mark_down(error)
            raise StoreUnavailable(f"{what}: the shared store (Redis) is unreachable ({error})") from error

    def _transaction(self) -> _Transaction | None:
        return getattr(self._local, "transaction", None)

    def _full(self, key: str) -> str:
        return self.namespace + key

    # -- SharedStore ----------------------------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        transaction = self._transaction()
        raw = transaction.read(self._full(key)) if transaction else self._call(lambda r: r.get(self._full(key)), None)
        return default if raw is None else decode(raw)

    def get_many(self, keys: Sequence[str], default: Any = None) -> list[Any]:
        if not keys:
            return []
        transaction = self._transaction()
        full = [self._full(key) for key in keys]
        raws = [transaction.read(key) for key in full] if transaction else self._call(lambda r: r.mget(full),
                                                                                       [None] * len(full))
        return [default if raw is None else decode(raw) for raw in raws]

    def set(self, key: str, value: Any, expire: float | None = None) -> None:
        raw, ms = encode(value), _expiry_ms(expire)
        transaction = self._transaction()
        if transaction:
            transaction.write(self._full(key), raw, ms)
        else:
            self._call(lambda r: r.set(self._full(key), raw, px=ms), None)

    def add(self, key: str, value: Any, expire: float | None = None) -> bool:
        raw, ms = encode(value), _expiry_ms(expire)
        transaction = self._transaction()
        if transaction:
            if transaction.read(self._full(key)) is not None:
                return False
            transaction.write(self._full(key), raw, ms)
            return True
        return bool(self._call(lambda r: r.set(self._full(key), raw, px=ms, nx=True), False))

    def delete(self, key: str) -> bool:
        transaction = self._transaction()
        if transaction:
            existed = transaction.read(self._full(key)) is not None
            transaction.write(self._full(key), None, op="delete")
            return existed
        return bool(self._call(lambda r: r.delete(self._full(key)), 0))

    def delete_prefix(self, prefix: str) -> int:
        self._outside_transaction("delete_prefix")

        def drop(client: redis.Redis) -> int:
            dropped, batch = 0, []
            for key in self._scan(client, prefix):
                batch.append(key)
                if len(batch) >= _SCAN_COUNT:
                    dropped += client.delete(*batch)
                    batch = []
            return dropped + (client.delete(*batch) if batch else 0)

        return self._call(drop, 0)

    def incr(self, key: str, amount: int = 1) -> int:
        transaction = self._transaction()
        if transaction:
            raw = transaction.read(self._full(key))
            count = (0 if raw is None else decode(raw)) + amount
            transaction.write(self._full(key), encode(count), op="keep-ttl")
            return count
        return int(self._required(lambda r: r.incrby(self._full(key), amount), f"count {key!r}"))

    def keys(self, prefix: str) -> list[str]:
        self._outside_transaction("keys")
        start = len(self.namespace)
        return self._call(lambda r: [key.decode()[start:] for key in self._scan(r, prefix)], [])

    def _scan(self, client: redis.Redis, prefix: str) -> Iterator[bytes]:
        return client.scan_iter(match=_glob_escape(self._full(prefix)) + "*", count=_SCAN_COUNT)

    def _outside_transaction(self, what: str) -> None:
        if self._transaction() is not None:
            raise TypeError(f"{what} cannot run inside atomically(): a prefix cannot be watched")

    def atomically(self, action: Callable[[], _T]) -> _T:
        if self._transaction() is not None:  # nested: part of the enclosing transaction
            return action()
        for _ in range(_MAX_ATTEMPTS):
            if not self.available():
                raise StoreUnavailable("the shared store (Redis) is unreachable")
            try:
                with self._client.pipeline(transaction=True) as pipe:
                    transaction = _Transaction(pipe)
                    self._local.transaction = transaction
                    try:
                        result = action()
                    finally:
                        self._local.transaction = None
                    transaction.commit()
                    return result
            except redis.WatchError:
                continue  # another client changed what the action read: run it again on the new values
            except _NETWORK_ERRORS as error:
                self._mark_down(error)
                raise StoreUnavailable(f"the shared store (Redis) is unreachable ({error})") from error
        raise StoreUnavailable(f"the keys of an atomic action kept changing ({_MAX_ATTEMPTS} attempts)")

    def writable(self) -> bool:
        probe = uuid.uuid4().hex  # a key of its own: two health checks at once must not read each other's probe
        key = HEALTH.key(probe)
        if not self.available():
            return False
        try:
            self._client.set(self._full(key), probe.encode(), px=60_000)
            try:
                return self._client.get(self._full(key)) == probe.encode()
            finally:
                self._client.delete(self._full(key))
        except _NETWORK_ERRORS as error:
            self._mark_down(error)
            return False

    def reset_after_fork(self) -> None:
        """redis-py's pool reconnects by itself in a child (it checks the pid); our own state is re-armed here."""
        self._state_lock = threading.Lock()
        self._local = threading.local()

    def close(self) -> None:
        self._client.close()
