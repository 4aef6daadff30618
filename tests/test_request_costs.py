"""What a warm dashboard request asks of the shared parts in the Redis mode (issue 17), pinned so it cannot creep
back: Postgres statements and connection checkouts, Redis round trips, per path of bench/load.py's dashboard mix.

The app runs in this process on a throwaway redis-server and Postgres (bench/request_costs.py builds it: REDIS_URL,
a Postgres DATABASE_URL, demo prices, logins off); the counts are of this thread only (SQLAlchemy's events, redis-py's
sends). Each expected count is the hand count in its comment: what the request needs, no more.
"""

from __future__ import annotations

import pytest

from bench.request_costs import build_redis_mode_app, count_mix, mix_paths, settle
from services.metrics import UPSTREAM_REQUESTS
from tests.cluster import servers_missing

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(servers_missing() is not None, reason=str(servers_missing()))]

# path kind -> (Postgres statements, Redis round trips), hand counted:
EXPECTED = {
    # The Dash index, its dependencies and a static file touch neither.
    "index": (0, 0), "dependencies": (0, 0), "asset": (0, 0),
    # The layout's portfolio menu: the owner's portfolios, 1 SELECT; nothing of Redis.
    "layout": (1, 0),
    # Initial data: the portfolio's row with its version, 1 SELECT (the replay is memoized per version). Redis: one
    # MGET of every price record the page reads (the circuit's state, and the failure, bars stamp, bars start and
    # quote of each of the 22 open tickers and 2 pairs: 1 + 4 x 24 = 97 keys); the fetch planner, the page's quotes
    # and the rates (the pairs' quotes and stamps) all read those: 1.
    "initial": (1, 1),
    # Holdings: the same 1 and 1 (nothing is due when warm, so nothing is read again after the wait).
    "holdings": (1, 1),
    # Chart: the portfolio's row with its version, 1 SELECT (every ticker ever traded comes from the memo). Redis:
    # the chart entry 1, and the quotes of every ticker, pair and the benchmark (have prices moved since?) 1 = 2.
    "chart": (1, 2),
}


def _upstream_requests() -> float:
    """Requests to the price source in this process so far, whatever their provider and outcome."""
    return sum(s.value for family in UPSTREAM_REQUESTS.collect() for s in family.samples
               if s.name.endswith("_total"))


def _kind(path: str) -> str:
    for marker, kind in (("/_dash-layout", "layout"), ("/_dash-dependencies", "dependencies"),
                         ("/api/dashboard-initial-data/", "initial"), ("/api/dashboard-holdings-data/", "holdings"),
                         ("/api/dashboard-chart-data/", "chart"), ("/assets/", "asset")):
        if path.startswith(marker):
            return kind
    assert path == "/", path
    return "index"


@pytest.fixture(scope="module")
def warm():
    built = build_redis_mode_app()
    try:
        paths = mix_paths(built)
        settle(built, paths)
        yield built, paths
    finally:
        built.close()


def test_a_warm_dashboard_mix_asks_postgres_and_redis_only_what_it_needs(warm):
    built, paths = warm
    assert sorted(_kind(p) for p in paths) == sorted(EXPECTED)  # the mix is what the hand count is of
    upstream = _upstream_requests()
    counted = count_mix(built, paths)
    found = {_kind(p): (len(c.statements), c.redis_round_trips) for p, c in counted.items()}
    assert found == EXPECTED, {p: (c.statements, c.redis_commands) for p, c in counted.items()}
    # One connection checkout (one session) per statement: no request opens a session it does not use.
    assert {_kind(p): c.checkouts for p, c in counted.items()} == {k: q for k, (q, _) in EXPECTED.items()}
    # Warm: nothing asked upstream.
    assert _upstream_requests() == upstream


def test_a_ledger_change_shows_in_the_very_next_payload(warm):
    # Nothing kept in this process hides a write: the version is read on every request.
    built, paths = warm
    holdings = next(p for p in paths if "holdings" in p)
    portfolio = int(holdings.rsplit("/", 1)[1])
    client = built.app.server.test_client()

    def quantity(ticker: str) -> float:
        rows = client.get(holdings, headers={"Host": "localhost"}).get_json()["holdings"]
        return next((row["quantity"] for row in rows if row["ticker"] == ticker), 0.0)

    before = quantity("ZZZT")
    posted = client.post(f"/api/portfolios/{portfolio}/transactions", headers={"Host": "localhost"},
                         json={"date": "2025-06-02", "ticker": "ZZZT", "type": "BUY", "quantity": 7, "price": 10})
    assert posted.status_code == 201, posted.get_data()
    assert (before, quantity("ZZZT")) == (0.0, 7.0)
