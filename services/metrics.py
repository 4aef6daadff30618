"""Prometheus metrics, defined once.

In multiprocess mode (PROMETHEUS_MULTIPROC_DIR set before prometheus_client is first imported, as app.py does)
every gunicorn worker writes its own files and `render()` adds them up, so /metrics tells the whole deployment.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

UPSTREAM_REQUESTS = Counter(
    "stocktracker_upstream_requests", "Requests sent to the price provider", ["provider", "outcome"]
)
UPSTREAM_SYMBOLS = Counter(
    "stocktracker_upstream_symbols", "Symbols asked of the price provider", ["provider", "outcome"]
)
# Counted when the request is sent: the counters above only move when an answer comes back, so a provider that
# hangs would be invisible in /metrics for as long as it hangs.
UPSTREAM_IN_FLIGHT = Gauge(
    "stocktracker_upstream_requests_in_flight", "Requests sent to the price provider and not answered yet",
    ["provider"], multiprocess_mode="livesum",
)
CACHE_LOOKUPS = Counter("stocktracker_price_cache_lookups", "Quote lookups in the price cache", ["result"])
CIRCUIT_OPEN = Gauge(
    "stocktracker_circuit_open", "1 while the circuit breaker stops requests upstream", ["provider"],
    multiprocess_mode="max",
)
REQUEST_SECONDS = Histogram(
    "stocktracker_request_seconds", "Latency of API endpoints and Dash callbacks", ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WARMUP_RUNS = Counter("stocktracker_warmup_runs", "Background price warm-ups", ["outcome"])
WARMUP_SECONDS = Histogram("stocktracker_warmup_seconds", "Duration of background price warm-ups")
CHART_GENERATIONS = Counter("stocktracker_chart_generations", "Chart series generated", ["outcome"])
CHART_SECONDS = Histogram("stocktracker_chart_generation_seconds", "Duration of chart series generation")


def render() -> tuple[bytes, str]:
    """The exposition text for /metrics, summed across processes in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def counter_value(counter: Counter, **labels: str) -> float:
    """The current value of a labelled counter in this process (tests and the benchmark read it)."""
    return counter.labels(**labels)._value.get()
