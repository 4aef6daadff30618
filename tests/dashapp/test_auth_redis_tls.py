"""Login limits on a TLS Redis with a self-signed certificate (Heroku Redis): Flask-Limiter's storage gets the
deployment's one TLS check (dashapp/auth_views.py, services/redis_tls.py), on a real `RedisServer(tls=True)`.

With REDIS_TLS_VERIFY=none the storage answers its ping and a failed login is counted in that Redis; with the
default check it refuses the server, and logins still answer (each worker counts in its memory, as with Redis down).
"""

from __future__ import annotations

import pytest
import redis

from services.config import Settings
from tests.dashapp.test_auth import add_user, form_login, make_app_fixture  # noqa: F401  (the fixture)
from tests.services.redis_server import RedisServer, tls_missing

pytestmark = [pytest.mark.slow, pytest.mark.skipif(tls_missing() is not None, reason=str(tls_missing()))]


@pytest.fixture(scope="module")
def tls_server():
    server = RedisServer(tls=True)
    yield server
    server.stop()


def tls_settings(server: RedisServer, **env: str) -> dict[str, object]:
    settings = Settings.from_env({"REDIS_URL": server.url, **env})
    return {"redis_url": settings.redis_url, "redis_tls": settings.redis_tls}


def limit_keys(server: RedisServer) -> list[bytes]:
    client = redis.Redis.from_url(server.url, ssl_cert_reqs="none")
    try:
        return list(client.scan_iter(match="LIMITS*"))
    finally:
        client.close()


def limiter_of(app):
    (limiter,) = app.extensions["limiter"]
    return limiter


def test_with_verify_none_the_login_limits_are_counted_in_the_tls_redis(make_app, tls_server):
    app = make_app(**tls_settings(tls_server, REDIS_TLS_VERIFY="none"), redis_key_prefix="auth-tls:")
    assert limiter_of(app).storage.check() is True  # the storage's ping, over TLS
    add_user(app)
    before = limit_keys(tls_server)
    assert form_login(app.test_client(), password="not it").status_code == 401
    # The wrong password was counted: new counter keys in the TLS Redis (per address and per account, at least one).
    assert len(limit_keys(tls_server)) > len(before)


def test_with_the_default_check_the_storage_refuses_the_server_and_logins_still_answer(make_app, tls_server):
    app = make_app(**tls_settings(tls_server), redis_key_prefix="auth-tls-required:")
    assert limiter_of(app).storage.check() is False  # the self-signed certificate is refused
    add_user(app)
    right = form_login(app.test_client())
    assert right.status_code == 302 and right.headers["Location"] == "/"  # counted in memory instead
