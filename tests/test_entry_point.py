"""`python app.py`: the addresses it listens on decide whether logins are required (README, "Accounts")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("HOST", "SECRET_KEY", "AUTH_REQUIRED", "APP_ENV", "DYNO", "DATABASE_URL", "CACHE_DIR")}
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**clean, "DATA_DIR": str(tmp_path), "WARMUP_ENABLED": "0", **env})


def test_listening_beyond_loopback_without_a_secret_key_refuses_to_start(tmp_path: Path) -> None:
    # A public address means logins, and a session cookie signed with the public dev key could name anyone.
    result = _run(tmp_path, "--demo", "--host", "0.0.0.0", "--port", "1")
    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr


def test_auth_required_without_a_secret_key_refuses_to_start(tmp_path: Path) -> None:
    result = _run(tmp_path, "--demo", "--port", "1", AUTH_REQUIRED="1")
    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr


def _build_app(monkeypatch, tmp_path: Path, **env: str) -> tuple[object, list]:
    """`app._app()`'s body (not its cached result) on `env`, with `start_warmup` recorded instead of started."""
    import app as entry
    import services.background_tasks as background_tasks

    for name in ("HOST", "SECRET_KEY", "AUTH_REQUIRED", "APP_ENV", "DYNO", "DATABASE_URL", "CACHE_DIR", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"DATA_DIR": str(tmp_path), "PRICE_PROVIDER": "demo", "SEED_SAMPLE": "0",
                        "WARMUP_ENABLED": "1", **env}.items():
        monkeypatch.setenv(name, value)
    started: list = []
    monkeypatch.setattr(background_tasks, "start_warmup", started.append)
    built = entry._app.__wrapped__()
    built.server.extensions["stocktracker"].close()
    return built, started


def test_embedded_the_web_process_runs_the_warmup_scheduler(monkeypatch, tmp_path: Path) -> None:
    from dash import DiskcacheManager

    built, started = _build_app(monkeypatch, tmp_path)
    assert len(started) == 1  # this process's APScheduler (one of the workers leads)
    assert isinstance(built._background_manager, DiskcacheManager)


def test_with_redis_the_web_process_runs_no_scheduler_and_callbacks_go_to_celery(monkeypatch, tmp_path: Path) -> None:
    import pytest
    from dash import CeleryManager

    from tests.services.redis_server import redis_missing, shared_redis_url

    if redis_missing():
        pytest.skip(redis_missing())
    built, started = _build_app(monkeypatch, tmp_path, REDIS_URL=shared_redis_url(),
                                REDIS_KEY_PREFIX=f"entry-{tmp_path.name}:")
    assert started == []  # the Celery beat of the `worker` process schedules the warm-up
    assert isinstance(built._background_manager, CeleryManager)
