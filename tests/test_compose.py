"""docker-compose.yml (self-hosters past one machine) cannot be run here (no docker): it is checked as YAML, and
against the Procfile whose commands it must repeat."""

from __future__ import annotations

from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")  # PyYAML comes with the dev requirements (openapi-spec-validator's)

ROOT = Path(__file__).resolve().parents[1]


def _procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def _command(service: dict) -> str:
    """The process a service runs: what its `sh -c "pip install ... && exec ..."` execs, word by word."""
    script = " ".join(service["command"].split())
    assert script.startswith('sh -c "pip install --quiet -r requirements.txt && exec ') and script.endswith('"')
    return script.split(" && exec ", 1)[1].rstrip('"')


def test_the_procfile_has_a_web_and_a_worker_with_the_one_beat():
    procfile = _procfile()
    assert procfile["web"] == "gunicorn app:server"
    worker = procfile["worker"].split()
    assert worker[:4] == ["celery", "-A", "services.celery_app", "worker"]
    assert "--beat" in worker and worker[worker.index("--scheduler") + 1] == "services.celery_app.LeaderBeat"
    assert "-S" not in worker  # `celery worker -S` is --statedb, not the scheduler


def test_compose_runs_two_webs_a_worker_redis_and_postgres_as_the_procfile_does():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"web1", "web2", "worker", "redis", "postgres"}
    procfile = _procfile()
    for name in ("web1", "web2"):
        assert _command(services[name]) == procfile["web"]
    assert _command(services["worker"]) == procfile["worker"]
    for name in ("web1", "web2", "worker"):
        env = services[name]["environment"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert set(services[name]["depends_on"]) == {"redis", "postgres"}
        # DATA_DIR inside the container, on no shared volume: each process keeps its own disk, as two machines do.
        assert all(not volume.startswith(env["DATA_DIR"]) for volume in services[name]["volumes"])
    assert {services["web1"]["ports"][0], services["web2"]["ports"][0]} == {"8051:8050", "8052:8050"}
