"""Warm dashboard vs a bare Dash page, to full render, in headless Chromium: `python -m bench.page_vs_bare`.

"Full render" is the same condition for both pages: a $ amount in #summary-market-value, rows in
#holdings-table, a trace in #value-chart and a status word in #price-status-badge. The bare page has the same
kinds of components (4 cards, an AG Grid, 2 graphs, a badge) filled by trivial callbacks, served by the same
Dash, theme and compression from a process of its own in the same run, twice: drawing with Dash's full plotly.js
as Dash ships (`bare`, the target's baseline), and with the basic plotly.js bundle our app draws with
(`bare_same_plotly`, our app's own overhead). Loads alternate between the pages; each is a new page in a browser
context whose HTTP cache was warmed by one load (a returning user), and again in a fresh context (an empty
cache). Prints the medians of `--loads` loads, the ratios, and where the time goes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser.support import (  # noqa: E402 - needs ROOT on sys.path when run as a script
    DASHBOARD_READY_JS,
    DemoServer,
    browser_missing,
    free_port,
    launch_chromium,
)

TARGET_RATIO = 1.3
BARE_ROWS = 20
BARE_POINTS = 252

# Milestones of one load, from the browser's own timings (ms since navigation start).
PHASES_JS = """() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    const ends = pattern => res.filter(r => r.name.includes(pattern)).map(r => r.responseEnd);
    const callbacks = res.filter(r => r.name.includes('_dash-update-component'));
    const layout = ends('_dash-layout');
    return {
        html: nav.responseEnd,
        scripts_run: nav.domContentLoadedEventEnd,
        layout: layout.length ? Math.max(...layout) : null,
        first_callback_sent: callbacks.length ? Math.min(...callbacks.map(r => r.startTime)) : null,
        last_callback_done: callbacks.length ? Math.max(...callbacks.map(r => r.responseEnd)) : null,
        callbacks: callbacks.length,
        callback_ms: callbacks.map(r => Math.round(r.responseEnd - r.startTime)),
    };
}"""


# -- the bare page ---------------------------------------------------------------------------------------------
def bare_app(basic_plotly: bool = False):
    """4 cards, a badge, an AG Grid and 2 graphs; one trivial callback per part, fired when the page mounts.

    Our theme and grid assets, with Dash's own plotly.js (the full bundle, as Dash ships), or with `basic_plotly`
    our assets/plotly_loader.js too (the basic bundle our app draws with: the same plotly on both sides)."""
    import dash
    import dash_ag_grid as dag
    from dash import Input, Output, dcc, html

    from dashapp import LAZY_ASSET_DIRS

    app = dash.Dash(__name__, assets_folder=str(ROOT / "assets"), assets_path_ignore=LAZY_ASSET_DIRS,
                    assets_ignore="" if basic_plotly else r"^plotly_loader\.js$",
                    compress=True, title="bare", update_title=None)
    card_ids = ["summary-market-value", "summary-day-change", "summary-unrealized-gain", "summary-realized-gain"]
    cards = [html.Div(html.Div(html.Div([html.Div(name), html.Div(id=card_id)], className="card-body"),
                               className="card"), className="col-3") for name, card_id in zip(
        ["Market value", "Day change", "Unrealized gain", "Realized"], card_ids, strict=True)]
    columns = [{"field": f} for f in ("ticker", "quantity", "price", "market_value", "unrealized_gain", "weight")]
    app.layout = html.Div([
        dcc.Location(id="url"),
        html.Span(id="price-status-badge", className="badge"),
        html.Div(cards, className="row"),
        html.Div([html.Div(dcc.Graph(id="value-chart", style={"height": "320px"}), className="col-8"),
                  html.Div(dcc.Graph(id="allocation-chart", style={"height": "320px"}), className="col-4")],
                 className="row"),
        dag.AgGrid(id="holdings-table", columnDefs=columns, rowData=[], style={"height": "460px"}),
    ], className="container")

    rows = [{"ticker": f"T{i:02d}", "quantity": 10 + i, "price": 100.0 + i, "market_value": 1000.0 + 10 * i,
             "unrealized_gain": 5.0 * i - 40, "weight": 1 / BARE_ROWS} for i in range(BARE_ROWS)]
    dates = [f"2025-{1 + i // 21:02d}-{1 + i % 21:02d}" for i in range(BARE_POINTS)]

    @app.callback(*[Output(i, "children") for i in card_ids], Output("price-status-badge", "children"),
                  Input("url", "pathname"))
    def summary(_path):
        return "$235,001.85", "+$0.52", "+$33,929.66", "-$842.77", "Market closed"

    @app.callback(Output("holdings-table", "rowData"), Input("url", "pathname"))
    def holdings(_path):
        return rows

    @app.callback(Output("value-chart", "figure"), Input("url", "pathname"))
    def chart(_path):
        market_value = [230000.0 + i for i in range(BARE_POINTS)]
        return {"data": [{"type": "scatter", "mode": "lines", "x": dates, "y": market_value},
                         {"type": "scatter", "mode": "lines", "x": dates, "y": [200000.0] * BARE_POINTS}],
                "layout": {"height": 320}}

    @app.callback(Output("allocation-chart", "figure"), Input("url", "pathname"))
    def allocation(_path):
        return {"data": [{"type": "pie", "hole": 0.6, "labels": [r["ticker"] for r in rows],
                          "values": [r["weight"] for r in rows]}], "layout": {"height": 320}}

    return app


class BareServer:
    """The bare page in its own process (`--serve-bare`), like the app: Dash's threaded dev server."""

    def __init__(self, basic_plotly: bool = False) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "bench.page_vs_bare", "--serve-bare", str(self.port)]
        self.process = subprocess.Popen(command + (["--basic-plotly"] if basic_plotly else []),
                                        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        import urllib.request

        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "/", timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the bare page did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# -- measuring -------------------------------------------------------------------------------------------------
def load(context, url: str) -> tuple[float, dict]:
    """One load in a new page: (ms from navigation start to full render, the load's phases)."""
    page = context.new_page()
    try:
        page.goto(url, wait_until="commit")
        handle = page.wait_for_function(f"() => ({DASHBOARD_READY_JS})() ? performance.now() : false",
                                        polling="raf", timeout=60_000)
        rendered = float(handle.json_value())
        phases = page.evaluate(PHASES_JS)
        phases["rendered"] = rendered
        return rendered, phases
    finally:
        page.close()


def measure(browser, urls: dict[str, str], loads: int, fresh_context: bool) -> dict[str, list[tuple[float, dict]]]:
    """Alternate loads of each page; a shared, warmed context per page unless `fresh_context`."""
    results: dict[str, list[tuple[float, dict]]] = {name: [] for name in urls}
    contexts = {}
    if not fresh_context:
        for name, url in urls.items():
            contexts[name] = browser.new_context(viewport={"width": 1360, "height": 1000})
            load(contexts[name], url)  # warms the HTTP cache (and, for the app, nothing else: its data is warm)
    for _ in range(loads):
        for name, url in urls.items():
            context = browser.new_context(viewport={"width": 1360, "height": 1000}) if fresh_context \
                else contexts[name]
            results[name].append(load(context, url))
            if fresh_context:
                context.close()
    for context in contexts.values():
        context.close()
    return results


def _median_phases(samples: list[tuple[float, dict]]) -> dict:
    keys = ("html", "scripts_run", "layout", "first_callback_sent", "last_callback_done", "rendered", "callbacks")
    return {k: statistics.median(s[1][k] for s in samples if s[1].get(k) is not None) for k in keys}


def report(title: str, results: dict[str, list[tuple[float, dict]]]) -> float:
    """Print medians, ratios and phases; returns ours over the bare page as Dash ships it."""
    ours = results["dashboard"]
    ours_ms = statistics.median(t for t, _ in ours)
    print(f"\n{title}")
    print(f"  {'dashboard':16}: median {ours_ms:7.0f} ms   loads {[round(t) for t, _ in ours]}")
    ratios = {}
    for name in ("bare", "bare_same_plotly"):
        bare_ms = statistics.median(t for t, _ in results[name])
        ratios[name] = ours_ms / bare_ms
        print(f"  {name:16}: median {bare_ms:7.0f} ms   loads {[round(t) for t, _ in results[name]]}   "
              f"ratio {ratios[name]:.2f}")
    print(f"  (target: ours / bare <= {TARGET_RATIO}; 'bare' draws with Dash's full plotly.js, 'bare_same_plotly'"
          " with the basic bundle our app uses)")
    print("  where the time goes (median ms since navigation start):")
    print(f"    {'':17}{'html':>7}{'scripts':>9}{'layout':>8}{'1st cb':>8}{'last cb':>9}{'render':>8}{'#cb':>5}")
    for name, samples in results.items():
        p = _median_phases(samples)
        print(f"    {name:17}{p['html']:7.0f}{p['scripts_run']:9.0f}{p['layout']:8.0f}{p['first_callback_sent']:8.0f}"
              f"{p['last_callback_done']:9.0f}{p['rendered']:8.0f}{p['callbacks']:5.0f}")
    example = ours[len(ours) // 2][1]
    print(f"    dashboard callback round trips (ms, one load): {example['callback_ms']}")
    return ratios["bare"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--basic-plotly", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the raw timings here")
    args = parser.parse_args(argv)
    if args.serve_bare:
        bare_app(args.basic_plotly).run(host="127.0.0.1", port=args.serve_bare, debug=False)
        return 0
    reason = browser_missing()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as data_dir:
        app = DemoServer(Path(data_dir), env={"WARMUP_ENABLED": "0"}).wait_ready()
        bare, bare_same_plotly = BareServer(), BareServer(basic_plotly=True)
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                urls = {"dashboard": app.base + "/", "bare": bare.base + "/",
                        "bare_same_plotly": bare_same_plotly.base + "/"}
                warm = measure(browser, urls, args.loads, fresh_context=False)
                cold = measure(browser, urls, args.loads, fresh_context=True)
                browser.close()
        finally:
            bare.stop()
            bare_same_plotly.stop()
            app.stop()
    ratio = report(f"Warm data, warm HTTP cache (returning user), {args.loads} loads each", warm)
    report(f"Warm data, empty HTTP cache (first visit), {args.loads} loads each", cold)
    if args.json:
        args.json.write_text(json.dumps({"warm_cache": warm, "cold_cache": cold}, indent=1))
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
