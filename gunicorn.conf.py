"""gunicorn settings for one 512 MB Heroku dyno (`web: gunicorn app:server` in the Procfile).

Everything can be overridden from the environment (WEB_CONCURRENCY, GUNICORN_THREADS, PORT, ...).
"""

import os
import shutil
import tempfile
from pathlib import Path

bind = f"0.0.0.0:{os.environ.get('PORT', '8050')}"
# Two workers of about 150 MB each leave headroom under 512 MB; threads serve the Dash callbacks that wait on
# prices (at most PRICE_WAIT_S) without tying up a whole worker.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# Heroku's router gives up after 30 s; no request of ours should come near it (PRICE_WAIT_S bounds the waits).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak can never reach the dyno's memory limit.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# Not --preload: each worker builds its own app after the fork, and the scheduler elects one leader among them.
preload_app = False
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = "-"
errorlog = "-"


def on_starting(server):
    """prometheus_client's multiprocess mode: one fresh folder that every worker writes its metrics into."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = str(Path(tempfile.gettempdir()) / f"stocktracker-metrics-{os.getpid()}")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
