"""The guards in front of the price source: a token bucket (requests a second, per process) and a circuit breaker
(no requests at all for a cool-down after a 429 or while the source cannot be reached, for the whole deployment)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from services.forksafe import reset_in_child
from services.locks import circuit_lock
from services.metrics import CIRCUIT_OPEN
from services.price_cache import PriceCache
from services.providers.base import ProviderError, RateLimitError, UnreachableError
from services.store import CIRCUIT, unreachable_streak

log = logging.getLogger(__name__)


class TokenBucket:
    """At most `rate` requests a second on average, in bursts of up to `burst` (per process)."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self._rate, self._capacity = rate, float(burst)
        self._tokens, self._stamp = float(burst), clock()
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        reset_in_child(self._reset_after_fork)

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()  # a fetch thread of the parent may have held it while forking

    def acquire(self) -> float:
        """Take one token, sleeping until there is one; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return waited
                delay = (1.0 - self._tokens) / self._rate
            self._sleep(delay)
            waited += delay


RATE_LIMITED, UNREACHABLE = "rate_limited", "unreachable"
# What a ticker's outcome (and its remembered failure) says while the circuit is open, by the circuit's reason.
CIRCUIT_MESSAGES = {RATE_LIMITED: "price source rate limited (HTTP 429)", UNREACHABLE: "price source unreachable"}
# Requests in a row, across every worker, that must fail as unreachable before the circuit opens: one ticker's
# first attempt and two of its retries, or one round of three parallel requests. One blip does not open it.
UNREACHABLE_AFTER = 3


class CircuitBreaker:
    """Stops upstream requests for a cool-down. Its state lives in the shared cache, so it stops every worker.

    It opens for one of two reasons (`state()["reason"]`):
    - `rate_limited`: a request was answered HTTP 429. The cool-down doubles (up to 8x) while 429s continue.
    - `unreachable`: `unreachable_after` requests in a row failed as `UnreachableError` (no DNS, connection refused,
      connect timeout), with no request reaching the source in between (the count is in the cache too). The
      cool-down does not double: nobody upstream is being asked to slow down, and the prices should come back
      within one cool-down of the network.
    After the cool-down it is half-open: requests flow again. The first that reaches the source (for a 429, the
    first that is answered without one) closes it; a failure of the same kind opens it again at once.
    It logs one warning when it opens, one info line when it closes, and one info line per failed half-open probe.
    """

    def __init__(self, cache: PriceCache, provider: str, cooldown_s: float,
                 now: Callable[[], float] = time.time, *, unreachable_cooldown_s: float | None = None,
                 unreachable_after: int = UNREACHABLE_AFTER):
        self._cache, self._key, self._cooldown_s, self._now = cache, CIRCUIT.key(provider), cooldown_s, now
        self._lock = circuit_lock(provider)
        self._streak_key = unreachable_streak(provider)
        self._unreachable_cooldown_s = cooldown_s if unreachable_cooldown_s is None else unreachable_cooldown_s
        self._unreachable_after = max(1, unreachable_after)
        self._provider = provider

    def _entry(self) -> dict | None:
        state = self._cache.get(self._key)
        if state and state.get("reason") not in CIRCUIT_MESSAGES:  # written before reasons had kinds: a 429's
            state = {**state, "detail": state.get("reason"), "reason": RATE_LIMITED}
        return state or None

    def is_open(self) -> bool:
        state = self._cache.get(self._key)
        is_open = bool(state and state["open_until"] > self._now())
        CIRCUIT_OPEN.labels(provider=self._provider).set(1 if is_open else 0)
        return is_open

    def open_reason(self) -> str | None:
        """`rate_limited` or `unreachable` while open, else None."""
        state = self._entry()
        return state["reason"] if state and state["open_until"] > self._now() else None

    def message(self) -> str:
        """Why nothing is asked upstream right now, for a ticker's outcome ("price source unreachable")."""
        return CIRCUIT_MESSAGES[self.open_reason() or RATE_LIMITED]

    def error(self) -> ProviderError:
        """The error a ticker is failed with when the circuit stops its fetch."""
        reason = self.open_reason()
        return UnreachableError(CIRCUIT_MESSAGES[UNREACHABLE]) if reason == UNREACHABLE else RateLimitError(
            CIRCUIT_MESSAGES[RATE_LIMITED])

    def trip(self, reason: str = RATE_LIMITED, detail: str = "") -> float:
        """Open the circuit for `reason` (rate_limited | unreachable); returns the time (epoch seconds) it closes.

        Requests that fail together (parallel fetch threads, other workers) open it once: whoever finds it already
        open for the same reason leaves it as it is.
        """
        if reason not in CIRCUIT_MESSAGES:  # a caller of the old trip(text): that was always a 429
            reason, detail = RATE_LIMITED, detail or reason
        with self._cache.locked(self._lock, ttl_s=10, wait_s=5):  # not had in 5 s: go on unserialised
            previous = self._entry()
            if previous is not None and previous["reason"] == reason and previous["open_until"] > self._now():
                return previous["open_until"]
            return self._open(previous, reason, detail)

    def _open(self, previous: dict | None, reason: str, detail: str) -> float:
        now = self._now()
        same = previous is not None and previous["reason"] == reason
        trips = previous.get("trips", 0) + 1 if same else 1
        if reason == RATE_LIMITED:
            cooldown_s = self._cooldown_s * 2 ** min(trips - 1, 3)
        else:
            cooldown_s = self._unreachable_cooldown_s
        open_until = now + cooldown_s
        since = previous.get("since", now) if previous else now
        self._cache.set(self._key, {"trips": trips, "open_until": open_until, "reason": reason,
                                    "detail": detail or None, "since": since})
        self._cache.delete(self._streak_key)
        CIRCUIT_OPEN.labels(provider=self._provider).set(1)
        until = _iso(open_until)
        if previous is None or not same:
            log.warning("circuit breaker open: %s; no requests to %s for %.0f s, until %s (%s)",
                        CIRCUIT_MESSAGES[reason], self._provider, cooldown_s, until, detail or reason)
        else:  # a half-open probe failed: the warning was given when it first opened
            log.info("circuit breaker open again: %s; trip %d, for %.0f s, until %s",
                     CIRCUIT_MESSAGES[reason], trips, cooldown_s, until)
        return open_until

    def record_unreachable(self, detail: str = "") -> bool:
        """A request failed because the source could not be reached; True if the circuit is (now) open."""
        streak = self._cache.incr(self._streak_key)
        with self._cache.locked(self._lock, ttl_s=10, wait_s=5):
            state = self._entry()
            if state is not None and state["open_until"] > self._now():
                return True  # another request opened it meanwhile
            half_open_probe = state is not None and state["reason"] == UNREACHABLE
            if streak >= self._unreachable_after or half_open_probe:
                self._open(state, UNREACHABLE, detail)
                return True
            return False

    def record_reached(self) -> None:
        """A request reached the source but got no prices (a 404, a 5xx): it is not unreachable, nor was it a 429
        that cleared (so an open `rate_limited` circuit stays as it is)."""
        self._forget_streak()
        self._close(only=UNREACHABLE)

    def record_success(self) -> None:
        self._forget_streak()
        self._close()

    def _forget_streak(self) -> None:
        if self._cache.get(self._streak_key) is not None:
            self._cache.delete(self._streak_key)

    def _close(self, only: str | None = None) -> None:
        """Close the circuit (if open for `only`, when given), logging it once however many requests succeed."""
        state = self._entry()
        if state is None or (only and state["reason"] != only):
            return  # the common case, a success while closed: one read, no lock
        with self._cache.locked(self._lock, ttl_s=10, wait_s=5):
            state = self._entry()
            if state is None or (only and state["reason"] != only):
                return
            self._cache.delete(self._key)
        CIRCUIT_OPEN.labels(provider=self._provider).set(0)
        opened_s = self._now() - state.get("since", state["open_until"])
        log.info("circuit breaker closed: %s answers again (it was %s for %.0f s)", self._provider,
                 CIRCUIT_MESSAGES[state["reason"]].removeprefix("price source "), max(0.0, opened_s))

    def state(self) -> dict:
        """`state` closed | open | half_open (the cool-down is over, nothing has got through yet); `reason`
        rate_limited | unreachable; `until` (also `open_until`, its first name) when the cool-down ends; `since`
        when it first opened; `detail` the error that opened it."""
        state = self._entry()
        if not state:
            return {"state": "closed", "open_until": None, "reason": None, "until": None, "since": None,
                    "detail": None}
        until = _iso(state["open_until"])
        return {"state": "open" if self.is_open() else "half_open", "open_until": until, "reason": state["reason"],
                "until": until, "since": _iso(state.get("since", state["open_until"])),
                "detail": state.get("detail")}


def _iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat()
