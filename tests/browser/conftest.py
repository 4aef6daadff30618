"""Fixtures of the browser tests: one demo server for the session and a page that records errors.

The session's Chromium (`browser`) is in tests/conftest.py, shared with the fault suite: Playwright's sync API
allows one instance per thread, so two session fixtures in two folders would collide.

Without Chromium (or the playwright package) every browser test is skipped with the reason, and a warning says
so in the summary: a green run that tested no browser must not pass unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.support import PHONE, VIEWPORT, DemoServer


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> Iterator[DemoServer]:
    """The real app (`python app.py --demo`) on a free port of 127.0.0.1, with a fresh DATA_DIR."""
    server = DemoServer(tmp_path_factory.mktemp("browser-app")).wait_ready()
    yield server
    server.stop()


class PageProblems(list):
    """Console errors and uncaught page errors seen by one page."""


@pytest.fixture
def page(browser, app_server):
    """A fresh page on the app; `page.problems` lists its console errors and page errors."""
    context = browser.new_context(viewport=VIEWPORT, base_url=app_server.base)
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems = PageProblems()
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.problems = problems
    yield page
    context.close()


@pytest.fixture
def phone(browser, app_server):
    """A page on the app in a 390x844 phone (touch, mobile viewport)."""
    context = browser.new_context(viewport=PHONE, base_url=app_server.base, is_mobile=True, has_touch=True)
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()
