"""Drive the real app in Debian's Chromium: the launch flags, a demo server subprocess, page-state helpers.

Shared by the browser tests, scripts/screenshots.py and bench/page_vs_bare.py. Playwright cannot download its
own browsers here, so it launches /usr/bin/chromium (`executable_path`) with flags that keep it off the network.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Headless Chromium shows no omnibox, yet Chromium 156 builds the omnibox popup for every new tab: a WebUI page of
# ~200 modules in a renderer of its own, ~450 ms of CPU. On 2 cores that competes with the page under test (it put
# ~60 ms on a brand-new tab's first paint), so the browser the tests and the bench use leaves it out.
HIDDEN_UI_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup")
_playwright_features: tuple[str, ...] | None = None
VIEWPORT = {"width": 1360, "height": 1000}  # the desktop window of the browser tests
PHONE = {"width": 390, "height": 844}  # the phone of the browser tests and the screenshots
BADGE_WORDS = ("Fresh", "Market closed", "Stale", "Missing", "Partial")

# The dashboard is fully rendered when all four parts show data (used by tests, screenshots and the benchmark).
DASHBOARD_READY_JS = """() => {
    const q = s => document.querySelector(s);
    const value = q('#summary-market-value');
    const badge = q('#price-status-badge');
    const words = BADGE_WORDS;
    return !!(value && /\\$\\d/.test(value.innerText)
        && document.querySelector('#holdings-table .ag-row')
        && document.querySelector('#value-chart .scatterlayer .trace')
        && badge && words.some(w => badge.innerText.trim().startsWith(w)));
}""".replace("BADGE_WORDS", json.dumps(BADGE_WORDS))

# What DASHBOARD_READY_JS looks at, part by part: what a test reports when the dashboard never got ready.
DASHBOARD_STATE_JS = """() => {
    const q = s => document.querySelector(s);
    const text = s => (q(s) ? q(s).innerText.trim().slice(0, 80) : null);
    return {
        market_value: text('#summary-market-value'),
        badge: text('#price-status-badge'),
        holdings_rows: document.querySelectorAll('#holdings-table .ag-row').length,
        chart_traces: document.querySelectorAll('#value-chart .scatterlayer .trace').length,
        chart_part: q('#value-chart') ? (q('#value-chart').closest('.part') || {}).className || null : null,
        plotly: typeof window.Plotly === 'object' && window.Plotly !== null && 'version' in window.Plotly
            ? window.Plotly.version : String(window.Plotly),
    };
}"""


# The dashboard has settled when no part is a skeleton any more and the summary is filled, whatever the prices
# did (loaded, partly priced, unpriced, an empty portfolio): what the style, phone and accessibility tests wait for.
DASHBOARD_SETTLED_JS = """() => {
    const root = document.querySelector('#react-entry-point');
    const value = root && root.querySelector('#summary-market-value');
    return !!(value && value.innerText.trim() && !value.querySelector('.skeleton')
        && root.querySelectorAll('.part').length >= 3 && !root.querySelector('.part.is-loading')
        && !root.querySelector('#price-status-badge .skeleton'));
}"""

# The computed styles of the first element each selector finds (null when none), for comparing two visits.
STYLES_JS = """(selectors) => Object.fromEntries(selectors.map(selector => {
    const element = document.querySelector(selector);
    if (!element) return [selector, null];
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    const names = ['color', 'backgroundColor', 'borderTopColor', 'borderTopWidth', 'borderTopLeftRadius',
                   'paddingTop', 'paddingLeft', 'fontSize', 'fontWeight', 'display', 'boxShadow', 'opacity',
                   'textDecorationLine'];
    return [selector, {...Object.fromEntries(names.map(name => [name, style[name]])),
                       width: Math.round(box.width), height: Math.round(box.height)}];
}))"""


def wait_for_dashboard(page, server: DemoServer | None = None, timeout_ms: float = 30_000) -> None:
    """Wait until DASHBOARD_READY_JS holds; on timeout, fail naming each part's state (and the server log's tail)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(DASHBOARD_READY_JS, timeout=timeout_ms)
    except PlaywrightTimeout:
        state = page.evaluate(DASHBOARD_STATE_JS)
        tail = f"\nserver log:\n{server.log_tail()}" if server is not None else ""
        raise AssertionError(f"the dashboard was not ready after {timeout_ms / 1000:g} s: {state}{tail}") from None


def browser_missing() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -r requirements-dev.txt)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium chromium-driver)"
    return None


def launch_chromium(playwright, stock_ui: bool = False):
    """Debian's Chromium, headless and offline-friendly; without the unseen omnibox popup unless `stock_ui`."""
    args = list(CHROMIUM_ARGS)
    if not stock_ui:
        features = playwright_disabled_features(playwright)
        if features is None:
            warnings.warn("could not read Playwright's --disable-features: Chromium keeps its omnibox popup",
                          stacklevel=2)
        else:
            args.append("--disable-features=" + ",".join((*features, *HIDDEN_UI_FEATURES)))
    return playwright.chromium.launch(executable_path=CHROMIUM, args=args)


def playwright_disabled_features(playwright) -> tuple[str, ...] | None:
    """The features Playwright disables in each Chromium it starts (None if they cannot be read). Chromium keeps
    only the last --disable-features on its command line, so ours must repeat them: they are read once per process
    off the command line of a Chromium that Playwright starts with its defaults."""
    global _playwright_features
    if _playwright_features is None:
        before = set(chromium_browser_processes())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for pid, command in chromium_browser_processes().items():
                if pid not in before:
                    values = [a.split("=", 1)[1] for a in command if a.startswith("--disable-features=")]
                    _playwright_features = tuple(f for f in (values[-1] if values else "").split(",") if f)
                    break
        finally:
            browser.close()
    return _playwright_features


def chromium_browser_processes() -> dict[int, list[str]]:
    """{pid: command line} of the Chromium browser processes (not their renderers) Playwright started for us."""
    found = {}
    for child in psutil.Process().children(recursive=True):
        try:
            command = child.cmdline()
        except psutil.Error:
            continue
        if "--remote-debugging-pipe" in command and not any(a.startswith("--type=") for a in command):
            found[child.pid] = command
    return found


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the one helper every test server and the bench use)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Where the Yahoo provider's requests go when a test runs the app without --demo: a proxy address on which
# nothing listens, so every request fails at once on this machine and nothing leaves it (no DNS look-up either:
# with a proxy, the proxy would resolve the name). yfinance's HTTP client (curl_cffi) honours these variables.
NOWHERE_PROXY = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
                 "ALL_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
                 "http_proxy": "http://127.0.0.1:9", "all_proxy": "http://127.0.0.1:9", "NO_PROXY": "",
                 "no_proxy": ""}


class DemoServer:
    """`python app.py --demo` on 127.0.0.1 with its own DATA_DIR, started and stopped by the caller.

    With `demo=False` it is `python app.py` (the Yahoo provider), its requests sent to NOWHERE_PROXY: the price
    source is unreachable, as on a machine without network, without a packet leaving this one."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None,
                 demo: bool = True):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir / f"server-{self.port}.log"
        own = ("CACHE_DIR", "DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")  # one process: plain metrics
        inherited = {k: v for k, v in os.environ.items() if k not in own}
        full_env = {**inherited, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING",
                    **({} if demo else {"PRICE_PROVIDER": "yahoo", **NOWHERE_PROXY}), **(env or {})}
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "app.py", *(["--demo"] if demo else []), "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=full_env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 60) -> DemoServer:
        """Block until /healthz answers 200 (RuntimeError with the log's tail if the app dies or is slow)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"app did not answer /healthz within {timeout_s}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def get(url: str) -> tuple[int, str]:
    """(status, text) of a plain GET."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def wait_for_settled_dashboard(page, timeout_ms: float = 30_000) -> None:
    """Wait until DASHBOARD_SETTLED_JS holds (every part filled or showing why not); fail naming each part."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(DASHBOARD_SETTLED_JS, timeout=timeout_ms)
    except PlaywrightTimeout:
        parts = page.evaluate("() => [...document.querySelectorAll('#react-entry-point .part')]"
                              ".map(p => p.id + ': ' + p.className)")
        raise AssertionError(f"the dashboard did not settle in {timeout_ms / 1000:g} s: {parts}") from None
