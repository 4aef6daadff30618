"""The warm-up: one leader per deployment (a file lock), what a run fetches by the market's calendar, and charts.

Offline: `CountingProvider` (tests/conftest.py) counts every request and symbol; time is frozen through
MarketClock(now=...). Leader election runs in real processes (multiprocessing spawn, and a real fork), because a
lock that only works within one process proves nothing about gunicorn workers.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from services.background_tasks import BackgroundPriceUpdater, WarmupResult, WarmupScheduler
from services.chart_generator import BackgroundChartGenerator, ChartStore
from services.container import scheduler_status
from services.ledger import Ledger
from services.locks import FileLeaderLock, chart_lock
from services.models import Quote
from services.price_planning import Need, merge_needs
from services.store import SCHEDULER, WARMUP_RUNS_COUNTER
from tests.fakes import SESSION_MOMENT, CountingProvider, FrozenTime, make_clock, make_settings
from tests.waiting import wait_until

UTC = dt.UTC
D = dt.date


def read_text(path: Path) -> str | None:
    try:
        return path.read_text() or None
    except FileNotFoundError:
        return None


# -- leader election across processes ----------------------------------------------------------------------------
# Targets of spawned processes: module-level, so the child can import them.


def _hold_lock(lock_path: str, status_path: str) -> None:
    """Take the lock, say so, and hold it until killed."""
    acquired = FileLeaderLock(Path(lock_path)).try_acquire()
    Path(status_path).write_text("held" if acquired else "refused")
    time.sleep(120)


def _try_lock(lock_path: str, status_path: str) -> None:
    """One attempt with a lock object of this process: report whether it became the leader."""
    lock = FileLeaderLock(Path(lock_path))
    Path(status_path).write_text("acquired" if lock.try_acquire() else "refused")


def _hold_lock_then_fork(lock_path: str, status_dir: str) -> None:
    """Take the lock, then fork a child that tries the *same* lock object: the fd it inherited is not its lock.

    The child reports its first attempt, then keeps trying until the parent (this process) is killed.
    """
    lock = FileLeaderLock(Path(lock_path))
    held = lock.try_acquire()
    pid = os.fork()
    if pid == 0:  # the child
        out = Path(status_dir)
        try:
            (out / "child-first").write_text("acquired" if lock.try_acquire() else "refused")
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if lock.try_acquire():
                    (out / "child-later").write_text(f"acquired {os.getpid()}")
                    break
                time.sleep(0.02)
            else:
                (out / "child-later").write_text("refused")
        finally:
            os._exit(0)
    Path(status_dir, "parent").write_text(f"{'held' if held else 'refused'} {pid}")
    time.sleep(120)


@pytest.fixture
def spawn():
    """Start spawned processes; every one still alive at the end is killed (by its pid)."""
    context = multiprocessing.get_context("spawn")
    started: list[multiprocessing.process.BaseProcess] = []

    def start(target, *args):
        process = context.Process(target=target, args=args, daemon=True)
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.is_alive():
            os.kill(process.pid, signal.SIGKILL)
        process.join(10)


def test_another_process_cannot_lead_while_the_leader_lives_and_takes_over_when_it_is_killed(tmp_path, spawn):
    lock_path = tmp_path / "data" / "scheduler.lock"
    holder = spawn(_hold_lock, str(lock_path), str(tmp_path / "holder"))
    assert wait_until(lambda: read_text(tmp_path / "holder")) == "held"

    # A second process with its own lock object is refused while the holder lives ...
    contender = spawn(_try_lock, str(lock_path), str(tmp_path / "contender"))
    contender.join(30)
    assert read_text(tmp_path / "contender") == "refused"
    # ... and so is a lock object of this (third) process, however often it asks.
    mine = FileLeaderLock(lock_path)
    assert [mine.try_acquire() for _ in range(3)] == [False, False, False]

    os.kill(holder.pid, signal.SIGKILL)  # no release, no atexit: the kernel drops the flock with the process
    holder.join(10)
    assert holder.exitcode == -signal.SIGKILL
    try:
        assert mine.try_acquire() is True
        assert mine.try_acquire() is True  # re-entrant for its owner
        assert lock_path.read_text() == str(os.getpid())  # the leader's pid, for whoever looks at the file
    finally:
        mine.release()
    again = spawn(_try_lock, str(lock_path), str(tmp_path / "again"))
    again.join(30)
    assert read_text(tmp_path / "again") == "acquired"  # released: the next one may lead


def test_a_lock_inherited_through_fork_is_not_held_by_the_child_nor_kept_alive_by_it(tmp_path, spawn):
    lock_path = tmp_path / "scheduler.lock"
    parent = spawn(_hold_lock_then_fork, str(lock_path), str(tmp_path))
    status, child_pid = wait_until(lambda: read_text(tmp_path / "parent")).split()
    assert status == "held"
    # The child shares the parent's open file (and so its flock) but must not count itself as the leader.
    assert wait_until(lambda: read_text(tmp_path / "child-first")) == "refused"
    assert read_text(tmp_path / "child-later") is None

    os.kill(parent.pid, signal.SIGKILL)
    parent.join(10)
    # Had the child kept the inherited descriptor open, the dead parent's lock would live on in it and nobody,
    # the child included, could ever lead again.
    assert wait_until(lambda: read_text(tmp_path / "child-later"), timeout_s=15) == f"acquired {child_pid}"


def test_release_lets_another_lock_object_lead_and_is_a_no_op_when_not_held(tmp_path):
    first, second = FileLeaderLock(tmp_path / "l.lock"), FileLeaderLock(tmp_path / "l.lock")
    second.release()  # never held: nothing to do, and nothing breaks
    assert first.try_acquire() is True
    assert second.try_acquire() is False  # another open file description, as in another process
    first.release()
    assert second.try_acquire() is True
    assert first.try_acquire() is False
    second.release()


# -- merge_needs -------------------------------------------------------------------------------------------------
JAN, FEB, MAR, APR = D(2025, 1, 6), D(2025, 2, 3), D(2025, 3, 3), D(2025, 4, 1)


@pytest.mark.parametrize(("per_portfolio", "expected"), [
    pytest.param([], {}, id="no portfolios"),
    pytest.param([{}, {}], {}, id="empty portfolios"),
    pytest.param([{"AAA": Need(FEB)}], {"AAA": Need(FEB)}, id="one portfolio as is"),
    pytest.param([{"AAA": Need(FEB)}, {"BBB": Need(JAN, MAR)}], {"AAA": Need(FEB), "BBB": Need(JAN, MAR)},
                 id="disjoint tickers: the union"),
    pytest.param([{"AAA": Need(FEB)}, {"AAA": Need(JAN)}], {"AAA": Need(JAN)}, id="both open: earliest start"),
    pytest.param([{"AAA": Need(JAN, MAR)}, {"AAA": Need(FEB)}], {"AAA": Need(JAN)},
                 id="closed in one, open in another: a quote is still needed"),
    pytest.param([{"AAA": Need(FEB)}, {"AAA": Need(JAN, MAR)}], {"AAA": Need(JAN)}, id="open after closed"),
    pytest.param([{"AAA": Need(FEB, MAR)}, {"AAA": Need(JAN, FEB)}], {"AAA": Need(JAN, MAR)},
                 id="closed in both: earliest start, latest end"),
    pytest.param([{"AAA": Need(JAN, FEB)}, {"AAA": Need(MAR, APR)}, {"AAA": Need(FEB, MAR)}],
                 {"AAA": Need(JAN, APR)}, id="three closed: the span of them all"),
    pytest.param([{"AAA": Need(MAR), "BBB": Need(MAR, APR)}, {"AAA": Need(FEB, MAR), "BBB": Need(JAN, FEB)}],
                 {"AAA": Need(FEB), "BBB": Need(JAN, APR)}, id="several tickers merge independently"),
])
def test_merge_needs(per_portfolio, expected):
    assert merge_needs(per_portfolio) == expected


def test_merge_needs_reads_a_generator_once():
    needs = ({"AAA": Need(D(2025, 1, day))} for day in (9, 3, 7))
    assert merge_needs(needs) == {"AAA": Need(D(2025, 1, 3))}


# -- BackgroundPriceUpdater.run_once -----------------------------------------------------------------------------
class World:
    """A ledger, the price path on a CountingProvider, the chart generator and the updater, on one frozen clock."""

    def __init__(self, settings, clock, frozen_time: FrozenTime, cache, make_service):
        self.time, self.cache, self.clock = frozen_time, cache, clock
        self.ledger = Ledger(settings.database_url)
        self.ledger.create_all()
        self.provider = CountingProvider(clock)
        self.prices = make_service(self.provider, cache)
        self.charts = BackgroundChartGenerator(self.ledger, self.prices, clock, ChartStore(cache), now=frozen_time)
        self.updater = BackgroundPriceUpdater(self.ledger, self.prices, cache, self.charts, now=frozen_time)

    def portfolio(self, name: str, rows: list[str]) -> int:
        portfolio_id = self.ledger.create_portfolio(name).id
        self.ledger.import_csv(portfolio_id, "date,ticker,type,quantity,price\n" + "\n".join(rows) + "\n")
        return portfolio_id

    def run_at(self, moment: dt.datetime) -> WarmupResult:
        self.time.set(moment)
        return self.updater.run_once()

    def fetched(self) -> list[str]:
        """Every symbol asked for so far, sorted (one entry per request it was in)."""
        return sorted(self.provider.requested())

    def close(self) -> None:
        self.charts.shutdown()
        self.charts._executor.shutdown(wait=True)
        self.ledger.dispose()


@pytest.fixture
def world(settings, clock, frozen_time, price_cache, make_service):
    built = World(settings, clock, frozen_time, price_cache, make_service)
    yield built
    built.close()


def two_portfolios(world: World) -> tuple[int, int]:
    """Growth holds AAA and BBB; Income holds BBB (again) and CCC: three tickers in all."""
    growth = world.portfolio("Growth", ["2025-06-02,AAA,BUY,10,100", "2025-06-02,BBB,BUY,5,100"])
    income = world.portfolio("Income", ["2025-06-16,BBB,BUY,1,110", "2025-06-02,CCC,BUY,3,90"])
    return growth, income


def test_a_run_in_session_with_a_cold_cache_fetches_every_ticker_of_every_portfolio_once(world):
    growth, income = two_portfolios(world)
    result = world.run_at(SESSION_MOMENT)
    # BBB is in both portfolios, and asked for once; so is their benchmark ^GSPC (issue 16), from the earliest
    # first transaction of the two (2 June).
    assert world.fetched() == ["AAA", "BBB", "CCC", "^GSPC"]
    assert world.provider.call_count == 1  # one batch: four symbols fit in one upstream request
    (call,) = world.provider.calls
    assert {r.ticker: r.start for r in call} == {"AAA": D(2025, 6, 2), "BBB": D(2025, 6, 2), "CCC": D(2025, 6, 2),
                                                 "^GSPC": D(2025, 6, 2)}
    assert (result.tickers, result.due, result.fetched, result.failed, result.requests, result.charts) == (
        4, 4, 4, 0, 1, 2)
    assert result.at == SESSION_MOMENT.isoformat()
    assert result.pid == os.getpid()
    for portfolio_id in (growth, income):  # both charts computed from what the run fetched, with no fetch of their own
        entry = world.charts.store.get(portfolio_id)
        assert entry is not None and entry.ledger_version == world.ledger.version(portfolio_id)


def test_a_second_run_within_the_quote_ttl_fetches_nothing_and_after_it_only_the_tail(world):
    two_portfolios(world)
    world.run_at(SESSION_MOMENT)
    calls = world.provider.call_count

    quiet = world.run_at(SESSION_MOMENT + dt.timedelta(minutes=4, seconds=59))  # TTL is 300 s
    assert world.provider.call_count == calls
    assert (quiet.due, quiet.fetched, quiet.requests, quiet.charts) == (0, 0, 0, 0)

    again = world.run_at(SESSION_MOMENT + dt.timedelta(minutes=5))
    assert world.provider.call_count == calls + 1
    # Only the tail: from the last cached bar (today's, whose close moves during the session), never from June.
    tail = SESSION_MOMENT.date()
    assert {r.ticker: r.start for r in world.provider.calls[-1]} == {"AAA": tail, "BBB": tail, "CCC": tail,
                                                                     "^GSPC": tail}
    assert (again.due, again.fetched, again.charts) == (4, 4, 2)


FRIDAY_CLOSE = dt.datetime(2025, 7, 11, 20, 0, tzinfo=UTC)  # Friday 11 July 2025, 16:00 in New York
EARLY_CLOSE = dt.datetime(2025, 7, 3, 17, 0, tzinfo=UTC)  # Thursday 3 July 2025, 13:00 in New York (early close)
MINUTE = dt.timedelta(minutes=1)


@pytest.mark.parametrize(("first_run", "second_run", "fetches_again"), [
    # Weekend: the quote taken after Friday's close + settle (15 min) holds until Monday's open (13:30 UTC).
    pytest.param(FRIDAY_CLOSE + 30 * MINUTE, dt.datetime(2025, 7, 12, 15, 0, tzinfo=UTC), False,
                 id="Saturday after Friday's post-close fetch"),
    pytest.param(FRIDAY_CLOSE + 30 * MINUTE, dt.datetime(2025, 7, 13, 23, 0, tzinfo=UTC), False,
                 id="Sunday night"),
    pytest.param(FRIDAY_CLOSE + 16 * MINUTE, dt.datetime(2025, 7, 14, 13, 29, tzinfo=UTC), False,
                 id="Monday a minute before the open"),
    pytest.param(FRIDAY_CLOSE + 30 * MINUTE, dt.datetime(2025, 7, 14, 13, 30, tzinfo=UTC), True,
                 id="Monday at the open"),
    # Taken inside the settle window, the close may still have moved: the next run takes it again.
    pytest.param(FRIDAY_CLOSE + 5 * MINUTE, dt.datetime(2025, 7, 12, 15, 0, tzinfo=UTC), True,
                 id="Saturday after a fetch in Friday's settle window"),
    # Holiday after an early close: 4 July is closed, 3 July closed at 13:00 New York time.
    pytest.param(EARLY_CLOSE + 20 * MINUTE, dt.datetime(2025, 7, 4, 15, 0, tzinfo=UTC), False,
                 id="holiday after the early close + settle"),
    pytest.param(EARLY_CLOSE + 20 * MINUTE, dt.datetime(2025, 7, 5, 15, 0, tzinfo=UTC), False,
                 id="the Saturday after the holiday"),
    pytest.param(EARLY_CLOSE - 60 * MINUTE, EARLY_CLOSE + 20 * MINUTE, True,
                 id="after the early close + settle, following a fetch in the session: the closing prices"),
    pytest.param(EARLY_CLOSE - 60 * MINUTE, dt.datetime(2025, 7, 4, 15, 0, tzinfo=UTC), True,
                 id="holiday, but the last fetch was mid-session"),
    # During a session: the TTL.
    pytest.param(SESSION_MOMENT, SESSION_MOMENT + 4 * MINUTE, False, id="session, within the TTL"),
    pytest.param(SESSION_MOMENT, SESSION_MOMENT + 6 * MINUTE, True, id="session, past the TTL"),
])
def test_what_a_run_fetches_follows_the_calendar(world, first_run, second_run, fetches_again):
    world.portfolio("Growth", ["2025-06-02,AAA,BUY,10,100", "2025-06-02,BBB,BUY,5,100"])
    world.run_at(first_run)
    assert world.fetched() == ["AAA", "BBB", "^GSPC"]  # the benchmark (issue 16) on the same calendar

    result = world.run_at(second_run)
    if fetches_again:
        assert world.fetched() == ["AAA", "AAA", "BBB", "BBB", "^GSPC", "^GSPC"]
        assert (result.due, result.fetched, result.requests) == (3, 3, 1)
        assert world.cache.get_quote("AAA").fetched_at == second_run  # the quote (and last bar) taken now
    else:
        assert world.fetched() == ["AAA", "BBB", "^GSPC"]  # a closed market costs nothing upstream
        assert (result.due, result.fetched, result.requests) == (0, 0, 0)
        assert world.cache.get_quote("AAA").fetched_at == first_run


def test_the_closing_prices_fetched_after_an_early_close_hold_through_the_holiday(world):
    world.portfolio("Growth", ["2025-06-02,AAA,BUY,10,100"])
    moments = [EARLY_CLOSE - 60 * MINUTE,  # 16:00 UTC, mid-session: fetched
               EARLY_CLOSE + 10 * MINUTE,  # 17:10, closed but not settled, quote past its TTL: fetched
               EARLY_CLOSE + 20 * MINUTE,  # 17:20, settled: the closing price, fetched
               EARLY_CLOSE + 30 * MINUTE,  # 17:30: nothing
               dt.datetime(2025, 7, 4, 14, 0, tzinfo=UTC),  # the holiday: nothing
               dt.datetime(2025, 7, 7, 13, 29, tzinfo=UTC),  # Monday before the open: nothing
               dt.datetime(2025, 7, 7, 13, 31, tzinfo=UTC)]  # Monday, open: fetched
    fetched = [world.run_at(moment).fetched for moment in moments]
    assert fetched == [2, 2, 2, 0, 0, 0, 2]  # AAA and the benchmark ^GSPC each time
    assert world.cache.get_quote("AAA").fetched_at == moments[-1]


def test_warmup_runs_count_in_the_shared_cache_and_the_last_run_is_recorded(world, settings):
    two_portfolios(world)
    assert scheduler_status(world.cache) == {"leader_pid": None, "warmup_runs": 0, "last_warmup": None}
    world.run_at(SESSION_MOMENT)
    second = world.run_at(SESSION_MOMENT + MINUTE)
    assert world.cache.get(WARMUP_RUNS_COUNTER) == 2
    assert world.cache.get(SCHEDULER.key("last_warmup")) == asdict(second)
    assert second.at == (SESSION_MOMENT + MINUTE).isoformat()

    # Another worker's updater (its own objects, the same cache directory) adds to the same count.
    from services.price_cache import PriceCache

    other_cache = PriceCache(settings.cache_dir)
    try:
        other = BackgroundPriceUpdater(world.ledger, world.prices, other_cache, None, now=world.time)
        third = other.run_once()
        assert scheduler_status(world.cache)["warmup_runs"] == 3
        assert scheduler_status(world.cache)["last_warmup"]["at"] == third.at
    finally:
        other_cache.close()


def test_a_failed_run_is_not_counted_and_raises(world, monkeypatch):
    two_portfolios(world)

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(world.prices, "fetch_prices_parallel", broken)
    with pytest.raises(RuntimeError, match="boom"):
        world.run_at(SESSION_MOMENT)
    assert world.cache.get(WARMUP_RUNS_COUNTER) is None
    assert world.cache.get(SCHEDULER.key("last_warmup")) is None


class GenerationLog:
    """Records which portfolios the chart generator was asked to generate."""

    def __init__(self, charts: BackgroundChartGenerator):
        self.calls: list[int] = []
        original = charts.generate

        def generate(portfolio_id: int, **kwargs):
            self.calls.append(portfolio_id)
            return original(portfolio_id, **kwargs)

        charts.generate = generate

    def take(self) -> list[int]:
        calls, self.calls = sorted(self.calls), []
        return calls


def test_charts_are_regenerated_only_where_prices_moved_or_the_chart_is_missing_or_outdated(world):
    # Growth holds AAA and BBB; Closed sold all its CCC in June, so CCC's bars are final and never fetched again.
    growth = world.portfolio("Growth", ["2025-06-02,AAA,BUY,10,100", "2025-06-02,BBB,BUY,5,100"])
    closed = world.portfolio("Closed", ["2025-06-02,CCC,BUY,3,90", "2025-06-20,CCC,SELL,3,95"])
    log = GenerationLog(world.charts)

    first = world.run_at(SESSION_MOMENT)
    # Cold: every chart is missing; AAA, BBB, CCC and the benchmark ^GSPC both are compared with (issue 16).
    assert (first.fetched, first.charts, log.take()) == (4, 2, [growth, closed])

    assert world.run_at(SESSION_MOMENT + MINUTE).charts == 0  # nothing fetched, every chart current
    assert log.take() == []

    # Past the TTL only the open tickers and the benchmark are fetched, CCC not. Closed's chart is computed again
    # too: its benchmark line moved (it runs to today, as its ranges do).
    later = SESSION_MOMENT + 6 * MINUTE
    result = world.run_at(later)
    assert world.fetched() == ["AAA", "AAA", "BBB", "BBB", "CCC", "^GSPC", "^GSPC"]
    assert (result.fetched, result.charts, log.take()) == (3, 2, [growth, closed])
    assert world.charts.store.get(growth).generated_at == later
    assert world.charts.store.get(closed).generated_at == later

    # A ledger change nobody has viewed yet (no listener here) leaves Closed's chart outdated: computed again.
    world.ledger.add_transaction(closed, {"date": "2025-06-10", "ticker": "CCC", "type": "DIVIDEND",
                                          "quantity": "3", "price": "0.5"})
    result = world.run_at(later + MINUTE)
    assert (result.fetched, result.charts, log.take()) == (0, 1, [closed])
    assert world.charts.store.get(closed).ledger_version == world.ledger.version(closed)

    # A chart dropped from the cache (invalidated) is computed again, though nothing was fetched.
    world.charts.store.invalidate(growth)
    result = world.run_at(later + 2 * MINUTE)
    assert (result.fetched, result.charts, log.take()) == (0, 1, [growth])
    assert world.charts.store.get(growth) is not None

    # Another worker refreshed BBB after Growth's chart was made (this run's outcome for it would be "shared"):
    # the chart is behind its prices, so it is computed again.
    moment = later + 3 * MINUTE
    world.cache.put_quote(Quote("BBB", 200.0, 199.0, "USD", moment, moment))
    result = world.run_at(moment + dt.timedelta(seconds=1))
    assert (result.fetched, result.charts, log.take()) == (0, 1, [growth])
    assert world.charts.store.get(growth).generated_at == moment + dt.timedelta(seconds=1)


def test_no_chart_generator_means_no_charts(world):
    two_portfolios(world)
    world.updater.charts = None
    assert world.run_at(SESSION_MOMENT).charts == 0
    assert world.charts.store.get(1) is None


# -- WarmupScheduler ---------------------------------------------------------------------------------------------
class FakeUpdater:
    def __init__(self, error: Exception | None = None):
        self.runs = 0
        self.error = error

    def run_once(self) -> WarmupResult:
        self.runs += 1
        if self.error is not None:
            raise self.error
        return WarmupResult("2025-07-08T15:00:00+00:00", os.getpid(), 0, 0, 0, 0, 0, 0.0, 0)


def test_a_tick_in_a_non_leader_does_nothing(tmp_path, price_cache):
    leader = FileLeaderLock(tmp_path / "scheduler.lock")
    assert leader.try_acquire()  # another "worker" leads (another open file description of the lock)
    try:
        updater = FakeUpdater()
        follower = WarmupScheduler(updater, FileLeaderLock(tmp_path / "scheduler.lock"), price_cache, 5)
        assert [follower.tick() for _ in range(3)] == [None, None, None]
        assert updater.runs == 0
        assert price_cache.get(SCHEDULER.key("leader_pid")) is None  # it does not claim to lead either
    finally:
        leader.release()
    assert follower.tick() is not None  # the leader is gone: the next tick leads
    assert (updater.runs, price_cache.get(SCHEDULER.key("leader_pid"))) == (1, os.getpid())
    follower.lock.release()


def test_a_tick_in_the_leader_warms_up_and_survives_a_failed_run(tmp_path, price_cache):
    lock = FileLeaderLock(tmp_path / "scheduler.lock")
    ok = WarmupScheduler(FakeUpdater(), lock, price_cache, 5)
    assert ok.tick() is not None
    assert price_cache.get(SCHEDULER.key("leader_pid")) == os.getpid()
    failing = WarmupScheduler(FakeUpdater(RuntimeError("provider down")), lock, price_cache, 5)
    assert failing.tick() is None  # logged, not raised: the scheduler keeps ticking
    assert failing.updater.runs == 1
    lock.release()


def test_the_scheduler_warms_up_at_start_and_every_interval_and_releases_the_lock(tmp_path, price_cache):
    updater = FakeUpdater()
    lock_path = tmp_path / "scheduler.lock"
    scheduler = WarmupScheduler(updater, FileLeaderLock(lock_path), price_cache, interval_s=1)
    scheduler.start()
    try:
        assert wait_until(lambda: updater.runs >= 1, timeout_s=0.9)  # the first run right away, not an interval later
        assert FileLeaderLock(lock_path).try_acquire() is False
        assert wait_until(lambda: updater.runs >= 2, timeout_s=3)
    finally:
        scheduler.shutdown()
    assert FileLeaderLock(lock_path).try_acquire() is True  # released at shutdown


def test_python_m_services_background_tasks_runs_one_warmup(tmp_path):
    """The cron entry point: one warm-up of the demo sample, its result printed as JSON, exit 0."""
    import json
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("CACHE_DIR", "DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(DATA_DIR=str(tmp_path / "data"), PRICE_PROVIDER="demo")
    done = subprocess.run([sys.executable, "-m", "services.background_tasks"], env=env, capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # The sample's twenty US tickers, VOD.L and SAP.DE, the two pairs they need in USD (GBPUSD=X, EURUSD=X) and
    # the benchmark ^GSPC, in one round of requests.
    assert result["tickers"] == 25 and result["failed"] == 0


def test_a_warmup_waits_for_a_chart_another_worker_is_generating(world):
    """After a warm-up every chart is ready: one being generated elsewhere (a ledger change there) is awaited."""
    import threading

    growth, income = two_portfolios(world)
    lock = chart_lock(income)
    token = world.cache.try_lock(lock, 60)  # another worker is generating Income's chart
    results: list[WarmupResult] = []
    run = threading.Thread(target=lambda: results.append(world.run_at(SESSION_MOMENT)))
    run.start()
    assert wait_until(lambda: world.charts.store.get(growth) is not None)
    time.sleep(0.2)
    assert results == [] and world.cache.get(WARMUP_RUNS_COUNTER) is None  # not done without Income's chart
    world.cache.unlock(lock, token)  # that worker gave up (or crashed): the warm-up computes the chart itself
    run.join(10)
    (result,) = results
    assert result.charts == 2 and world.charts.store.get(income) is not None


# -- counts of the whole deployment: the shared cache and prometheus_client's multiprocess mode -------------------
def _warm_up_times(tmp_dir: str, runs: int) -> None:
    """One "gunicorn worker": its own objects on the shared directories, running `runs` warm-ups."""
    from services.price_cache import PriceCache
    from services.price_service import PriceService

    settings = make_settings(Path(tmp_dir))
    frozen = FrozenTime(SESSION_MOMENT)
    clock = make_clock(frozen, settings)
    cache = PriceCache(settings.cache_dir)
    prices = PriceService(CountingProvider(clock), cache, clock, settings)
    updater = BackgroundPriceUpdater(Ledger(settings.database_url), prices, cache, None, now=frozen)
    for _ in range(runs):
        updater.run_once()
    prices.shutdown()
    cache.close()


def test_warmups_of_several_processes_add_up_in_the_cache_and_in_metrics(tmp_path, settings, monkeypatch):
    from prometheus_client.parser import text_string_to_metric_families

    from services import metrics
    from services.price_cache import PriceCache

    ledger = Ledger(settings.database_url)
    ledger.create_all()  # once, before the "workers" start
    ledger.import_csv(ledger.create_portfolio("P").id, "date,ticker,type,quantity,price\n2025-06-02,AAA,BUY,1,100\n")
    ledger.dispose()
    directory = tmp_path / "prometheus"
    directory.mkdir()
    # Read by prometheus_client when the spawned children import it (this process stays in single-process mode).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_warm_up_times, args=(str(tmp_path), runs)) for runs in (2, 3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0

    cache = PriceCache(settings.cache_dir)
    try:
        assert scheduler_status(cache)["warmup_runs"] == 5
    finally:
        cache.close()
    text, _content_type = metrics.render()
    totals = {sample.name: sample.value for family in text_string_to_metric_families(text.decode())
              for sample in family.samples if sample.name.endswith("_total")}
    assert totals["stocktracker_warmup_runs_total"] == 5  # 2 + 3, from two processes' files
    # AAA was fetched once for both: the first to lock it fetched, the other found it fresh (or shared).
    assert totals["stocktracker_upstream_requests_total"] == 1
