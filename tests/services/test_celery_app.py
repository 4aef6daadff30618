"""services/celery_app.py without a worker: the Celery app's settings, and a dead broker never holding a request."""

from __future__ import annotations

import ssl
import time
from types import SimpleNamespace

import pytest

from services import container
from services.celery_app import (
    WARMUP_TASK,
    beat_loop_s,
    celery_for,
    make_celery,
    send_chart_generation,
)
from services.config import Settings, SettingsError
from tests.browser.support import free_port


def settings_for(url: str | None = "redis://127.0.0.1:6379/0", **env: str) -> Settings:
    return Settings.from_env({**({"REDIS_URL": url} if url else {}), **env})


def test_without_redis_there_is_no_celery_app():
    with pytest.raises(SettingsError, match="REDIS_URL"):
        make_celery(settings_for(None))


def test_broker_results_and_beat_share_the_deployments_redis_and_prefix():
    app = make_celery(settings_for(REDIS_KEY_PREFIX="blue:", WARMUP_INTERVAL_S="120"))
    conf = app.conf
    assert conf.broker_url == conf.result_backend == conf.redbeat_redis_url == "redis://127.0.0.1:6379/0"
    assert conf.broker_transport_options["global_keyprefix"] == "blue:"
    assert conf.result_backend_transport_options["global_keyprefix"] == "blue:"
    assert conf.redbeat_key_prefix == "blue:redbeat"
    assert conf.beat_schedule == {"warmup": {"task": WARMUP_TASK, "schedule": 120.0}}
    # The beat wakes every min(10, 120) = 10 s and holds its lock 3 loops + 1 s = 31 s.
    assert (conf.beat_max_loop_interval, conf.redbeat_lock_timeout) == (10.0, 31)


def test_a_short_interval_wakes_the_beat_as_often_and_no_warmup_schedules_nothing():
    assert beat_loop_s(settings_for(WARMUP_INTERVAL_S="2")) == 2.0
    assert make_celery(settings_for(WARMUP_INTERVAL_S="2")).conf.redbeat_lock_timeout == 7  # 2 x 3 + 1
    assert make_celery(settings_for(WARMUP_ENABLED="0")).conf.beat_schedule == {}


def test_one_app_per_settings_in_a_process():
    # The web's CeleryManager and the worker's tasks must land on the same instance.
    assert celery_for(settings_for()) is celery_for(settings_for())
    assert celery_for(settings_for()) is not celery_for(settings_for(REDIS_KEY_PREFIX="other:"))


def test_a_dead_broker_refuses_a_chart_at_once():
    settings = settings_for(f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    assert send_chart_generation(settings, 7) is False
    # One quick retry (0.2 s at most between tries), not kombu's default of several seconds (6 s measured).
    assert time.monotonic() - started < 2.0


def test_a_ledger_change_falls_back_to_this_process_when_the_broker_is_down(monkeypatch):
    """on_ledger_change: invalidate, then send to the worker; if that fails, generate on this process's thread."""
    calls: list[tuple] = []
    charts = SimpleNamespace(store=SimpleNamespace(invalidate=lambda pid: calls.append(("invalidate", pid))),
                             request=lambda pid: calls.append(("local", pid)))
    services = SimpleNamespace(settings=settings_for(f"redis://127.0.0.1:{free_port()}/0"), charts=charts)
    sent: list[int] = []
    container.on_ledger_change(services, 3)
    assert calls == [("invalidate", 3), ("local", 3)]  # the broker refused: generated here
    calls.clear()
    monkeypatch.setattr("services.celery_app.send_chart_generation", lambda _s, pid: sent.append(pid) or True)
    container.on_ledger_change(services, 4)
    assert calls == [("invalidate", 4)] and sent == [4]  # taken by the worker: not generated here


def test_a_tls_url_checks_the_certificate_unless_it_says_otherwise():
    app = make_celery(settings_for("rediss://cache.example:6380/0"))
    required = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    assert app.conf.broker_use_ssl == app.conf.redis_backend_use_ssl == app.conf.redbeat_redis_use_ssl == required
    assert app.backend.connparams["ssl_cert_reqs"] == ssl.CERT_REQUIRED  # Celery accepts it (no connection made)
    own = make_celery(settings_for("rediss://cache.example:6380/0?ssl_cert_reqs=none"))
    assert own.conf.broker_use_ssl == {"ssl_cert_reqs": ssl.CERT_NONE}  # as the URL says, for the broker too
    assert own.backend.connparams["ssl_cert_reqs"] == ssl.CERT_NONE


def test_redis_tls_verify_none_reaches_the_broker_the_results_and_the_beats_lock():
    app = make_celery(settings_for("rediss://cache.example:6380/0", REDIS_TLS_VERIFY="none"))
    none = {"ssl_cert_reqs": ssl.CERT_NONE}
    assert app.conf.broker_use_ssl == app.conf.redis_backend_use_ssl == app.conf.redbeat_redis_use_ssl == none
    assert app.connection_for_write().ssl == none  # what kombu's broker connection will use
    assert app.backend.connparams["ssl_cert_reqs"] == ssl.CERT_NONE
    plain = make_celery(settings_for("redis://cache.example:6379/0", REDIS_TLS_VERIFY="none"))
    assert not plain.conf.broker_use_ssl  # no TLS on redis://: Celery refuses SSL options there
