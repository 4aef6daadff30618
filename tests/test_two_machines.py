"""Two machines for real: two web processes (gunicorn, each its own DATA_DIR) and one Celery worker, sharing one
redis-server and one Postgres, all started here on 127.0.0.1 (tests/cluster.py), checked over HTTP only.

Checked, in this order on one deployment (booting it is most of the time): both machines booting at once onto one
empty database seed the sample once; a warm dashboard load through either asks nothing upstream; a transaction
posted through one shows in the other's holdings at once; the deployment runs one warm-up per interval; with the
worker killed both answer from the cache with the prices they had and a health check naming no leader; a
restarted worker resumes the warm-ups.
"""

from __future__ import annotations

import time

import pytest

from tests.cluster import Cluster, servers_missing
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(servers_missing() is not None, reason=str(servers_missing()))]

INTERVAL_S = 1
UPSTREAM = "stocktracker_upstream_requests"
PRICE_STATUSES = {"fresh", "market_closed", "stale", "partial"}  # a page's badge when every price is cached


@pytest.fixture(scope="module")
def cluster():
    deployment = Cluster(webs=2, worker=True, interval_s=INTERVAL_S)
    try:
        yield deployment
    finally:
        deployment.close()


@pytest.fixture(scope="module")
def portfolios(cluster) -> list[int]:
    """The sample portfolios, once the worker's first warm-up has cached their prices."""
    a, b = cluster.webs
    listed = a.json("/api/portfolios")["portfolios"]
    assert b.json("/api/portfolios")["portfolios"] == listed
    assert wait_until(lambda: cluster.scheduler()["warmup_runs"] >= 1, 30), cluster.workers[0].log_tail()
    return [p["id"] for p in listed]


def dashboard(web, portfolio_ids: list[int]) -> dict[str, dict]:
    """A browser's data requests for the dashboard of every portfolio: path -> JSON (every one a 200)."""
    answers = {}
    for pid in portfolio_ids:
        for path in (f"/api/dashboard-initial-data/{pid}", f"/api/dashboard-holdings-data/{pid}",
                     f"/api/dashboard-chart-data/{pid}?range=1Y", f"/api/chart-generator-progress/{pid}"):
            answers[path] = web.json(path)
    return answers


def test_two_machines_booting_together_seed_the_sample_once(cluster, portfolios):
    # The demo sample is two portfolios (USD and EUR); a second seeding would have made four.
    assert len(portfolios) == 2
    for web in cluster.webs:
        assert "Traceback" not in web.log_tail(200_000), web.log_tail()


def test_a_warm_load_through_either_machine_asks_nothing_upstream(cluster, portfolios):
    for web in cluster.webs:
        before = web.counter(UPSTREAM)
        answers = dashboard(web, portfolios)
        if web.counter(UPSTREAM) != before:  # a price came due in the window (an open or a close): once more
            before = web.counter(UPSTREAM)
            answers = dashboard(web, portfolios)
        assert web.counter(UPSTREAM) - before == 0, web.name
        for pid in portfolios:
            assert answers[f"/api/dashboard-initial-data/{pid}"]["prices"]["missing"] == [], web.name
            assert answers[f"/api/dashboard-chart-data/{pid}?range=1Y"]["status"] == "ready", web.name
    # Neither web process ever fetched a price: the worker did it for the deployment.
    assert [web.counter(UPSTREAM) for web in cluster.webs] == [0, 0]


def test_a_transaction_posted_through_one_machine_shows_through_the_other_at_once(cluster, portfolios):
    a, b = cluster.webs
    euros = portfolios[1]  # the EUR sample holds AAPL, SAP.DE and VOD.L

    def aapl_quantity() -> float:
        holdings = b.json(f"/api/dashboard-holdings-data/{euros}")["holdings"]
        return next(h["quantity"] for h in holdings if h["ticker"] == "AAPL")

    before = aapl_quantity()  # B has replayed this ledger already (its memo is warm)
    posted = a.json(f"/api/portfolios/{euros}/transactions", "POST",
                    {"date": "2025-06-02", "ticker": "AAPL", "type": "BUY", "quantity": 7, "price": 180},
                    expect=201)["transaction"]
    assert aapl_quantity() == before + 7  # no wait: B's very next read sees A's write
    listed = b.json(f"/api/portfolios/{euros}/transactions")["transactions"]
    assert [(t["date"], t["ticker"], t["quantity"]) for t in listed if t["id"] == posted["id"]] == \
        [("2025-06-02", "AAPL", 7)]


def test_one_warmup_per_interval_for_the_whole_deployment(cluster, portfolios):
    a, b = cluster.webs
    runs_before, started = cluster.scheduler()["warmup_runs"], time.monotonic()
    time.sleep(5 * INTERVAL_S)
    runs = cluster.scheduler()["warmup_runs"] - runs_before
    elapsed = time.monotonic() - started
    # One beat: about elapsed / INTERVAL_S = 5 runs (a tick of slack either side). A scheduler in each web process
    # as well would make about 15.
    assert elapsed / INTERVAL_S - 2 <= runs <= elapsed / INTERVAL_S + 1.5, (runs, elapsed)
    status_a, status_b = a.health()["scheduler"], b.health()["scheduler"]
    assert status_a["warmup_runs"] <= status_b["warmup_runs"]  # one counter, in Redis, read by both
    # The warm-ups ran on the worker machine, in no web process.
    web_pids = {pid for web in cluster.webs for pid in web.pids()}
    assert status_b["last_warmup"]["pid"] in cluster.workers[0].pids()
    assert status_b["last_warmup"]["pid"] not in web_pids


def test_a_killed_worker_leaves_pages_answering_and_a_restarted_one_resumes(cluster, portfolios):
    a, b = cluster.webs
    usd = portfolios[0]
    holdings_path = f"/api/dashboard-holdings-data/{usd}"
    cluster.workers[0].kill()
    runs = cluster.scheduler()["warmup_runs"]
    as_of = {h["ticker"]: h["price_as_of"] for h in a.json(holdings_path)["holdings"]}
    # RedBeat's lock of the dead beat runs out after 3 loops of min(10 s, interval) = 3 s, then no leader is named.
    assert wait_until(lambda: cluster.scheduler()["leader_pid"] is None, 10), cluster.scheduler()
    for web in (a, b):
        status, _, seconds = web.request("GET", holdings_path)
        assert status == 200 and seconds < 2.0, (web.name, status, seconds)  # from the cache, no waiting
        holdings = web.json(holdings_path)
        # Honest badges: each price is the one the worker cached, with its own time, and the page's word for them
        # is one of the cached ones, never "missing".
        assert {h["ticker"]: h["price_as_of"] for h in holdings["holdings"]} == as_of, web.name
        assert holdings["prices"]["status"] in PRICE_STATUSES, holdings["prices"]
        assert holdings["prices"]["missing"] == []
        health = web.health()
        assert health["scheduler"]["leader_pid"] is None
        assert health["scheduler"]["warmup_runs"] == runs  # nobody warms up while the worker is down
    restarted = cluster.start_worker("worker2")
    assert wait_until(lambda: cluster.scheduler()["warmup_runs"] > runs, 30), restarted.log_tail()
    assert wait_until(lambda: cluster.scheduler()["leader_pid"] in restarted.pids(), 10), cluster.scheduler()
