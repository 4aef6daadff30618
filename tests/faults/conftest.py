"""Fixtures of the fault suite, and the summary of its measured results at the end of the run.

Each case records one line with `support.report(case, result)`; the lines are printed under "fault suite: measured
results" at the end of every run (they are not written to any file).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashapp import create_app
from services.config import Settings
from services.container import Services, build_services
from tests.faults.support import MEASUREMENTS

MAX_UPLOAD_BYTES = 64 * 1024


def pytest_terminal_summary(terminalreporter) -> None:
    if MEASUREMENTS:
        terminalreporter.section("fault suite: measured results")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)


def make_api(tmp_path, **overrides: object) -> tuple[object, Services]:
    """The real app (demo prices, no warm-up) on a temporary SQLite file and cache, and its test client."""
    settings = Settings().with_overrides(**{
        "data_dir": tmp_path, "cache_dir": tmp_path / "cache", "database_url": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "price_provider": "demo", "demo_mode": False, "warmup_enabled": False, "price_wait_s": 0.5,
        "max_upload_bytes": MAX_UPLOAD_BYTES, **overrides})
    services = build_services(settings)
    app = create_app(settings, services)
    return app.server.test_client(), services


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[tuple[object, Services]]:
    """One in-process app per module (hypothesis runs hundreds of examples: a fresh app each would be slow)."""
    client, services = make_api(tmp_path_factory.mktemp("api"))
    yield client, services
    services.close()
