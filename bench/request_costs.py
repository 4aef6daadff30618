"""`python -m bench.request_costs`: what one warm dashboard request costs the shared parts, path by path (issue 17).

The app is built in this process in the Redis mode (a throwaway redis-server and Postgres, tests/services/*_server,
REDIS_URL + DATABASE_URL, the demo provider), the dashboard mix of bench/load.py (`/`, `/_dash-layout`,
`/_dash-dependencies`, the three payloads of the first sample portfolio, a static asset) is asked through Flask's
test client until every path answers 200 (prices cached, chart generated), and then, per path of one warm mix:

- Postgres: the statements SQLAlchemy sends (`before_cursor_execute`), the pool checkouts (each is a pre-ping,
  `SELECT 1`, a round trip of its own) and the transactions (psycopg2 sends BEGIN before the first statement and
  COMMIT/ROLLBACK at the end: two more round trips each);
- Redis: round trips (redis-py's `send_packed_command`: a pipeline is one) and commands;
- the web CPU of the request in this thread (`time.thread_time`, median over `--repeat` mixes).

`--profile N` prints cProfile's top functions (cumulative thread CPU time) of N warm mixes.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HOST = {"Host": "localhost"}


@dataclass
class Counts:
    """What one thread asked of Postgres and Redis."""

    statements: list[str] = field(default_factory=list)
    checkouts: int = 0
    transactions: int = 0
    redis_round_trips: int = 0
    redis_commands: list[str] = field(default_factory=list)

    @property
    def postgres_round_trips(self) -> int:
        # A checkout's pre-ping, BEGIN and COMMIT around each transaction, and the statements.
        return self.checkouts + 2 * self.transactions + len(self.statements)


class Counter:
    """Counts the current thread's database statements, checkouts and transactions, and its Redis round trips."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.thread = threading.get_ident()
        self.counts = Counts()

    def _mine(self) -> bool:
        return threading.get_ident() == self.thread

    @contextlib.contextmanager
    def active(self) -> Iterator[Counts]:
        import redis.connection
        from sqlalchemy import event

        self.counts = Counts()

        def on_execute(_conn, _cursor, statement, *_args) -> None:
            if self._mine():
                self.counts.statements.append(" ".join(statement.split())[:120])

        def on_checkout(*_args) -> None:
            if self._mine():
                self.counts.checkouts += 1

        def on_begin(_conn) -> None:
            if self._mine():
                self.counts.transactions += 1

        original_send = redis.connection.AbstractConnection.send_packed_command
        original_command = redis.connection.AbstractConnection.send_command

        def send_packed(conn, command, *args, **kwargs):
            if self._mine():
                self.counts.redis_round_trips += 1
            return original_send(conn, command, *args, **kwargs)

        def send_command(conn, *args, **kwargs):
            if self._mine():
                self.counts.redis_commands.append(str(args[0]))
            return original_command(conn, *args, **kwargs)

        event.listen(self.engine, "before_cursor_execute", on_execute)
        event.listen(self.engine, "begin", on_begin)
        event.listen(self.engine.pool, "checkout", on_checkout)
        redis.connection.AbstractConnection.send_packed_command = send_packed
        redis.connection.AbstractConnection.send_command = send_command
        try:
            yield self.counts
        finally:
            redis.connection.AbstractConnection.send_packed_command = original_send
            redis.connection.AbstractConnection.send_command = original_command
            event.remove(self.engine, "before_cursor_execute", on_execute)
            event.remove(self.engine, "begin", on_begin)
            event.remove(self.engine.pool, "checkout", on_checkout)


def redis_commands_of(counts: Counts) -> int:
    """Commands sent: each `send_command` is one, a pipeline's are counted by its packed commands (not here)."""
    return len(counts.redis_commands)


@dataclass
class RedisModeApp:
    """The app built in this process on a throwaway Redis and Postgres; `close()` stops everything."""

    app: object
    services: object
    closers: list[Callable[[], None]]

    def get(self, path: str) -> tuple[int, bytes]:
        response = self.app.server.test_client().get(path, headers=HOST)
        return response.status_code, response.get_data()

    def close(self) -> None:
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                close()


def build_redis_mode_app(extra_env: dict[str, str] | None = None) -> RedisModeApp:
    """The app on REDIS_URL + a Postgres DATABASE_URL, demo prices, logins off, no warm-up scheduler."""
    from dashapp import create_app
    from dashapp.services_access import services_of
    from services.config import Settings
    from tests.services.postgres_server import PostgresServer
    from tests.services.redis_server import RedisServer

    closers: list[Callable[[], None]] = []
    try:
        redis_server = RedisServer()
        closers.append(redis_server.stop)
        postgres = PostgresServer()
        closers.append(postgres.stop)
        postgres.admin("CREATE DATABASE stocktracker")
        data_dir = Path(tempfile.mkdtemp(prefix="request-costs-"))
        env = {k: v for k, v in os.environ.items()
               if k not in ("CACHE_DIR", "DATABASE_URL", "REDIS_URL", "DYNO", "APP_ENV", "AUTH_REQUIRED", "DATA_DIR",
                            "PORT", "PROMETHEUS_MULTIPROC_DIR", "REDIS_KEY_PREFIX")}
        env.update(REDIS_URL=redis_server.url, REDIS_KEY_PREFIX="costs:", DATABASE_URL=postgres.url("stocktracker"),
                   PRICE_PROVIDER="demo", DEMO_LATENCY_MS="0", HOST="127.0.0.1", WARMUP_ENABLED="0",
                   DATA_DIR=str(data_dir), **(extra_env or {}))
        settings = Settings.from_env(env)
        app = create_app(settings)
        services = services_of(app.server)
        closers.append(services.close)
        return RedisModeApp(app, services, closers)
    except BaseException:
        for close in reversed(closers):
            with contextlib.suppress(Exception):
                close()
        raise


def mix_paths(built: RedisModeApp) -> list[str]:
    """bench/load.py's dashboard mix for the first portfolio."""
    import json
    import re

    portfolio = json.loads(built.get("/api/portfolios")[1])["portfolios"][0]["id"]
    page = built.get("/")[1].decode(errors="replace")
    asset = re.search(r'/assets/[^"\'?]+\.(?:css|js)(?:\?m=[0-9.]+)?', page)
    return ["/", "/_dash-layout", "/_dash-dependencies", f"/api/dashboard-initial-data/{portfolio}",
            f"/api/dashboard-holdings-data/{portfolio}", f"/api/dashboard-chart-data/{portfolio}?range=1Y",
            asset.group(0) if asset else "/assets/app.css"]


def settle(built: RedisModeApp, paths: list[str], timeout_s: float = 120) -> None:
    """Every path answers 200 and the chart is ready (the prices it needs cached), twice in a row."""
    deadline, good = time.monotonic() + timeout_s, 0
    while good < 2:
        if time.monotonic() > deadline:
            raise RuntimeError("the dashboard mix did not settle")
        statuses = [built.get(path)[0] for path in paths]
        good = good + 1 if all(status == 200 for status in statuses) else 0
        if good < 2:
            time.sleep(0.2)


def count_mix(built: RedisModeApp, paths: list[str]) -> dict[str, Counts]:
    """Each path's counts in one warm mix."""
    counter = Counter(built.services.ledger.engine)
    found = {}
    for path in paths:
        with counter.active() as counts:
            status, _ = built.get(path)
        assert status == 200, (path, status)
        found[path] = counts
    return found


def cpu_ms(built: RedisModeApp, paths: list[str], repeat: int) -> dict[str, float]:
    """The median thread CPU ms of each path over `repeat` mixes."""
    spent: dict[str, list[float]] = {path: [] for path in paths}
    for _ in range(repeat):
        for path in paths:
            started = time.thread_time()
            built.get(path)
            spent[path].append(1000 * (time.thread_time() - started))
    return {path: statistics.median(times) for path, times in spent.items()}


def profile(built: RedisModeApp, paths: list[str], mixes: int, lines: int) -> str:
    profiler = cProfile.Profile(time.thread_time)  # CPU, not wall: waits on Postgres and Redis are left out
    profiler.enable()
    for _ in range(mixes):
        for path in paths:
            built.get(path)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="warm mixes whose CPU time is measured")
    parser.add_argument("--profile", type=int, default=0, help="cProfile this many warm mixes")
    parser.add_argument("--lines", type=int, default=60)
    parser.add_argument("--verbose", action="store_true", help="every statement and Redis command")
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)
    built = build_redis_mode_app()
    try:
        paths = mix_paths(built)
        settle(built, paths)
        counted = count_mix(built, paths)
        cpu = cpu_ms(built, paths, args.repeat)
        print("| path | pg statements | pg checkouts | pg transactions | pg round trips | redis round trips "
              "| redis commands | web CPU ms |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for path in paths:
            c = counted[path]
            print(f"| {path} | {len(c.statements)} | {c.checkouts} | {c.transactions} | {c.postgres_round_trips} | "
                  f"{c.redis_round_trips} | {len(c.redis_commands)} | {cpu[path]:.2f} |")
        total = [sum(x) for x in zip(*((len(c.statements), c.checkouts, c.transactions, c.postgres_round_trips,
                                        c.redis_round_trips, len(c.redis_commands)) for c in counted.values()),
                                       strict=True)]
        print(f"| mix of {len(paths)} | {' | '.join(map(str, total))} | {sum(cpu.values()):.2f} |")
        print(f"per request: {total[3] / len(paths):.2f} pg round trips, {total[4] / len(paths):.2f} redis round "
              f"trips, {sum(cpu.values()) / len(paths):.2f} ms web CPU")
        if args.verbose:
            for path in paths:
                print(f"\n{path}")
                for statement in counted[path].statements:
                    print(f"  SQL {statement}")
                print(f"  redis {counted[path].redis_commands}")
        if args.profile:
            print(profile(built, paths, args.profile, args.lines))
    finally:
        built.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
