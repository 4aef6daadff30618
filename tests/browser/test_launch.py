"""The Chromium the tests and the bench launch (tests/browser/support.py): Playwright's own switches kept, the
unseen omnibox popup left out."""

from __future__ import annotations

import json

import pytest

from tests.browser.support import (
    HIDDEN_UI_FEATURES,
    chromium_browser_processes,
    launch_chromium,
    playwright_disabled_features,
)


def _launched_command(playwright, **kwargs) -> tuple[object, list[str]]:
    playwright_disabled_features(playwright)  # its one probe browser started and gone before we look
    before = set(chromium_browser_processes())
    browser = launch_chromium(playwright, **kwargs)
    new = {pid: command for pid, command in chromium_browser_processes().items() if pid not in before}
    assert len(new) == 1, new
    return browser, next(iter(new.values()))


def _disabled(command: list[str]) -> list[set[str]]:
    return [set(a.split("=", 1)[1].split(",")) for a in command if a.startswith("--disable-features=")]


def _omnibox_popup_loaded(browser, tmp_path) -> bool:
    """Whether opening a tab made Chromium load its omnibox popup page (seen in a trace of the tab's first second)."""
    trace = tmp_path / "trace.json"
    browser.start_tracing(path=str(trace), categories=["blink", "loading", "devtools.timeline"])
    page = browser.new_page()
    page.goto("data:text/html,<p>tab</p>")
    page.wait_for_timeout(1000)
    page.close()
    browser.stop_tracing()
    events = json.loads(trace.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    return any("omnibox-popup" in json.dumps(event.get("args", {})) for event in events)


def test_our_disable_features_comes_last_and_keeps_every_earlier_one(playwright_session):
    # Chromium keeps only the last --disable-features: Playwright's own list (PaintHolding and the rest) must be in it.
    stock, stock_command = _launched_command(playwright_session, stock_ui=True)
    stock.close()
    ours, command = _launched_command(playwright_session)
    ours.close()
    playwright_lists = _disabled(stock_command)
    assert playwright_lists, "Playwright passes no --disable-features any more: the merge in support.py is moot"
    lists = _disabled(command)
    assert len(lists) == 2  # Playwright's, then ours
    assert set().union(*playwright_lists) <= lists[-1]
    assert set(HIDDEN_UI_FEATURES) <= lists[-1]
    assert not set(HIDDEN_UI_FEATURES) & set().union(*playwright_lists)


def test_a_new_tab_no_longer_loads_the_omnibox_popup(playwright_session, tmp_path):
    stock = launch_chromium(playwright_session, stock_ui=True)
    try:
        stock_loads_it = _omnibox_popup_loaded(stock, tmp_path)
    finally:
        stock.close()
    if not stock_loads_it:
        pytest.skip("this Chromium builds no omnibox popup for a new tab: nothing to leave out")
    ours = launch_chromium(playwright_session)
    try:
        assert not _omnibox_popup_loaded(ours, tmp_path)
    finally:
        ours.close()
