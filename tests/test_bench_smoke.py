"""CI smoke run of the benchmark: `python -m bench --quick` finishes and meets the request targets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_benchmark_writes_its_report(tmp_path):
    report_path = tmp_path / "bench.json"
    command = [sys.executable, "-m", "bench", "--quick", "--json", str(report_path), "--latency-ms", "100"]
    if shutil.which("chromium") is None:
        command.append("--no-page")
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    report = json.loads(report_path.read_text())
    small = report["portfolios"]["small"]
    assert small["tickers"] == 20
    assert small["warm_upstream_requests"] == 0  # a warm load asks the price source nothing
    assert 1 <= small["cold_upstream_requests"] <= small["tickers"]  # at most one request per ticker
    assert small["cold_upstream_symbols"] <= small["tickers"] + 1  # each once, and the chart's benchmark (issue 16)
    # The naive baseline asks one price per ticker per day: 20 tickers x 365 days.
    assert report["naive"]["requests"] == 20 * 365
    assert report["ratios"]["requests_naive_over_ours"] >= 100
    assert "| small |" in finished.stdout
    if "--no-page" not in command:
        # Nine first paints each of four ways, each a real paint time after navigation start (not a missing entry).
        ways = ("", "_settled_tab", "_same_tab", "_stock_new_tab")
        runs = [small[f"page_skeleton{way}_runs_ms"] for way in ways]
        assert [len(each) for each in runs] == [9, 9, 9, 9]
        assert all(0 < ms < 10_000 for each in runs for ms in each)
        assert small["page_skeleton_median_ms"] < small["page_warm_median_s"] * 1000  # drawn before the page is full
        # The ratio comes from warm loads of both pages taken in turns: five of each, the median of each side.
        assert len(small["page_warm_runs_s"]) == 5 and len(report["bare_page_runs_s"]) == 5
        assert len(report["bare_page_same_plotly_runs_s"]) == 5
        # The bare page as Dash ships it evaluates the full plotly.js (4.8 MB), the other one the basic bundle.
        assert report["bare_page_same_plotly_median_s"] < report["bare_page_median_s"]
        bare_median = sorted(report["bare_page_runs_s"])[2]
        assert report["ratios"]["page_ours_over_bare"] == pytest.approx(small["page_warm_median_s"] / bare_median,
                                                                        abs=0.001)
