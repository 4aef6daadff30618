"""The dashboard's background callbacks on a Celery worker (REDIS_URL), in a real browser.

A real redis-server, the app (`python app.py --demo`, REDIS_URL set: Dash's CeleryManager) and the Procfile's
worker, all started here. The page is opened on a cold cache before any worker runs, so its waits for prices and
for the chart are jobs queued in Redis; the worker then starts, runs them (and the chart the sample portfolios'
import asked for), and the page fills, its waits answered through the web process from Redis.
"""

from __future__ import annotations

import os
import uuid

import pytest

from tests.browser.support import DemoServer, wait_for_dashboard
from tests.services.redis_server import RedisServer, redis_missing
from tests.services.test_celery_worker import Worker
from tests.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(redis_missing() is not None, reason=str(redis_missing()))]


def test_the_pages_waits_run_on_the_worker_and_fill_the_dashboard(browser, tmp_path):
    redis = RedisServer()
    shared = {"REDIS_URL": redis.url, "REDIS_KEY_PREFIX": f"browser-{uuid.uuid4().hex[:8]}:",
              "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}", "PRICE_PROVIDER": "demo",
              "DEMO_LATENCY_MS": "1500", "WARMUP_INTERVAL_S": "600", "HOST": "127.0.0.1"}
    web = DemoServer(tmp_path / "web", env=shared)  # seeds the sample portfolios into the shared ledger
    worker = None
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=web.base)
    try:
        web.wait_ready()
        page = context.new_page()
        page.goto("/")
        # No worker yet: the wait for prices is queued in Redis while the page shows its progress.
        page.wait_for_selector("#holdings-table", state="attached", timeout=30_000)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}, **shared, "SEED_SAMPLE": "0"}
        worker = Worker(env, tmp_path, "browser-worker")
        worker.wait_ready()
        wait_for_dashboard(page, web, timeout_ms=60_000)
        # The page's waits ran on the worker (Dash names their tasks background_callback_<hash>).
        ran = wait_until(lambda: [line for line in worker.log().splitlines()
                                  if "Task background_callback_" in line and " succeeded " in line], 10)
        assert ran, worker.log()[-3000:]
    finally:
        context.close()
        if worker is not None:
            worker.stop()
        web.stop()
        redis.stop()
