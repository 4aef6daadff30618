"""The worker's tasks (REDIS_URL deployments): the scheduled warm-up and chart generation.

Each reuses what the embedded mode runs (`background_tasks.warmup_updater(...).run_once()`,
`BackgroundChartGenerator.generate`) on the worker's own services, built once per worker process from the
environment: the worker reads and writes the same Redis store and ledger database as the web processes, so what it
fetches and generates is what their pages serve.
"""

from __future__ import annotations

import threading
from dataclasses import asdict

from celery import shared_task

from services.background_tasks import CHART_WAIT_S, warmup_updater
from services.celery_app import CHART_TASK, WARMUP_TASK
from services.config import Settings
from services.container import Services, build_services

# A warm-up that outlasts the interval is not started twice (two beats' ticks, a beat after a slow run): the next
# scheduled run finds the lock and leaves. Expires by itself if the worker running it is killed.
WARMUP_LOCK = "celery-warmup"
WARMUP_LOCK_TTL_S = 3600

_services: Services | None = None
_services_lock = threading.Lock()


def worker_services() -> Services:
    """This worker process's services (built on first use, from the environment, like a web process's)."""
    global _services
    with _services_lock:
        if _services is None:
            _services = build_services(Settings.from_env())
        return _services


@shared_task(name=WARMUP_TASK, ignore_result=True)
def warmup() -> dict | None:
    """One warm-up of every portfolio (what the embedded scheduler's leader runs); None if one is running."""
    services = worker_services()
    token = services.cache.try_lock(WARMUP_LOCK, WARMUP_LOCK_TTL_S)
    if token is None:
        return None
    try:
        return asdict(warmup_updater(services).run_once())
    finally:
        services.cache.unlock(WARMUP_LOCK, token)


@shared_task(name=CHART_TASK, ignore_result=True)
def generate_chart(portfolio_id: int) -> bool:
    """Generate and store one portfolio's chart (the web processes then serve it from the shared store); waits
    on another process generating it, as the warm-up does. True if this call stored a chart."""
    return worker_services().charts.generate(int(portfolio_id), wait_s=CHART_WAIT_S) is not None
