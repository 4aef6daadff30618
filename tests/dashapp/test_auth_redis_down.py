"""Logins while the Redis of REDIS_URL is down: they answer (never a 500), and the login limits still hold.

Flask-Limiter keeps the login counters in that Redis; when it cannot be reached it falls back to counting in the
worker's memory (dashapp/auth_views.py), within its short socket timeouts. Two ways down: nothing ever listened at
the address (a Redis lost before start-up), and a real redis-server stopped after the app was built.
"""

from __future__ import annotations

import time

import pytest

from tests.browser.support import free_port
from tests.dashapp.test_auth import add_user, form_login, make_app_fixture  # noqa: F401  (the fixture)
from tests.services.redis_server import RedisServer, redis_missing

# LOGIN_LIMIT_PER_ACCOUNT's default is "5 per minute;20 per hour": the 6th try within a minute is refused.
PER_MINUTE = 5


def _logins_answer_and_are_limited(server) -> None:
    add_user(server)
    client = server.test_client()
    started = time.monotonic()
    right = form_login(client)
    assert right.status_code == 302 and right.headers["Location"] == "/"  # logged in, on to the app
    assert time.monotonic() - started < 5.0  # the socket timeouts bound the wait on the dead Redis
    other = server.test_client()
    wrong = [form_login(other, password="not it").status_code for _ in range(PER_MINUTE + 1)]
    # 5 wrong passwords answered as such (the page again, 401), the 6th refused by the in-memory count (429).
    assert wrong == [401] * PER_MINUTE + [429]


def test_logins_answer_when_redis_was_never_there(make_app):
    dead = f"redis://127.0.0.1:{free_port()}/0"  # a free port: connections are refused
    _logins_answer_and_are_limited(make_app(redis_url=dead))


@pytest.mark.skipif(redis_missing() is not None, reason=str(redis_missing()))
def test_logins_answer_when_redis_goes_down_after_start(make_app):
    redis = RedisServer()
    try:
        server = make_app(redis_url=redis.url, redis_key_prefix="auth-down:")
        assert form_login(server.test_client(), email="nobody@example.com").status_code == 401  # Redis up: counted
    finally:
        redis.stop()
    _logins_answer_and_are_limited(server)
