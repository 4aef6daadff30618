"""The guards in front of the price source: the token bucket and the circuit breaker, on their own.

How the price service obeys them (a 429 or an unreachable source met mid-fetch) is in test_price_service.py.
"""

from __future__ import annotations

import pytest

from services.price_guards import CircuitBreaker, TokenBucket
from tests.fakes import SleepRecorder

CIRCUIT_KEY = "circuit:counting"


@pytest.fixture
def frozen_circuit(price_cache, settings, frozen_time):
    """A circuit breaker of the provider "counting" on the fixture cache whose clock is `frozen_time`."""
    return CircuitBreaker(price_cache, "counting", settings.rate_limit_cooldown_s, now=frozen_time.epoch)


# -- rate limit ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rate", "burst", "acquisitions", "expected_wait"),
    [
        (2.0, 3, 3, 0.0),  # within the burst: no wait
        (2.0, 3, 7, 2.0),  # (7 - 3) / 2
        (4.0, 8, 20, 3.0),  # (20 - 8) / 4
        (0.5, 1, 3, 4.0),  # (3 - 1) / 0.5
    ],
)
def test_token_bucket_waits_for_acquisitions_beyond_the_burst(rate, burst, acquisitions, expected_wait):
    now = [1000.0]
    sleep = SleepRecorder(on_sleep=lambda seconds: now.__setitem__(0, now[0] + seconds))
    bucket = TokenBucket(rate, burst, clock=lambda: now[0], sleep=sleep)
    waits = [bucket.acquire() for _ in range(acquisitions)]
    assert waits[:burst] == [0.0] * min(burst, acquisitions)
    assert sum(waits) == pytest.approx(expected_wait)
    assert now[0] - 1000.0 == pytest.approx(expected_wait)
    assert all(w == pytest.approx(1 / rate) for w in waits[burst:])  # one token's worth each


def test_token_bucket_refills_up_to_the_burst_only():
    now = [0.0]
    bucket = TokenBucket(2.0, 3, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    for _ in range(3):
        bucket.acquire()
    now[0] += 100.0  # idle far longer than it takes to refill: still only 3 tokens
    assert [bucket.acquire() for _ in range(4)] == pytest.approx([0.0, 0.0, 0.0, 0.5])


# -- circuit breaker -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("events", "opens"), [
    (["unreachable"] * 3, True),
    (["unreachable"] * 2, False),
    (["unreachable", "unreachable", "reached", "unreachable", "unreachable"], False),  # a 404 proves it is there
    (["unreachable", "unreachable", "success", "unreachable", "unreachable"], False),
    (["unreachable", "unreachable", "reached", "unreachable", "unreachable", "unreachable"], True),
])
def test_unreachable_streak(frozen_circuit, events, opens):
    for event in events:
        getattr(frozen_circuit, f"record_{event}")()
    assert frozen_circuit.is_open() is opens
    assert frozen_circuit.open_reason() == ("unreachable" if opens else None)


def test_a_rate_limited_circuit_is_not_closed_by_an_answer_without_prices(frozen_circuit):
    frozen_circuit.trip("rate_limited", "HTTP 429")
    frozen_circuit.record_reached()  # a 404 says Yahoo is there, not that it stopped limiting us
    assert frozen_circuit.state()["reason"] == "rate_limited"
    assert frozen_circuit.message() == "price source rate limited (HTTP 429)"
    frozen_circuit.record_success()
    assert frozen_circuit.state()["state"] == "closed"


def test_a_circuit_entry_from_before_reasons_had_kinds_reads_as_rate_limited(price_cache, frozen_circuit,
                                                                           frozen_time):
    price_cache.set(CIRCUIT_KEY, {"trips": 1, "open_until": frozen_time.epoch() + 60,
                                  "reason": "HTTP 429 from counting"})
    state = frozen_circuit.state()
    assert (state["state"], state["reason"], state["detail"]) == ("open", "rate_limited", "HTTP 429 from counting")
