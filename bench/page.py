"""Page timings for `python -m bench`, in headless Chromium (the loads themselves are bench/page_vs_bare.py's)."""

from __future__ import annotations

import statistics

from bench.page_vs_bare import BareServer, load
from tests.browser.support import launch_chromium

VIEWPORT = {"width": 1360, "height": 1000}
FIRST_PAINT_JS = """() => {
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    return paint ? paint.startTime : null;
}"""


def _skeleton_ms(context, url: str) -> float | None:
    """When the first content (the HTML skeleton, drawn before any JavaScript runs) was painted."""
    page = context.new_page()
    try:
        page.goto(url, wait_until="load")
        return page.evaluate(FIRST_PAINT_JS)
    finally:
        page.close()


def measure_page(base: str, portfolio_id: int, runs: int = 5) -> dict:
    """Cold (first load on an empty price cache) and warm (median of `runs`) full renders of one dashboard."""
    from playwright.sync_api import sync_playwright

    url = f"{base}/portfolio/{portfolio_id}"
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            cold_ms, _ = load(context, url)
            warm_ms = [load(context, url)[0] for _ in range(runs)]
            skeleton = [_skeleton_ms(context, url) for _ in range(runs)]
            context.close()
        finally:
            browser.close()
    painted = [ms for ms in skeleton if ms is not None]
    return {
        "page_cold_s": round(cold_ms / 1000, 3),
        "page_warm_median_s": round(statistics.median(warm_ms) / 1000, 3),
        "page_skeleton_median_ms": round(statistics.median(painted), 1) if painted else None,
    }


def measure_bare_page(runs: int = 5) -> float:
    """Median seconds to full render of the bare Dash page (same components, trivial callbacks)."""
    from playwright.sync_api import sync_playwright

    bare = BareServer()
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                context = browser.new_context(viewport=VIEWPORT)
                load(context, bare.base + "/")  # the same warmed HTTP cache our warm loads have
                timings = [load(context, bare.base + "/")[0] for _ in range(runs)]
                context.close()
            finally:
                browser.close()
    finally:
        bare.stop()
    return statistics.median(timings) / 1000
