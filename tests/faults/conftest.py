"""Fixtures of the fault suite, and the summary of its measured results at the end of the run.

Each case records one line with `support.report(case, result)`; the lines are printed under "fault suite: measured
results" at the end of every run (they are not written to any file).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.container import Services
from tests.faults.support import MEASUREMENTS, make_api


def pytest_terminal_summary(terminalreporter) -> None:
    if MEASUREMENTS:
        terminalreporter.section("fault suite: measured results")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[tuple[object, Services]]:
    """One in-process app per module (hypothesis runs hundreds of examples: a fresh app each would be slow)."""
    client, services = make_api(tmp_path_factory.mktemp("api"))
    yield client, services
    services.close()
