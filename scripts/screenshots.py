"""Take the README's screenshots: `python scripts/screenshots.py [--out docs/screenshots]`.

Starts the demo app on a free port with a fresh DATA_DIR, opens it in Debian's Chromium (same flags as the
browser tests) and writes PNGs of the dashboard, the transactions page and the skeleton that the first HTML
response paints before any JavaScript runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.support import (  # noqa: E402 - the repository root goes on sys.path first
    DASHBOARD_READY_JS,
    DemoServer,
    browser_missing,
    launch_chromium,
)

VIEWPORT = {"width": 1360, "height": 1000}


def take(out: Path) -> list[Path]:
    """Write the screenshots into `out`; returns their paths."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as data_dir:
        server = DemoServer(Path(data_dir)).wait_ready()
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                context = browser.new_context(viewport=VIEWPORT, base_url=server.base, device_scale_factor=1)
                page = context.new_page()
                page.goto("/")
                page.wait_for_function(DASHBOARD_READY_JS, timeout=30_000)
                page.wait_for_selector("#allocation-chart .slice")
                page.wait_for_timeout(400)  # let plotly finish its transitions
                written.append(out / "dashboard.png")
                page.screenshot(path=written[-1], full_page=True)

                page.click("#nav-transactions")
                page.wait_for_selector("#transactions-table .ag-row", timeout=30_000)
                page.wait_for_timeout(300)
                written.append(out / "transactions.png")
                page.screenshot(path=written[-1], full_page=True)

                still = browser.new_context(viewport=VIEWPORT, base_url=server.base, java_script_enabled=False)
                skeleton = still.new_page()
                skeleton.goto("/")
                written.append(out / "skeleton.png")
                skeleton.screenshot(path=written[-1], full_page=True)
                browser.close()
        finally:
            server.stop()
    return written


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
