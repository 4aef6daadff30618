"""Case 4: crash safety. A server killed (SIGKILL) in the middle of a 50,000-row import holds all of it or none after
a restart; a cache directory deleted while the server runs, or garbage in cache.db before it starts, is rebuilt,
and every endpoint still answers.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.support import AppServer, Tally, hammer_for, json_error_problems, report, timed
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

ROWS = 50_000
SMALL_CSV = """date,ticker,type,quantity,price,fees,note
2024-01-02,AAPL,BUY,10,180,1,
2024-01-02,MSFT,BUY,5,370,1,
2024-02-01,VOD.L,BUY,100,0.7,0,
2024-03-01,KO,BUY,20,60,0,
"""
ENV = {"PRICE_WAIT_S": "1.5", "WARMUP_ENABLED": "0"}


def _imported(count: int) -> dict:
    """The import's answer when every row is new and none looks wrong (issue 15: always all three keys)."""
    return {"imported": count, "skipped_duplicates": 0, "warnings": []}


def _big_csv() -> bytes:
    tickers = ("AAPL", "MSFT", "KO", "XOM", "JNJ")
    rows = ["date,ticker,type,quantity,price,fees,note"]
    first = dt.date(2010, 1, 4)
    for n in range(ROWS):
        day = (first + dt.timedelta(days=n % 5000)).isoformat()
        rows.append(f"{day},{tickers[n % 5]},BUY,1,{10 + n % 100}.25,0,row {n}")
    return ("\n".join(rows) + "\n").encode()


def _paths(pid: int) -> list[str]:
    return ["/", f"/portfolio/{pid}", "/api/portfolios", f"/api/portfolios/{pid}/transactions",
            f"/api/dashboard-initial-data/{pid}", f"/api/dashboard-holdings-data/{pid}",
            f"/api/dashboard-chart-data/{pid}?range=1Y", f"/api/chart-generator-progress/{pid}", "/healthz",
            "/metrics"]


def _cache_state(cache_dir: Path) -> dict:
    """Locks, failures and quotes in a cache (for a failure's message)."""
    import diskcache

    with diskcache.Cache(str(cache_dir)) as cache:
        return {key: cache.get(key) for key in cache.iterkeys()
                if isinstance(key, str) and key.startswith(("lock:", "fail:", "quote:", "circuit"))}


def _count(server: AppServer, pid: int) -> int:
    return len(server.get(f"/api/portfolios/{pid}/transactions", timeout=60).json()["transactions"])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("crash") / "data"


def _kill_mid_import(server: AppServer, pid: int, body: bytes) -> tuple[str, float]:
    """Send the import and SIGKILL the server as soon as its write transaction reaches the WAL.

    Parsing 50,000 rows takes seconds and writes nothing; the insert then writes pages to stocktracker.db-wal
    (SQLite spills its page cache there before the commit). A kill at the first growth lands mid-transaction.
    """
    wal = server.data_dir / "stocktracker.db-wal"
    baseline = wal.stat().st_size if wal.exists() else 0
    answer: list = []
    sender = threading.Thread(target=lambda: answer.append(
        timed(server.base, "POST", f"/api/portfolios/{pid}/import", data=body,
              headers={"Content-Type": "text/csv"}, timeout_s=120)), daemon=True)
    started = time.monotonic()
    sender.start()
    while sender.is_alive() and time.monotonic() - started < 60:
        if wal.exists() and wal.stat().st_size > baseline:
            server.kill()
            break
        time.sleep(0.002)
    killed_at = time.monotonic() - started
    phase = "after the answer (too late)" if answer and answer[0].status == 200 else "mid-transaction"
    if server.process.poll() is None:
        server.kill()
    sender.join(10)
    return phase, killed_at


def test_sigkill_in_the_middle_of_a_large_import_keeps_all_or_none(data_dir):
    body = _big_csv()
    server = AppServer(data_dir, ENV, name="crash-1").ready()
    pid = server.post("/api/portfolios", json={"name": "Big"}).json()["portfolio"]["id"]
    assert server.post(f"/api/portfolios/{pid}/import", data=SMALL_CSV).json() == _imported(4)
    phase, killed_at = _kill_mid_import(server, pid, body)
    assert server.process.returncode == -9

    with sqlite3.connect(data_dir / "stocktracker.db") as db:  # opening it replays (or drops) the WAL
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restarted = AppServer(data_dir, ENV, name="crash-2").ready()
    try:
        after = _count(restarted, pid)
        assert after in (4, 4 + ROWS), f"{after - 4} of {ROWS} rows survived the kill: not all or none"
        # The database is whole: the same file imports in full now, and once only.
        again = restarted.post(f"/api/portfolios/{pid}/import", data=body, headers={"Content-Type": "text/csv"},
                               timeout=120)
        # Rows equal to existing ones are skipped (issue 15): if all survived, the file adds nothing now.
        imported = ROWS if after == 4 else 0
        assert again.json() == {"imported": imported, "skipped_duplicates": ROWS - imported, "warnings": []}
        assert _count(restarted, pid) == 4 + ROWS
        survived = "all" if after == 4 + ROWS else "none"
        report("SIGKILL mid-import", f"killed {killed_at:.2f} s into a {ROWS:,}-row import ({len(body) / 1e6:.1f} MB), "
                                     f"{phase}; after restart the ledger held {survived} of it ({after - 4} rows), "
                                     f"integrity_check ok, the same file then completed it once "
                                     f"({imported:,} rows added, {ROWS - imported:,} skipped as duplicates)")
    finally:
        restarted.stop()


def test_cache_directory_deleted_while_running_is_rebuilt(data_dir):
    server = AppServer(data_dir, ENV, name="crash-3").ready()
    try:
        pid = server.post("/api/portfolios", json={"name": "Small"}).json()["portfolio"]["id"]
        assert server.post(f"/api/portfolios/{pid}/import", data=SMALL_CSV).json() == _imported(4)
        warmed = wait_until(lambda: not server.get(f"/api/dashboard-holdings-data/{pid}").json()["prices"]["missing"]
                            and server.get(f"/api/dashboard-chart-data/{pid}").status_code == 200, 20, 0.2)
        assert warmed, (_cache_state(data_dir / "cache"), server.get(f"/api/dashboard-holdings-data/{pid}").json(),
                        server.log_tail())
        cache_dir = data_dir / "cache"
        shutil.rmtree(cache_dir)
        deleted = time.monotonic()
        tally = Tally()
        tally.extend(hammer_for(server.base, _paths(pid), seconds=2.0))
        assert not tally.server_errors(), [(a.path, a.status, a.body[:200]) for a in tally.server_errors()]
        assert all(a.status in ((200, 202) if "chart-data" in a.path else (200,)) for a in tally.answers), [
            (a.path, a.status) for a in tally.answers if a.status != 200]
        assert not json_error_problems(tally.answers)
        assert (cache_dir / "cache.db").exists(), "the cache was not rebuilt"
        # The prices come back: fetched again into the new cache.
        refilled = wait_until(lambda: not server.get(f"/api/dashboard-holdings-data/{pid}").json()["prices"][
            "missing"], 20, 0.2)
        assert refilled
        refilled_s = time.monotonic() - deleted
        report("cache dir deleted while running", f"{tally.summary()}; cache.db rebuilt, prices back "
                                                  f"{refilled_s:.1f} s after the deletion")
    finally:
        server.stop()


def test_garbage_in_cache_db_before_start_is_rebuilt(data_dir):
    cache_db = data_dir / "cache" / "cache.db"
    assert cache_db.exists()
    for leftover in cache_db.parent.glob("cache.db-*"):
        leftover.unlink()
    cache_db.write_bytes(os.urandom(64 * 1024))
    server = AppServer(data_dir, ENV, name="crash-4").ready()
    try:
        portfolios = server.get("/api/portfolios").json()["portfolios"]
        pid = next(p["id"] for p in portfolios if p["name"] == "Small")
        tally = Tally()
        tally.extend(hammer_for(server.base, _paths(pid), seconds=1.5))
        assert not tally.server_errors(), [(a.path, a.status, a.body[:200]) for a in tally.server_errors()]
        assert server.get("/healthz").json()["checks"] == {"database": True, "cache": True}
        assert "rebuilding it" in server.log_tail(400)
        assert wait_until(lambda: not server.get(f"/api/dashboard-holdings-data/{pid}").json()["prices"]["missing"],
                          20, 0.2)
        report("garbage cache.db at start", f"started in {server.ready_after_s:.1f} s, cache rebuilt (logged); "
                                            f"{tally.summary()}; prices fetched again")
    finally:
        server.stop()


def test_locks_of_a_killed_server_do_not_block_the_restarted_one(tmp_path):
    """Killed while fetching (a hung source) and generating a chart: the restarted server fetches and draws at once,
    instead of waiting out the dead process's locks (110 s for a fetch, 600 s for a chart generation)."""
    data_dir = tmp_path / "data"
    hung = AppServer(data_dir, {**ENV, "DEMO_LATENCY_MS": "30000"}, name="locks-1").ready()
    pid = hung.post("/api/portfolios", json={"name": "Cold"}).json()["portfolio"]["id"]
    assert hung.post(f"/api/portfolios/{pid}/import", data=SMALL_CSV).json() == _imported(4)
    assert hung.get(f"/api/dashboard-chart-data/{pid}").status_code == 202  # generating, waiting on the source
    held = wait_until(lambda: {k for k in _cache_state(data_dir / "cache") if k.startswith("lock:")} >= {
        f"lock:chart:{pid}", "lock:fetch:AAPL"}, 10, 0.1)
    assert held, _cache_state(data_dir / "cache")
    hung.kill()
    restarted = AppServer(data_dir, ENV, name="locks-2").ready()
    try:
        started = time.monotonic()
        priced = wait_until(lambda: not restarted.get(f"/api/dashboard-holdings-data/{pid}").json()["prices"][
            "missing"], 15, 0.1)
        prices_s = time.monotonic() - started
        drawn = wait_until(lambda: restarted.get(f"/api/dashboard-chart-data/{pid}").status_code == 200, 15, 0.1)
        chart_s = time.monotonic() - started
        assert priced and drawn, (_cache_state(data_dir / "cache"), restarted.log_tail())
        report("locks of a killed server", f"killed mid-fetch (hung source) and mid-chart; after restart prices in "
                                           f"{prices_s:.1f} s, chart in {chart_s:.1f} s (lock TTLs: 110 s fetch, "
                                           f"600 s chart)")
    finally:
        restarted.stop()
