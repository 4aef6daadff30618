"""A forked child (a Dash background callback) must not inherit held locks or dead thread pools."""

from __future__ import annotations

import os
import threading

import pytest

from services.config import Settings
from services.container import build_services
from services.store import QUOTES

# Locks other threads of the server take often: a fork (Dash's background callbacks) may happen while one is held.
HELD_LOCKS = {
    "the price service's in-flight lock": lambda services: services.prices._inflight_lock,
    # Shared by the request threads and the chart generator's thread; without its reset the background wait for
    # prices hung in its first load, and the dashboard's summary and holdings never refilled (2 of 4 cold loads
    # of the bench's large portfolio).
    "the portfolio loader's memo lock": lambda services: services.dashboard.loader._lock,
}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.parametrize("lock_of", HELD_LOCKS.values(), ids=HELD_LOCKS.keys())
def test_child_forked_while_a_lock_is_held_can_still_fetch_and_read(tmp_path, lock_of):
    settings = Settings(data_dir=tmp_path, cache_dir=tmp_path / "cache",
                        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", price_provider="demo", demo_mode=False)
    services = build_services(settings)
    portfolio = services.ledger.create_portfolio("fork")
    services.ledger.add_transaction(portfolio.id, {"date": "2025-01-06", "ticker": "AAPL", "type": "BUY",
                                                   "quantity": 2, "price": 10})
    # Let the chart generation that the change started finish: a fork while another thread is inside SQLite
    # itself can deadlock the child at the C level, which no Python-side reset can mend.
    services.charts.request(portfolio.id).result(timeout=30)
    held, release = threading.Event(), threading.Event()

    lock = lock_of(services)

    def hold_lock():
        with lock:  # as another thread of the server would, at the moment of the fork
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    held.wait(5)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: without the reset this deadlocks on the inherited lock
        try:
            services.cache.delete(QUOTES.key("AAPL"))  # so the child must fetch: the in-flight lock and the pool
            payload = services.dashboard.holdings_data(portfolio.id, wait_s=5)
            if payload["holdings"][0]["price"] is None:
                os._exit(3)  # answered, but the fetch never ran (a dead thread pool)
            os.write(write, payload["holdings"][0]["ticker"].encode())
        finally:
            os._exit(0)
    release.set()
    holder.join()
    os.close(write)
    answer = b""
    waited = 0
    while waited < 30:
        ready_pid, _ = os.waitpid(pid, os.WNOHANG)
        if ready_pid:
            break
        threading.Event().wait(0.1)
        waited += 0.1
    else:
        os.kill(pid, 9)
        pytest.fail("the forked child hung on a lock inherited from the parent")
    answer = os.read(read, 100)
    os.close(read)
    services.close()
    assert answer == b"AAPL"
