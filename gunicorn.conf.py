"""gunicorn settings for one 512 MB Heroku dyno (`web: gunicorn app:server` in the Procfile).

Everything can be overridden from the environment (HOST, PORT, WEB_CONCURRENCY, GUNICORN_THREADS, ...).

The worker is gunicorn's gthread worker with one change (HeadFirstThreadWorker below): a connection gets a thread
only once its whole request head has arrived. Stock gthread hands every new connection to a thread that waits up
to 5 s for its first byte, and then reads the head with blocking reads: 50 idle sockets held /healthz for 24 s,
and clients that trickle a head (slowloris) held every thread for as long as they liked. Here idle and slow
sockets wait in the worker's poller (up to `worker_connections` of them), and a head not complete within
HEADER_TIMEOUT_S closes its connection. Measured against gevent with bench/load.py: no new dependency needed.

Workers recycle after max_requests (plus a jitter of up to half of it), and never two within RECYCLE_SPACING_S of
each other: a worker due to recycle while another did so recently serves on a little longer. Each worker is
warmed (post_worker_init) before it accepts a connection, so no first request meets Dash's lazy setup.
"""

import contextlib
import errno
import fcntl
import os
import selectors
import shutil
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

# The app's Settings reads HOST: any address beyond loopback requires logins (and a SECRET_KEY).
host = os.environ.get("HOST") or "0.0.0.0"
os.environ["HOST"] = host
bind = f"{host}:{os.environ.get('PORT', '8050')}"
# Two workers of about 150 MB each leave headroom under 512 MB; threads serve the Dash callbacks that wait on
# prices (at most PRICE_WAIT_S) without tying up a whole worker.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Connections a worker holds at once: idle and slow ones cost a poller entry each, not a thread.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
# Heroku's router gives up after 30 s; no request of ours should come near it (PRICE_WAIT_S bounds the waits).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak can never reach the dyno's memory limit. The jitter is half of
# max_requests so the workers' limits differ widely; HeadFirstThreadWorker spaces the recycles on top of that.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 2
# Not --preload: each worker builds its own app after the fork, and the scheduler elects one leader among them
# (embedded mode; with REDIS_URL no web worker runs a scheduler: the Celery beat of the `worker` process does).
preload_app = False
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = "-"
errorlog = "-"

# A request head (request line and headers) must arrive within this many seconds of the connection's first
# byte (or of its being accepted, for a new connection that sends nothing).
HEADER_TIMEOUT_S = float(os.environ.get("GUNICORN_HEADER_TIMEOUT", "10"))
HEAD_LIMIT_BYTES = 64 * 1024  # past this the parser gets the bytes and answers its own 4xx
# Two workers never start recycling within this many seconds of each other (a worker boots in a few seconds).
RECYCLE_SPACING_S = float(os.environ.get("GUNICORN_RECYCLE_SPACING_S", "30"))
RECYCLE_POSTPONE_REQUESTS = 100  # a postponed worker asks again after this many more requests
# What post_worker_init requests in-process before the worker takes traffic (GUNICORN_WARM_WORKER=0: none).
WARM_PATHS = ("/healthz", "/", "/_dash-layout", "/_dash-dependencies", "/api/portfolios")

_recycle_stamp = None  # set in the master (on_starting); the workers inherit it


class HeadFirstThreadWorker(ThreadWorker):
    """gthread, but a connection waits in the poller until its request head is complete (see the docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading_conns = []  # connections whose request head is still arriving
        self._recycle_lock = threading.Lock()
        self._stop_linger = None
        self._head_first = self.cfg.protocol == "http" and not self.cfg.is_ssl and \
            self.cfg.http2_cleartext not in ("prior-knowledge", "both")

    # -- connections wait for their head in the poller -------------------------------------------------------
    def accept(self, listener):
        if not self._head_first:
            return super().accept(listener)
        try:
            client_sock, client_addr = listener.accept()
        except BlockingIOError:
            return
        except OSError as error:
            if error.errno != errno.ECONNABORTED:
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())
        self._read_head(conn)

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection has bytes: its next head is read in the poller too."""
        if not self._head_first:
            return super().on_client_socket_readable(conn, client)
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read_head(conn)

    def _read_head(self, conn):
        conn.head = bytearray()
        conn.head_deadline = min(time.monotonic() + HEADER_TIMEOUT_S, self._stop_linger or float("inf"))
        conn.sock.setblocking(False)
        self.reading_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_head_bytes, conn))

    def _on_head_bytes(self, conn, client):
        try:
            data = conn.sock.recv(8192)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            conn.head += data
            # The head ends at an empty line (a bare LF too: the parser then answers the 400, not a timeout).
            if b"\n\r\n" not in conn.head and b"\n\n" not in conn.head and len(conn.head) < HEAD_LIMIT_BYTES:
                return
        self.poller.unregister(conn.sock)
        self.reading_conns.remove(conn)
        if not data:  # closed by the client before a whole head
            self.nr_conns -= 1
            conn.close()
            return
        conn.data_ready = True
        self.enqueue_req(conn)

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        if not self.alive and self._stop_linger is None:
            # A stopping worker gives connections that have not sent a whole head a short while more (a client
            # may be sending it right now), as gthread does its kept-alive ones, then closes them.
            self._stop_linger = now + STOP_KEEPALIVE_LINGER
            for conn in self.reading_conns:
                conn.head_deadline = min(conn.head_deadline, self._stop_linger)
        expired = [conn for conn in self.reading_conns if conn.head_deadline <= now]
        for conn in expired:
            self.reading_conns.remove(conn)
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.poller.unregister(conn.sock)
            self.nr_conns -= 1
            conn.close()

    def handle(self, conn):
        head = getattr(conn, "head", None)
        if head:
            conn.head = None
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(bytes(head))
        return super().handle(conn)

    # -- recycling: never two workers together ----------------------------------------------------------------
    def handle_request(self, req, conn):
        if self.alive and self.nr + 1 >= self.max_requests and not self._may_recycle():
            self.max_requests = self.nr + RECYCLE_POSTPONE_REQUESTS
        return super().handle_request(req, conn)

    def _may_recycle(self) -> bool:
        """True if no other worker recycled in the last RECYCLE_SPACING_S (then this one's time is written)."""
        if _recycle_stamp is None:
            return True
        with self._recycle_lock:
            try:
                with open(_recycle_stamp, "r+") as stamp:
                    fcntl.flock(stamp, fcntl.LOCK_EX)
                    last = float(stamp.read() or 0)
                    now = time.time()
                    if now - last < RECYCLE_SPACING_S:
                        self.log.info("Recycle postponed: another worker recycled %.1f s ago", now - last)
                        return False
                    stamp.seek(0)
                    stamp.truncate()
                    stamp.write(repr(now))
                    return True
            except (OSError, ValueError):
                return True


worker_class = HeadFirstThreadWorker


def on_starting(server):
    """prometheus_client's multiprocess mode: one fresh folder that every worker writes its metrics into."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = str(Path(tempfile.gettempdir()) / f"stocktracker-metrics-{os.getpid()}")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)
    global _recycle_stamp
    handle, _recycle_stamp = tempfile.mkstemp(prefix="gunicorn-recycle-", dir=worker_tmp_dir)
    os.close(handle)


def on_exit(server):
    if _recycle_stamp:
        Path(_recycle_stamp).unlink(missing_ok=True)


def post_worker_init(worker):
    """Drive the app in-process before the worker accepts a connection: Dash's lazy first-request setup (and the
    pages' and API's) runs here, in one thread, instead of racing across the first real requests."""
    if os.environ.get("GUNICORN_WARM_WORKER", "1") == "0" or not hasattr(worker.wsgi, "test_client"):
        return
    started = time.monotonic()
    statuses = []
    client = worker.wsgi.test_client()
    # A Host name the app accepts: the first of TRUSTED_HOSTS (a leading "." allows subdomains), else loopback.
    trusted = [name.strip().lstrip(".") for name in os.environ.get("TRUSTED_HOSTS", "").split(",") if name.strip()]
    headers = {"Host": trusted[0] if trusted else "localhost"}
    for path in WARM_PATHS:
        try:
            statuses.append(client.get(path, headers=headers).status_code)
        except Exception:  # a broken page must not stop the worker from booting; the log says which
            worker.log.exception("warming %s failed", path)
            statuses.append("error")
    worker.log.info("Worker warmed in %.2f s: %s", time.monotonic() - started,
                    " ".join(f"{path} {status}" for path, status in zip(WARM_PATHS, statuses, strict=True)))


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
