"""The skeleton is painted before Dash starts: critical CSS inline, full stylesheets and scripts after first paint.

dashapp/index_template.py and dashapp/deferred_boot.js: Dash's links and scripts wait in an inert template until
the first contentful paint; the renderer also waits for the stylesheets, so the app never draws unstyled.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.support import VIEWPORT, get

pytestmark = pytest.mark.browser

TIMINGS_JS = """() => {
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    const dash = performance.getEntriesByType('resource')
        .filter(entry => entry.name.includes('/_dash-component-suites/') || entry.name.includes('/assets/'));
    return {paint: paint ? paint.startTime : null, first_fetch: Math.min(...dash.map(entry => entry.startTime)),
            fetched: dash.length};
}"""


def test_dash_files_are_fetched_only_after_the_skeleton_is_painted(page):
    page.goto("/portfolio/1")
    page.wait_for_selector("#holdings-table .ag-row", timeout=30_000)
    timings = page.evaluate(TIMINGS_JS)
    assert timings["paint"] is not None
    assert timings["fetched"] >= 10  # Dash's bundles, the components' and the assets' stylesheets
    assert timings["first_fetch"] >= timings["paint"], timings
    assert page.problems == []


def test_stylesheets_go_back_where_dash_put_them(page):
    page.goto("/portfolio/1")
    page.wait_for_selector("#react-entry-point .page")
    order = page.evaluate("""() => [...document.head.querySelectorAll('link[rel=stylesheet], style')]
        .map(node => node.id || (node.getAttribute('href') || '').split('?')[0])
        .filter(name => name)""")  # components add their own unnamed <style> tags at run time
    # (plotly.js appends its own named <style> tags after these)
    # The inlined critical subset is gone once the full sheets are in: left after them, it undid their variants.
    assert order[:3] == ["/assets/00-bootstrap-flatly.min.css", "/assets/app.css", "skeleton-css"]
    assert "critical-css" not in order
    loaded = page.evaluate("() => [...document.querySelectorAll('link[rel=stylesheet]')].every(l => l.sheet)")
    assert loaded is True


def test_dash_draws_nothing_until_the_stylesheets_are_in(browser, app_server):
    """Hold Flatly back: the app's scripts load, but the page appears only once the stylesheet has arrived."""
    context = browser.new_context(viewport=VIEWPORT, base_url=app_server.base)
    held = []
    context.route(re.compile(r".*/assets/00-bootstrap-flatly\.min\.css.*"), lambda route, request: held.append(route))
    try:
        page = context.new_page()
        page.goto("/portfolio/1", wait_until="commit")
        page.wait_for_function("() => window.DashRenderer !== undefined", timeout=20_000)
        page.wait_for_timeout(1500)  # time enough to draw the page, were the renderer not waiting
        assert held, "the stylesheet was never requested"
        assert page.locator("#react-entry-point .page").count() == 0
        assert page.locator("#static-skeleton").is_visible()
        held[0].continue_()
        page.wait_for_selector("#react-entry-point .page", timeout=20_000)
        styled = page.evaluate("() => getComputedStyle(document.querySelector('.navbar')).display")
        assert styled == "flex"  # Bootstrap's .navbar rule is applied
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/portfolio/1", "/transactions"])
def test_the_skeleton_looks_the_same_with_only_the_inlined_css(browser, app_server, path):
    """Pixel for pixel: the first paint (critical CSS alone) equals the skeleton under the full stylesheets."""
    _status, html = get(app_server.base + path)
    template = re.search(r'<template id="dash-boot">.*?</template>', html, re.S).group(0)
    links = "".join(re.findall(r'<link rel="stylesheet"[^>]*>', template))
    assert "00-bootstrap-flatly.min.css" in links
    inert = re.sub(r'<template id="dash-boot">.*?</template><script>.*?</script>', "", html, flags=re.S)
    assert "dash_renderer" not in inert  # nothing of Dash runs: the skeleton stays as first painted
    full = inert.replace('<style id="critical-css">', links + '<style id="critical-css">')
    full_only = re.sub(r'<style id="critical-css">.*?</style>', "", full, flags=re.S)

    context = browser.new_context(viewport=VIEWPORT, reduced_motion="reduce")
    shots = {}
    try:
        for name, body in (("critical", inert), ("full", full_only)):
            page = context.new_page()
            page.route(app_server.base + path, lambda route, request, body=body: route.fulfill(
                status=200, content_type="text/html", body=body))
            page.goto(app_server.base + path, wait_until="load")
            assert page.locator("#static-skeleton").is_visible()
            shots[name] = page.screenshot(full_page=True)
            page.close()
    finally:
        context.close()
    assert shots["critical"] == shots["full"]
