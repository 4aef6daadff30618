"""What only the Redis store does: two machines at once, namespaces, a Redis that dies or hangs, forks, REDIS_URL.

The suite every store passes is test_store.py / test_locks.py; these start a redis-server of their own where a test
stops or pauses it.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from services.config import Settings, SettingsError
from services.container import build_services, shared_store
from services.locks import StoreLocks
from services.payloads import ChartPending
from services.price_cache import PriceCache
from services.store import QUOTES, StoreUnavailable
from services.store_redis import RedisStore
from tests.fakes import CountingProvider, make_clock, make_settings
from tests.services.redis_server import RedisServer, redis_missing
from tests.services.test_store import QUOTE

pytestmark = pytest.mark.skipif(redis_missing() is not None, reason=redis_missing() or "")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server() -> Iterator[RedisServer]:
    started = RedisServer()
    yield started
    started.stop()


@pytest.fixture
def stores(server) -> Iterator[list[RedisStore]]:
    """Opens stores on `server` (short timeouts: a test waits on them); all closed after the test."""
    opened: list[RedisStore] = []
    yield opened
    for store in opened:
        store.close()


def open_on(stores: list[RedisStore], url: str, namespace: str = "t:", **options) -> RedisStore:
    stores.append(RedisStore(url, namespace, connect_timeout_s=0.3, timeout_s=0.3, retry_after_s=0.5, **options))
    return stores[-1]


# -- two machines ----------------------------------------------------------------------------------------------------
def test_another_process_sees_each_write_at_once(server, stores):
    store = open_on(stores, server.url)
    store.set(QUOTES.key("AAA"), QUOTE)
    script = (
        "import sys; from services.store_redis import RedisStore; from services.store import QUOTES\n"
        "store = RedisStore(sys.argv[1], 't:')\n"
        "quote = store.get(QUOTES.key('AAA'))\n"
        "store.set('seen', quote.price)\n"
        "store.incr('runs', 2)\n"
    )
    subprocess.run([sys.executable, "-c", script, server.url], cwd=ROOT, check=True, timeout=60)
    assert store.get("seen") == QUOTE.price  # 123.45, read by the other machine from this one's write
    assert store.incr("runs") == 3  # the other machine's 2, plus 1


def test_expiry_is_redis_own(server, stores):
    mine, other = open_on(stores, server.url), open_on(stores, server.url)
    mine.set("short", "value", expire=0.3)
    assert other.get("short") == "value"
    assert 0 < mine._client.pttl("t:short") <= 300  # Redis holds the TTL: every machine sees the same expiry
    time.sleep(0.4)
    assert other.get("short", "gone") == "gone"
    mine.set("long", "value")
    assert mine._client.pttl("t:long") == -1  # no expiry: kept until deleted


def test_namespaces_keep_deployments_apart(server, stores):
    blue, green = open_on(stores, server.url, "blue:"), open_on(stores, server.url, "green:")
    blue.set("quote:AAA", 1)
    green.set("quote:AAA", 2)
    blue._client.set("LIMITER/login/1.2.3.4", b"5")  # Flask-Limiter's counters share the database
    assert (blue.get("quote:AAA"), green.get("quote:AAA")) == (1, 2)
    assert blue.keys("") == ["quote:AAA"]
    assert blue.delete_prefix("") == 1
    assert green.get("quote:AAA") == 2 and blue._client.get("LIMITER/login/1.2.3.4") == b"5"
    with pytest.raises(ValueError, match="namespace"):
        RedisStore(server.url, "")


def test_many_keys_are_walked_by_scan(server, stores):
    store = open_on(stores, server.url)
    pipe = store._client.pipeline()
    for index in range(2500):  # more than one SCAN page (1000) and one DEL batch
        pipe.set(f"t:chart:{index}", b"1")
    pipe.execute()
    store.set("other", 1)
    assert len(store.keys("chart:")) == 2500
    assert store.delete_prefix("chart:") == 2500
    assert store.keys("") == ["other"]


# -- atomically ------------------------------------------------------------------------------------------------------
def test_an_action_whose_read_changed_meanwhile_is_run_again(server, stores):
    store, other = open_on(stores, server.url), open_on(stores, server.url)
    store.set("n", 1)
    runs: list[int] = []

    def bump() -> int:
        seen = store.get("n")
        runs.append(seen)
        if len(runs) == 1:
            other.set("n", 10)  # another machine writes between our read and our write
        store.set("n", seen + 1)
        return seen

    assert store.atomically(bump) == 10
    assert runs == [1, 10] and store.get("n") == 11  # the first run's 1 + 1 was not applied; 10 + 1 was


def test_keys_inside_atomically_are_refused(server, stores):
    store = open_on(stores, server.url)
    with pytest.raises(TypeError, match="atomically"):
        store.atomically(lambda: store.keys("quote:"))


# -- Redis down or hung ----------------------------------------------------------------------------------------------
def _bars() -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime(["2025-07-07", "2025-07-08"]), name="date")
    return pd.DataFrame({"close": [1.0, 2.0], "dividend": [0.0, 0.0], "split": [0.0, 0.0]}, index=index)


def test_a_dead_redis_gives_misses_fast_and_the_store_comes_back(server, stores, caplog):
    store = open_on(stores, server.url)
    cache = PriceCache(store)
    cache.put_quote(QUOTE)
    cache.put_bars("AAA", _bars(), dt.date(2025, 7, 7))
    server.stop()

    started = time.monotonic()
    assert cache.get_quote("AAA") is None and cache.get_bars("AAA") is None and not cache.has_bars("AAA")
    assert cache.bars_tail("AAA") == (False, None) and cache.tickers_with_quotes() == []
    cache.put_quote(QUOTE)  # dropped, not raised
    assert store.get_many([QUOTES.key("AAA"), "other"], "miss") == ["miss", "miss"]
    assert (store.add("k", 1), store.delete("k"), store.delete_prefix("q"), store.writable()) == (False, False, 0,
                                                                                                   False)
    assert StoreLocks(store).try_lock("fetch:AAA", 60) is None  # no lock: no fetch whose result would be lost
    with pytest.raises(StoreUnavailable):
        store.incr("runs")
    with pytest.raises(StoreUnavailable):
        store.atomically(lambda: store.get("k"))
    # Connection refused is immediate, and for retry_after_s no call tries again: all of it well under a timeout.
    assert time.monotonic() - started < 0.3

    restarted = RedisServer(port=server.port)  # back, empty
    try:
        time.sleep(0.6)  # retry_after_s = 0.5
        assert store.writable()
        cache.put_quote(QUOTE)
        assert cache.get_quote("AAA") == QUOTE
    finally:
        restarted.stop()
    assert [r.message.split(" (")[0] for r in caplog.records if r.name == "services.store_redis"] == [
        "shared store unreachable", "shared store reachable again"]  # once each, not once per call


def test_a_hung_redis_costs_one_timeout_then_answers_at_once(server, stores):
    store = open_on(stores, server.url)
    store.set("k", 1)
    server.pause()
    try:
        started = time.monotonic()
        assert store.get("k", "miss") == "miss"
        first = time.monotonic() - started
        assert 0.25 <= first < 1.0  # the 0.3 s answer timeout, not forever
        started = time.monotonic()
        assert [store.get("k", "miss") for _ in range(100)] == ["miss"] * 100
        assert time.monotonic() - started < 0.1  # Redis is taken for down: nobody waits again
    finally:
        server.resume()
    time.sleep(0.6)
    assert store.get("k") == 1


# -- fork ------------------------------------------------------------------------------------------------------------
def test_a_forked_child_uses_connections_of_its_own(server, stores):
    store = open_on(stores, server.url)
    store.set("parent", "p")  # the parent's pool holds a connection now
    parent_connection = store._client.connection_pool._available_connections[0]
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 only if it reads and writes through a connection that is not the parent's
        try:
            ok = store.get("parent") == "p"
            store.set("child", os.getpid())
            ok = ok and store.get("child") == os.getpid()
            mine = store._client.connection_pool._available_connections
            ok = ok and parent_connection not in mine
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.get("child") == pid and store.get("parent") == "p"  # the parent's connection still answers


# -- chosen by REDIS_URL ---------------------------------------------------------------------------------------------
def test_redis_url_selects_the_redis_store(server, tmp_path, frozen_time):
    settings = make_settings(tmp_path, redis_url=server.url, redis_key_prefix="deploy-a:")
    clock = make_clock(frozen_time, settings)
    services = build_services(settings, clock=clock, provider=CountingProvider(clock))
    other_machine = RedisStore(server.url, "deploy-a:")
    try:
        store = services.cache.store
        # The price cache reads through ReadOnceStore (services/store_reads.py: one Redis read per record a payload).
        inner = getattr(store, "inner", store)
        assert isinstance(inner, RedisStore) and inner.namespace == "deploy-a:"
        services.cache.put_quote(QUOTE)
        assert other_machine.get(QUOTES.key("AAA")) == QUOTE
        assert not (tmp_path / "cache" / "cache.db").exists()  # no diskcache store was opened
    finally:
        other_machine.close()
        services.close()
        services.cache.close()


def test_without_redis_url_the_store_stays_on_disk(tmp_path):
    settings = make_settings(tmp_path)
    assert settings.redis_url is None
    assert shared_store(settings) == settings.cache_dir  # PriceCache opens a DiskStore on it


def test_pages_answer_honest_misses_while_redis_is_down(server, tmp_path, frozen_time):
    settings = make_settings(tmp_path, redis_url=server.url)
    clock = make_clock(frozen_time, settings)
    provider = CountingProvider(clock)
    services = build_services(settings, clock=clock, provider=provider)
    try:
        portfolio = services.ledger.create_portfolio("P").id
        services.ledger.import_csv(portfolio, "date,ticker,type,quantity,price,fees\n"
                                              "2025-03-03,AAA,BUY,10,100,5\n2025-03-03,BBB,BUY,10,150,0\n")
        assert services.dashboard.holdings(portfolio, wait_s=10).prices.status != "missing"  # warm, in Redis
        server.stop()
        calls = len(provider.calls)
        assert calls > 0

        started = time.monotonic()
        initial = services.dashboard.initial(portfolio)
        holdings = services.dashboard.holdings(portfolio, wait_s=2)
        chart = services.dashboard.chart(portfolio, "1M", wait_s=0)
        elapsed = time.monotonic() - started

        assert initial.prices.status == "missing" and initial.prices.missing == ("AAA", "BBB")
        assert initial.summary.market_value is None and initial.summary.cost_basis == 2505.0  # 10*100+5 + 10*150
        assert holdings.prices.status == "missing"
        assert isinstance(chart, ChartPending)
        assert services.cache.writable() is False  # /healthz reports the cache broken
        assert len(provider.calls) == calls  # no upstream fetch whose result could not be cached
        assert elapsed < 2.0  # no call waited on the dead Redis
    finally:
        services.close()
        services.cache.close()


def test_redis_settings_are_read_and_a_bad_url_is_refused_by_name():
    assert Settings.from_env({}).redis_key_prefix == "stocktracker:"
    settings = Settings.from_env({"REDIS_URL": "rediss://:pw@cache:6380/1", "REDIS_KEY_PREFIX": "blue:"})
    assert (settings.redis_url, settings.redis_key_prefix) == ("rediss://:pw@cache:6380/1", "blue:")
    with pytest.raises(SettingsError, match=r"REDIS_URL must start with redis:// or rediss:// \(it starts with 'http'"):
        Settings.from_env({"REDIS_URL": "http://cache:6379"})
    with pytest.raises(SettingsError, match="it has no scheme") as refused:
        Settings.from_env({"REDIS_URL": "s3cret@cache:6379"})
    assert "s3cret" not in str(refused.value)  # a password pasted without its scheme is not echoed to the log
