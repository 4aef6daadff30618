"""Several machines starting at once on one empty Postgres (real server): each process here has its own DATA_DIR,
so the file lock that orders one machine's processes orders nothing between them.

Before `container.deployment_init_lock` took a Postgres advisory lock too, two of them raced creating the tables
(`duplicate key value violates unique constraint "pg_type_typname_nsp_index"`: a gunicorn worker failed to boot)
and could both seed the demo sample. The race is a matter of timing: without the lock this test failed in 2 of 3
runs here (4 machines).
"""

from __future__ import annotations

import multiprocessing

import pytest

from tests.services.postgres_server import PostgresServer, postgres_missing

pytestmark = [pytest.mark.slow, pytest.mark.skipif(postgres_missing() is not None, reason=str(postgres_missing()))]

MACHINES = 4


def _boot(database_url: str, data_dir: str, start: multiprocessing.Barrier, out: multiprocessing.Queue) -> None:
    """One machine's start-up: build_services with the demo provider (tables, then the sample), all at one moment."""
    import datetime as dt

    from services.config import Settings
    from services.container import build_services
    from services.market_hours import DEFAULT_EXCHANGE, MarketClock

    settings = Settings.from_env({"DATABASE_URL": database_url, "DATA_DIR": data_dir, "PRICE_PROVIDER": "demo",
                                  "WARMUP_ENABLED": "0", "HOST": "127.0.0.1"})
    # The slow part before the tables (the exchange calendar, ~0.2 s of CPU) is done before the barrier, so the
    # machines reach CREATE TABLE together rather than one after another on a busy machine.
    clock = MarketClock(quote_ttl=dt.timedelta(seconds=settings.quote_ttl_s),
                        settle=dt.timedelta(seconds=settings.close_settle_s))
    clock.calendar(DEFAULT_EXCHANGE)
    try:
        start.wait(30)
        services = build_services(settings, clock=clock)
        services.close()
        out.put(None)
    except Exception as error:  # reported to the test, which names it
        out.put(f"{type(error).__name__}: {error}"[:600])


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer()
    yield server
    server.stop()


def test_machines_booting_together_on_one_empty_postgres_all_start_and_seed_once(postgres, tmp_path):
    postgres.admin("CREATE DATABASE boot_race")
    url = postgres.url("boot_race")
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(MACHINES), context.Queue()
    machines = [context.Process(target=_boot, args=(url, str(tmp_path / f"machine{i}"), start, out))
                for i in range(MACHINES)]
    for machine in machines:
        machine.start()
    errors = [out.get(timeout=120) for _ in machines]
    for machine in machines:
        machine.join(30)
    assert errors == [None] * MACHINES

    from services.ledger import Ledger

    ledger = Ledger(url)
    try:
        # The demo sample is two portfolios (dollars and euros): seeded by one machine, not by each.
        assert len(ledger.list_portfolios()) == 2
    finally:
        ledger.dispose()
