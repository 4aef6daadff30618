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
