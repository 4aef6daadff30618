"""The Celery app of a deployment on Redis (REDIS_URL): broker and result backend, the beat's schedule and its lock.

Only with REDIS_URL; without it nothing imports this module and everything stays embedded. The Procfile's
`worker` runs `celery -A services.celery_app worker --beat --scheduler services.celery_app.LeaderBeat --pool
threads` (`-S` of `celery worker` is its state file, not the scheduler). Threads, not forked processes: the work is
waits on prices and Redis, and one process holds one copy of the app (~150 MB) whose connections are never forked.
- tasks: the warm-up and chart generation (`services.celery_tasks`), and the Dash background callbacks
  (`dashapp.celery_callbacks` builds the Dash app in the worker, whose pages register them on this app);
- one beat per deployment: celery-redbeat keeps the schedule in Redis and lets only the holder of its lock send
  tasks, so any number of worker dynos run `--beat` and one of them schedules (another takes over within
  BEAT_LOCK_WAKEUPS beat loops of its death).

Every key Celery, its results and RedBeat write carries REDIS_KEY_PREFIX, like the shared store's: two deployments
can share one Redis.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache

from celery import Celery
from redbeat import RedBeatScheduler

from services.config import Settings, SettingsError
from services.store import SCHEDULER

log = logging.getLogger(__name__)

WARMUP_TASK = "stocktracker.warmup"
CHART_TASK = "stocktracker.generate_chart"
# What the worker imports: our tasks, then the Dash app whose pages register the background callbacks' tasks.
TASK_MODULES = ("services.celery_tasks", "dashapp.celery_callbacks")
# The beat wakes at least this often (RedBeat's default is 300 s) and holds its lock this many wake-ups: a beat that
# died without releasing it (SIGKILL, a lost dyno) is replaced within BEAT_LOCK_WAKEUPS x the loop interval.
MAX_BEAT_LOOP_S = 10.0
BEAT_LOCK_WAKEUPS = 3
QUICK_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def beat_loop_s(settings: Settings) -> float:
    """How often the beat wakes: often enough for the warm-up interval, at most MAX_BEAT_LOOP_S."""
    return float(min(MAX_BEAT_LOOP_S, settings.warmup_interval_s))


def make_celery(settings: Settings) -> Celery:
    """A Celery app on the settings' Redis (broker and result backend), scheduling the warm-up every
    WARMUP_INTERVAL_S (when WARMUP_ENABLED)."""
    if not settings.redis_url:
        raise SettingsError("Celery needs REDIS_URL (without it the app runs embedded, with no worker)")
    prefix = settings.redis_key_prefix
    loop_s = beat_loop_s(settings)
    app = Celery("stocktracker", broker=settings.redis_url, backend=settings.redis_url, include=list(TASK_MODULES),
                 set_as_current=False)
    app.conf.update(
        # A web request never waits long on a dead Redis: one quick retry, not kombu's and Celery's 6-20 s of them
        # (measured: a send to a refused port took 6 s, a callback's result subscription 19 s).
        broker_transport_options={"global_keyprefix": prefix, "socket_connect_timeout": 1.0, **QUICK_RETRY},
        result_backend_transport_options={"global_keyprefix": prefix, "retry_policy": QUICK_RETRY},
        broker_connection_retry_on_startup=True,
        result_expires=3600,
        timezone="UTC",
        enable_utc=True,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,  # a long warm-up does not hold tasks another thread could run
        worker_hijack_root_logger=False,
        beat_max_loop_interval=loop_s,
        beat_scheduler="services.celery_app.LeaderBeat",
        redbeat_redis_url=settings.redis_url,
        redbeat_redis_options={"socket_connect_timeout": 1.0},
        redbeat_key_prefix=f"{prefix}redbeat",
        redbeat_lock_timeout=int(loop_s * BEAT_LOCK_WAKEUPS) + 1,
        beat_schedule=({"warmup": {"task": WARMUP_TASK, "schedule": float(settings.warmup_interval_s)}}
                       if settings.warmup_enabled else {}),
    )
    if settings.redis_url.startswith("rediss://"):
        # Celery refuses a rediss:// URL that does not say how to check the certificate, and kombu connects a
        # broker given no SSL options without any check: the broker, the result backend and RedBeat's lock get
        # the settings' one check (REDIS_TLS_VERIFY, REDIS_TLS_CA_FILE: services/redis_tls.py), as the shared
        # store and the limiter do.
        tls = settings.redis_tls.client_options()
        app.conf.update(broker_use_ssl=tls, redis_backend_use_ssl=tls, redbeat_redis_use_ssl=tls)
    app.stocktracker_settings = settings
    return app


@lru_cache(maxsize=4)
def _cached(settings: Settings) -> Celery:
    return make_celery(settings)


def celery_for(settings: Settings) -> Celery:
    """The one Celery app of these settings in this process: the web's CeleryManager and the worker must register
    the background callbacks' tasks on the same instance."""
    return _cached(settings)


def send_chart_generation(settings: Settings, portfolio_id: int) -> bool:
    """Ask a worker to (re)generate a portfolio's chart; False if the broker cannot take it (Redis down), so the
    caller generates it itself. Never retries: a web request must not wait on a dead broker."""
    try:
        celery_for(settings).send_task(CHART_TASK, args=[portfolio_id], retry=False, ignore_result=True)
    except Exception as error:  # kombu's OperationalError, a refused connection...: the caller falls back
        log.warning("chart generation could not be sent to a worker (%s: %s)", type(error).__name__, error)
        return False
    return True


class LeaderBeat(RedBeatScheduler):
    """RedBeat (schedule in Redis, one beat per deployment by its lock) that also says who leads in `/healthz`.

    A beat runs `tick` only while it holds the lock, so each tick writes its pid as the scheduler's `leader_pid`,
    expiring after the lock would: a deployment whose beat died shows no leader rather than a stale one.
    """

    def tick(self, *args, **kwargs):
        delay = super().tick(*args, **kwargs)
        try:
            store = self._leader_store()
            store.set(SCHEDULER.key("leader_pid"), os.getpid(), expire=float(self.lock_timeout))
        except Exception:  # the schedule matters more than the health check's detail
            log.debug("could not record the beat's pid", exc_info=True)
        return delay

    def _leader_store(self):
        store = getattr(self, "_stocktracker_store", None)
        if store is None:
            from services.container import shared_store

            store = self._stocktracker_store = shared_store(self.app.stocktracker_settings)
        return store


def __getattr__(name: str) -> Celery:
    # `celery -A services.celery_app` looks up `app` (then `celery`): built from the environment, once.
    if name in ("app", "celery"):
        return celery_for(Settings.from_env())
    raise AttributeError(name)
