"""Take the README's screenshots of every state: `python scripts/screenshots.py [--out docs/screenshots]`.

Starts the demo app (each state on a server of its own, with a fresh DATA_DIR) in Debian's Chromium, with the
browser tests' flags, and writes one PNG per state: the dashboard loaded, reached directly and through the
navbar; the transactions page, both ways, and with an import error showing; the skeleton the first HTML
response paints; the dashboard while prices load, partly priced, and with no price reachable; an empty
portfolio; the 404 page; the dashboard and the transactions page at 390 px wide; and the performance chart (the
value chart card in Performance mode, issue 16) at 1280 and 390 px. Look at each one.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.support import (  # noqa: E402 - the repository root goes on sys.path first
    PHONE,
    VIEWPORT,
    DemoServer,
    browser_missing,
    launch_chromium,
    wait_for_dashboard,
    wait_for_settled_dashboard,
)

BAD_CSV = b"date,ticker,type,quantity,price\n2024-13-01,AAPL,BUY,1,1\n2024-01-02,AAPL,SELL,5,1\n"
# Tickers the sample portfolio holds that the partly-priced server cannot price.
FAILING = "AAPL,MSFT,NVDA"


ACCOUNT_CSV = "date,ticker,type,quantity,price,fees,note\n2025-01-06,AAPL,BUY,10,100,5,\n2025-02-03,MSFT,BUY,5,300,0,\n"


def api(server: DemoServer, method: str, path: str, body: dict | None = None) -> dict:
    """One JSON API call on the demo server."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return json.loads(text) if text else {}


def settle(page, wait_ms: int = 500) -> None:
    """Let plotly's transitions and the shimmer's frame finish before the picture."""
    page.wait_for_timeout(wait_ms)


class Shots:
    """Writes the PNGs and remembers them."""

    def __init__(self, out: Path):
        self.out, self.written = out, []

    def take(self, page, name: str, *, full_page: bool = True) -> None:
        # AG Grid draws a grid's rows only once the grid has been on screen: bring each into view, then go back up.
        for grid in page.locator("#react-entry-point .ag-root-wrapper").all():
            grid.scroll_into_view_if_needed()
        page.evaluate("() => window.scrollTo(0, 0)")
        page.wait_for_timeout(300)
        path = self.out / f"{name}.png"
        page.screenshot(path=path, full_page=full_page)
        self.written.append(path)


PERFORMANCE_BUTTON = "#react-entry-point .chart-mode-buttons button:text-is('Performance')"
PERFORMANCE_DRAWN_JS = """() => {
    const graph = document.querySelector('#value-chart .js-plotly-plot');
    return !!(graph && graph.data && graph.data.length === 2 && graph.data[0].name === 'Portfolio'
              && document.querySelectorAll('#value-chart .scatterlayer .trace').length === 2
              && document.querySelectorAll('#performance-figures .perf-value').length === 5);
}"""


def show_performance(page) -> None:
    """Switch the dashboard's chart card to Performance and wait for both lines and the figures."""
    page.click(PERFORMANCE_BUTTON)
    page.wait_for_function(PERFORMANCE_DRAWN_JS)
    settle(page)


def with_server(data_dir: Path, env: dict[str, str] | None, work: Callable[[DemoServer], None]) -> None:
    server = DemoServer(data_dir, env=env).wait_ready()
    try:
        work(server)
    finally:
        server.stop()


def take(out: Path) -> list[Path]:
    """Write the screenshots into `out`; returns their paths."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    shots = Shots(out)
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as data_root:
        browser = launch_chromium(playwright)
        root = Path(data_root)

        def context(server: DemoServer, viewport: dict = VIEWPORT, **options):
            made = browser.new_context(viewport=viewport, base_url=server.base, device_scale_factor=1, **options)
            made.set_default_timeout(30_000)
            return made

        def normal(server: DemoServer) -> None:
            page = context(server).new_page()
            page.goto("/")
            wait_for_dashboard(page, server)
            page.wait_for_selector("#allocation-chart .slice")
            settle(page)
            shots.take(page, "dashboard")
            page.click("#nav-transactions")
            page.wait_for_selector("#transactions-table .ag-row")
            settle(page)
            shots.take(page, "transactions-via-navbar")
            page.click("#nav-dashboard")
            wait_for_dashboard(page, server)
            settle(page)
            shots.take(page, "dashboard-via-navbar")
            page.goto("/transactions")
            page.wait_for_selector("#transactions-table .ag-row")
            settle(page)
            shots.take(page, "transactions")
            page.set_input_files("#csv-upload input[type=file]",
                                 files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD_CSV}])
            page.wait_for_selector("#csv-upload-result .alert")
            settle(page, 300)
            shots.take(page, "transactions-import-error")
            page.goto("/nope")
            page.wait_for_selector("#react-entry-point .page")
            settle(page, 300)
            shots.take(page, "not-found")

            empty = api(server, "POST", "/api/portfolios", {"name": "Empty"})["portfolio"]["id"]
            page.goto(f"/portfolio/{empty}")
            page.wait_for_selector("#allocation-message .alert")
            settle(page)
            shots.take(page, "empty-portfolio")

            phone = context(server, PHONE).new_page()
            phone.goto("/")
            wait_for_dashboard(phone, server)
            settle(phone)
            shots.take(phone, "dashboard-390px")
            # A full-page capture resizes the window to the page's height, and the grid is caught mid-redraw: the
            # holdings on a phone are taken as the screen shows them, scrolled to.
            phone.locator("#react-entry-point #holdings-table").scroll_into_view_if_needed()
            settle(phone)
            phone.screenshot(path=shots.out / "dashboard-390px-holdings.png")
            shots.written.append(shots.out / "dashboard-390px-holdings.png")
            phone.goto("/transactions")
            phone.wait_for_selector("#transactions-table .ag-row")
            settle(phone)
            shots.take(phone, "transactions-390px")

            # The performance chart: the sample portfolio's TWR against ^GSPC, at 1280 px (the top of the page, where
            # it sits) and on the phone (its card, scrolled to).
            wide = context(server, {"width": 1280, "height": 900}).new_page()
            wide.goto("/")
            wait_for_dashboard(wide, server)
            show_performance(wide)
            shots.take(wide, "performance", full_page=False)
            phone.goto("/")
            wait_for_dashboard(phone, server)
            show_performance(phone)
            phone.locator("#react-entry-point #chart-title").scroll_into_view_if_needed()
            phone.evaluate("() => window.scrollBy(0, document.querySelector('#react-entry-point #chart-title')"
                           ".closest('.card').getBoundingClientRect().top - 8)")
            settle(phone)
            phone.screenshot(path=shots.out / "performance-390px.png")
            shots.written.append(shots.out / "performance-390px.png")

            still = context(server, java_script_enabled=False).new_page()
            still.goto("/")
            shots.take(still, "skeleton")

        def loading(server: DemoServer) -> None:
            page = context(server).new_page()
            page.goto("/")
            page.wait_for_selector("#refresh-progress-wrap", state="visible")
            settle(page, 800)
            shots.take(page, "dashboard-loading")

        def settled(name: str) -> Callable[[DemoServer], None]:
            """The dashboard once every part shows what it has (partly priced, or nothing priced)."""
            def shoot(server: DemoServer) -> None:
                page = context(server).new_page()
                page.goto("/")
                wait_for_settled_dashboard(page)
                settle(page)
                shots.take(page, name)
            return shoot

        def accounts(server: DemoServer) -> None:
            """The account pages of a server that requires logins, and a user's dashboard with the account menu."""
            page = context(server).new_page()
            page.goto("/")  # redirected to /login?next=/
            shots.take(page, "login")
            page.fill("#email", "nobody@example.com")
            page.fill("#password", "not the password")
            page.click("button[type=submit]")
            page.wait_for_selector("#account-error")
            shots.take(page, "login-error")
            page.goto("/signup")
            shots.take(page, "signup")
            page.fill("#email", "you@example.com")
            page.fill("#password", "a long enough passphrase")
            page.click("button[type=submit]")
            page.wait_for_url("**/")
            headers = {"Origin": server.base}
            created = page.request.post(server.base + "/api/portfolios", data={"name": "Mine"}, headers=headers)
            pid = created.json()["portfolio"]["id"]
            page.request.post(f"{server.base}/api/portfolios/{pid}/import", data=ACCOUNT_CSV,
                              headers={**headers, "Content-Type": "text/csv"})
            page.goto(f"/portfolio/{pid}")
            wait_for_settled_dashboard(page)
            settle(page)
            shots.take(page, "dashboard-logged-in")
            phone = context(server, PHONE).new_page()
            phone.goto("/login")
            shots.take(phone, "login-390px")

        with_server(root / "normal", None, normal)
        with_server(root / "loading", {"DEMO_LATENCY_MS": "8000", "WARMUP_ENABLED": "0"}, loading)
        with_server(root / "partial", {"DEMO_FAIL_SYMBOLS": FAILING, "WARMUP_ENABLED": "0"},
                    settled("dashboard-partly-priced"))
        with_server(root / "unpriced", {"DEMO_FAILURE_RATE": "1", "WARMUP_ENABLED": "0"}, settled("dashboard-unpriced"))
        with_server(root / "accounts", {"AUTH_REQUIRED": "1", "SECRET_KEY": "screenshots-secret-of-some-length",
                                        "WARMUP_ENABLED": "0"}, accounts)
        browser.close()
    return shots.written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    reason = browser_missing()
    if reason:
        print(f"cannot take screenshots: {reason}", file=sys.stderr)
        return 2
    for path in take(args.out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
