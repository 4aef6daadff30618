"""Every Redis client of the app against a real TLS redis-server with a self-signed certificate (Heroku Redis's case).

One `redis-server --port 0 --tls-port N` for the module (`RedisServer(tls=True)`: Debian's build has TLS), each
test under a key prefix of its own. With the default check (`required`) the shared store, Celery's broker and
results and RedBeat's client all refuse the server, the store saying which settings fix it; with
`REDIS_TLS_VERIFY=none`, or with the server's certificate as `REDIS_TLS_CA_FILE` (the check stays on), they all
work. The last test runs the Procfile's real worker (`--beat`) on the TLS server: its warm-up fills the store the web
reads. Flask-Limiter's storage: tests/dashapp/test_auth_redis_tls.py.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redbeat.schedulers import get_redis

from services import container
from services.celery_app import make_celery
from services.config import Settings
from services.store import StoreUnavailable
from tests.services.redis_server import RedisServer, make_self_signed_certificate, tls_missing

pytestmark = [pytest.mark.slow, pytest.mark.skipif(tls_missing() is not None, reason=str(tls_missing()))]


@pytest.fixture(scope="module")
def tls_server() -> Iterator[RedisServer]:
    server = RedisServer(tls=True)
    yield server
    server.stop()


def settings_for(server: RedisServer, **env: str) -> Settings:
    return Settings.from_env({"REDIS_URL": server.url, "REDIS_KEY_PREFIX": f"tls-{uuid.uuid4().hex[:8]}:",
                              "WARMUP_ENABLED": "0", **env})


def trusted(server: RedisServer) -> dict[str, str]:
    assert server.ca_file is not None
    return {"REDIS_TLS_CA_FILE": str(server.ca_file)}


CHECKS_THAT_WORK = [pytest.param({"REDIS_TLS_VERIFY": "none"}, id="verify-none"),
                    pytest.param(None, id="own-ca-file")]  # None: the server's own certificate as the CA


def env_of(server: RedisServer, env: dict[str, str] | None) -> dict[str, str]:
    return trusted(server) if env is None else env


def test_the_default_check_refuses_a_self_signed_server_and_says_how_to_fix_it(tls_server, caplog):
    settings = settings_for(tls_server)
    assert settings.redis_tls.verify is True
    with caplog.at_level(logging.WARNING):
        store = container.shared_store(settings)  # the app's own path: it starts, with a warning
    try:
        assert "cannot be written to yet" in caplog.text
        refused = [r for r in caplog.records if r.levelno == logging.ERROR and "certificate was refused" in r.message]
        assert refused and "REDIS_TLS_VERIFY=none" in refused[0].message and "REDIS_TLS_CA_FILE" in refused[0].message
        assert "self-signed certificate" in refused[0].message  # OpenSSL's own reason, passed on
        assert store.writable() is False
        assert store.get("quote:AAPL", "miss") == "miss"  # reads miss, as with Redis down
        with pytest.raises(StoreUnavailable):
            store.incr("count")
    finally:
        store.close()
    app = make_celery(settings)
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"), app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
    with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        app.backend.client.ping()
    with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        get_redis(app).ping()


@pytest.mark.parametrize("env", CHECKS_THAT_WORK)
def test_the_shared_store_works(tls_server, env):
    store = container.shared_store(settings_for(tls_server, **env_of(tls_server, env)))
    try:
        assert store.writable() is True
        store.set("quote:AAPL", {"price": 201.5})
        assert store.get("quote:AAPL") == {"price": 201.5}
        assert store.incr("count", 2) == 2 and store.incr("count", 3) == 5  # 0 + 2, then 2 + 3
        assert store.atomically(lambda: store.add("lock", "me")) is True
        assert store.keys("quote:") == ["quote:AAPL"]
    finally:
        store.close()


def test_a_ca_file_that_did_not_sign_the_certificate_is_refused(tls_server, tmp_path: Path):
    """The CA file keeps the check on: another certificate as the CA does not vouch for this server."""
    stranger, _key = make_self_signed_certificate(tmp_path)
    store = container.shared_store(settings_for(tls_server, REDIS_TLS_CA_FILE=str(stranger)))
    try:
        assert store.writable() is False
    finally:
        store.close()


@pytest.mark.parametrize("env", CHECKS_THAT_WORK)
def test_celerys_broker_results_and_redbeats_client_connect(tls_server, env):
    app = make_celery(settings_for(tls_server, **env_of(tls_server, env)))
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
    # A task sent through the broker is there to be taken: read it back from its queue over the same TLS.
    app.send_task("stocktracker.tls-probe", args=[7], ignore_result=True)
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue("celery")
        try:
            message = queue.get(timeout=5)
            message.ack()
        finally:
            queue.close()
    assert message.headers["task"] == "stocktracker.tls-probe" and message.payload[0] == [7]
    # The result backend (Dash's CeleryManager reads the callbacks' results through it).
    assert app.backend.client.ping() is True
    task_id = uuid.uuid4().hex
    app.backend.store_result(task_id, {"value": 42}, "SUCCESS")
    assert app.AsyncResult(task_id).get(timeout=5) == {"value": 42}
    # RedBeat's client (its lock and schedule): a lock taken and released over TLS.
    beat_redis = get_redis(app)
    lock = beat_redis.lock(f"{app.conf.redbeat_key_prefix}:tls-probe-lock", timeout=5)
    assert lock.acquire(blocking=False) is True
    lock.release()


def test_the_procfiles_worker_warms_the_store_over_tls(tmp_path, tls_server, monkeypatch):
    """End to end with REDIS_TLS_VERIFY=none: the worker's beat (RedBeat's lock) sends the warm-up, the worker takes
    it from the broker and fills the shared store, which this process (the web) reads."""
    from tests.services.test_celery_worker import BOOT_S, TICKERS, Deployment
    from tests.waiting import wait_until

    monkeypatch.setenv("REDIS_TLS_VERIFY", "none")  # Deployment copies this process's environment
    deployment = Deployment(tmp_path, tls_server)
    try:
        assert deployment.settings.redis_tls.verify is False
        deployment.portfolio()
        worker = deployment.start_worker()
        status = wait_until(lambda: (s := deployment.status())["warmup_runs"] >= 1 and s["last_warmup"] and s,
                            BOOT_S)
        assert status, f"no warm-up ran:\n{worker.log()[-3000:]}"
        assert status["last_warmup"]["pid"] == worker.process.pid
        assert all(deployment.web.cache.get_quote(t) is not None for t in TICKERS)
        assert wait_until(lambda: deployment.status()["leader_pid"] is not None, 10)  # the beat held its lock
    finally:
        deployment.close()
