"""Stopping a server the tests or the benchmark started in a session of its own (gunicorn: master and workers)."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_process_group(process: subprocess.Popen, term_wait_s: float = 15, kill_wait_s: float = 5) -> None:
    """SIGTERM the process's whole group (started with `start_new_session=True`), SIGKILL it if it lingers."""
    for sig, wait_s in ((signal.SIGTERM, term_wait_s), (signal.SIGKILL, kill_wait_s)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
