"""Page timings for `python -m bench`, in headless Chromium (the loads themselves are bench/page_vs_bare.py's)."""

from __future__ import annotations

import statistics

from bench.page_vs_bare import load
from tests.browser.support import launch_chromium

VIEWPORT = {"width": 1360, "height": 1000}
FIRST_PAINT_JS = """() => {
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    return paint ? paint.startTime : null;
}"""


def _first_paint(page, url: str) -> float:
    """Navigate `page` to `url`; when the first content (the HTML skeleton, drawn before any JavaScript runs) was
    painted, in ms after the navigation started. Read once the paint entry exists: the load event can precede it."""
    page.goto(url, wait_until="commit")
    page.wait_for_function(FIRST_PAINT_JS, timeout=15_000)
    painted = page.evaluate(FIRST_PAINT_JS)
    # Let the app finish starting (its callbacks reach the server) so it does not load the next measurement.
    page.wait_for_load_state("networkidle", timeout=30_000)
    return painted


def _skeleton_new_tab_ms(context, url: str, settle_ms: int = 0) -> float:
    """First paint in a new tab, navigated at once (a link opened in a new tab) or after the tab has been open
    `settle_ms` (a new tab, then the address typed)."""
    page = context.new_page()
    try:
        if settle_ms:
            page.wait_for_timeout(settle_ms)
        return _first_paint(page, url)
    finally:
        page.close()


def _skeleton_same_tab_ms(context, url: str, runs: int) -> list[float]:
    """First paints of `runs` navigations to `url` in one open tab (a reload, or a link followed)."""
    page = context.new_page()
    try:
        page.goto(url, wait_until="networkidle")
        return [_first_paint(page, url) for _ in range(runs)]
    finally:
        page.close()


def _skeleton_stock_new_tab_ms(playwright, url: str, runs: int) -> list[float]:
    """First paints in brand-new tabs of a Chromium that keeps its (headless, so never shown) omnibox popup: what
    the figure was before tests/browser/support.py left that popup out, kept to show what it costs."""
    browser = launch_chromium(playwright, stock_ui=True)
    try:
        context = browser.new_context(viewport=VIEWPORT)
        load(context, url)  # the same warmed HTTP cache the other first paints have
        return [_skeleton_new_tab_ms(context, url) for _ in range(runs)]
    finally:
        browser.close()


def measure_page(base: str, portfolio_id: int, runs: int = 5, skeleton_runs: int = 9,
                 bare_urls: dict[str, str] | None = None) -> dict:
    """Cold (first load on an empty price cache) and warm (median of `runs`) full renders of one dashboard, and
    the skeleton's first paint (median of `skeleton_runs`) in new tabs (navigated at once, or after 1 s open), in
    one tab, and in new tabs of the stock Chromium. With `bare_urls` ({name: url}), the bare Dash pages' warm loads
    alternate with ours, each in its own warmed context, so the machine's load drifts alike for every side."""
    from playwright.sync_api import sync_playwright

    url = f"{base}/portfolio/{portfolio_id}"
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            cold_ms, _ = load(context, url)
            bare_contexts = {name: browser.new_context(viewport=VIEWPORT) for name in bare_urls or {}}
            for name, bare_context in bare_contexts.items():
                load(bare_context, bare_urls[name])  # the same warmed HTTP cache our warm loads have
            warm_ms: list[float] = []
            bare_ms: dict[str, list[float]] = {name: [] for name in bare_contexts}
            for _ in range(runs):
                warm_ms.append(load(context, url)[0])
                for name, bare_context in bare_contexts.items():
                    bare_ms[name].append(load(bare_context, bare_urls[name])[0])
            for bare_context in bare_contexts.values():
                bare_context.close()
            new_tab = [_skeleton_new_tab_ms(context, url) for _ in range(skeleton_runs)]
            settled_tab = [_skeleton_new_tab_ms(context, url, settle_ms=1000) for _ in range(skeleton_runs)]
            same_tab = _skeleton_same_tab_ms(context, url, skeleton_runs)
            context.close()
        finally:
            browser.close()
        stock_new_tab = _skeleton_stock_new_tab_ms(playwright, url, skeleton_runs)
    result = {
        "page_cold_s": round(cold_ms / 1000, 3),
        "page_warm_median_s": round(statistics.median(warm_ms) / 1000, 3),
        "page_warm_runs_s": [round(ms / 1000, 3) for ms in warm_ms],
        "page_skeleton_median_ms": round(statistics.median(new_tab), 1),
        "page_skeleton_runs_ms": [round(ms, 1) for ms in new_tab],
        "page_skeleton_settled_tab_median_ms": round(statistics.median(settled_tab), 1),
        "page_skeleton_settled_tab_runs_ms": [round(ms, 1) for ms in settled_tab],
        "page_skeleton_same_tab_median_ms": round(statistics.median(same_tab), 1),
        "page_skeleton_same_tab_runs_ms": [round(ms, 1) for ms in same_tab],
        "page_skeleton_stock_new_tab_median_ms": round(statistics.median(stock_new_tab), 1),
        "page_skeleton_stock_new_tab_runs_ms": [round(ms, 1) for ms in stock_new_tab],
    }
    for name, timings in bare_ms.items():
        result[f"{name}_warm_median_s"] = round(statistics.median(timings) / 1000, 3)
        result[f"{name}_warm_runs_s"] = [round(ms / 1000, 3) for ms in timings]
    return result
