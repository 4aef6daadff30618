"""Input limits against real servers (issue 13, item 6): Werkzeug's dev server (`python app.py`) and gunicorn
(`gunicorn app:server -c gunicorn.conf.py`), each in a subprocess on 127.0.0.1, sent raw HTTP.

A chunked upload (Transfer-Encoding: chunked, no Content-Length) over MAX_UPLOAD_BYTES was cut at the limit and the
part imported (Werkzeug's LimitedStream stops reading at the limit and returns what it has, without an error): the
last stored row held quantity 10 instead of 1,000,000. Now it is a 413 `{"error"}` on both servers and nothing is
imported, which each case checks through the API. A body at the limit still imports whole. And a JSON body nested
100,000 levels deep, once a 500, is a 400 on every JSON path and on Dash's callback route.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.browser.support import free_port
from tests.faults.support import AppServer, report
from tests.processes import stop_process_group

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 256 * 1024  # MAX_UPLOAD_BYTES of the servers here: small, so oversize bodies are cheap to send
HEADER = b"date,ticker,type,quantity,price,fees,note\n"
ROW = b"2024-01-02,AAPL,BUY,1000000,1,0,\n"  # cut after "10", this row once imported as 10 shares


class GunicornServer:
    """`gunicorn app:server -c gunicorn.conf.py` (one worker) on a free 127.0.0.1 port, demo prices."""

    def __init__(self, data_dir: Path, env: dict[str, str]):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"gunicorn-{self.port}.log"
        inherited = {k: v for k, v in os.environ.items()
                     if k not in ("CACHE_DIR", "DATABASE_URL", "REDIS_URL", "DYNO", "APP_ENV", "AUTH_REQUIRED",
                                  "WEB_CONCURRENCY", "MAX_UPLOAD_BYTES", "PROMETHEUS_MULTIPROC_DIR")}
        environment = {**inherited, "HOST": "127.0.0.1", "PORT": str(self.port), "DATA_DIR": str(data_dir),
                       "PRICE_PROVIDER": "demo", "WARMUP_ENABLED": "0", "SEED_SAMPLE": "0", "WEB_CONCURRENCY": "1",
                       "PROMETHEUS_MULTIPROC_DIR": str(data_dir.parent / f"prometheus-{self.port}"), **env}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "app:server", "-c", "gunicorn.conf.py",
                 "--bind", f"127.0.0.1:{self.port}"],
                cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def ready(self, timeout_s: float = 90) -> GunicornServer:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                if _request(self.port, "GET", "/healthz", timeout_s=2)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        stop_process_group(self.process, term_wait_s=20)  # the session it was started in: master and worker


@pytest.fixture(scope="module", params=["werkzeug", "gunicorn"])
def server(request, tmp_path_factory) -> Iterator[tuple[str, int]]:
    """(the server's name, its port): the app with MAX_UPLOAD_BYTES = LIMIT under each server it runs on."""
    data_dir = tmp_path_factory.mktemp(f"limits-{request.param}") / "data"
    data_dir.mkdir()
    env = {"MAX_UPLOAD_BYTES": str(LIMIT)}
    if request.param == "werkzeug":
        app = AppServer(data_dir, env, name="limits").ready()
        yield request.param, app.port
        app.stop()
    else:
        gunicorn = GunicornServer(data_dir, env).ready()
        yield request.param, gunicorn.port
        gunicorn.stop()


def _request(port: int, method: str, path: str, body: bytes | None = None, content_type: str = "application/json",
             timeout_s: float = 60) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": content_type} if body is not None else {})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


def _post_chunked(port: int, path: str, chunks: Iterable[bytes], content_type: str) -> tuple[int, str, bytes]:
    """POST `chunks` with Transfer-Encoding: chunked and no Content-Length over a raw socket; the answer is read
    while the body is still being sent (a server may answer, and close, before it has read it all)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()

    def send() -> None:
        try:
            sock.sendall(head)
            for chunk in chunks:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed before the end of the body

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        response = http.client.HTTPResponse(sock)
        response.begin()
        answer = response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        sender.join(timeout=60)
        sock.close()
    return answer


def _csv_chunks(size: int, chunk_rows: int = 500) -> Iterator[bytes]:
    """A valid CSV of at least `size` bytes (a header, then whole BUY rows), in chunks of `chunk_rows` rows."""
    rows = -(-(size - len(HEADER)) // len(ROW))
    yield HEADER
    for start in range(0, rows, chunk_rows):
        yield ROW * min(chunk_rows, rows - start)


def _portfolio(port: int, name: str) -> int:
    status, _, body = _request(port, "POST", "/api/portfolios", json.dumps({"name": name}).encode())
    assert status == 201, body
    return json.loads(body)["portfolio"]["id"]


def _stored(port: int, pid: int) -> list[dict]:
    status, _, body = _request(port, "GET", f"/api/portfolios/{pid}/transactions")
    assert status == 200, body
    return json.loads(body)["transactions"]


def _assert_json_error(status: int, content_type: str, body: bytes, expected: int) -> dict:
    assert status == expected, (status, body[:300])
    assert content_type.split(";")[0] == "application/json", (content_type, body[:300])
    answer = json.loads(body)
    assert isinstance(answer.get("error"), str) and answer["error"], answer
    return answer


@pytest.mark.parametrize("size", [LIMIT + 1, 4 * LIMIT, 40 * LIMIT], ids=["limit+1", "4x", "40x"])
def test_a_chunked_upload_over_the_limit_is_413_and_imports_nothing(server, size):
    name, port = server
    pid = _portfolio(port, f"chunked {size} {time.time_ns()}")
    body = b"".join(_csv_chunks(size))[:size]  # exactly `size` bytes: the last row may be cut, as a limit would
    started = time.perf_counter()
    status, content_type, answer = _post_chunked(port, f"/api/portfolios/{pid}/import", [body[i:i + 65536]
                                                 for i in range(0, len(body), 65536)], "text/csv")
    seconds = time.perf_counter() - started
    error = _assert_json_error(status, content_type, answer, 413)
    assert str(LIMIT) in error["error"], error
    stored = _stored(port, pid)
    assert stored == [], f"{len(stored)} rows imported from a {size} byte body over the {LIMIT} byte limit"
    report(f"chunked upload over the limit ({name})", f"{size} bytes -> {status} in {seconds:.2f} s, 0 rows stored")


def test_a_chunked_upload_at_the_limit_imports_whole(server):
    _, port = server
    pid = _portfolio(port, f"at the limit {time.time_ns()}")
    rows = (LIMIT - len(HEADER)) // len(ROW)
    body = HEADER + ROW * rows
    body += b"\n" * (LIMIT - len(body))  # blank lines up to exactly the limit
    assert len(body) == LIMIT
    status, _, answer = _post_chunked(port, f"/api/portfolios/{pid}/import", [body[:100_000], body[100_000:]],
                                      "text/csv")
    assert status == 200, answer[:300]
    assert json.loads(answer)["imported"] == rows
    stored = _stored(port, pid)
    assert len(stored) == rows and {t["quantity"] for t in stored} == {1_000_000}


def test_a_declared_length_over_the_limit_is_413_and_imports_nothing(server):
    _, port = server
    pid = _portfolio(port, f"declared {time.time_ns()}")
    body = b"".join(_csv_chunks(2 * LIMIT))
    status, content_type, answer = _request(port, "POST", f"/api/portfolios/{pid}/import", body, "text/csv")
    _assert_json_error(status, content_type, answer, 413)
    assert _stored(port, pid) == []


def test_a_chunked_json_body_over_the_limit_is_413(server):
    _, port = server
    padding = json.dumps({"name": "x", "note": "n" * (2 * LIMIT)}).encode()
    status, content_type, answer = _post_chunked(port, "/api/portfolios", [padding[:LIMIT], padding[LIMIT:]],
                                                 "application/json")
    _assert_json_error(status, content_type, answer, 413)


DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 40_000 + b"1" + b"}" * 40_000  # 240 kB: under LIMIT
DEEP_FIELD = b'{"name": ' + b"[" * 100 + b"]" * 100 + b"}"  # parses, but deeper than any body of ours


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT, DEEP_FIELD, b'{"name": "unfinished'],
                         ids=["array", "object", "nested-field", "malformed"])
def test_a_deep_or_malformed_json_body_is_400_everywhere(server, body):
    name, port = server
    pid = _portfolio(port, f"deep {time.time_ns()}")
    added = _request(port, "POST", f"/api/portfolios/{pid}/transactions", json.dumps({
        "date": "2024-01-02", "ticker": "AAPL", "type": "BUY", "quantity": 1, "price": 1}).encode())
    tid = json.loads(added[2])["transaction"]["id"]
    paths = [("POST", "/api/portfolios"), ("PATCH", f"/api/portfolios/{pid}"),
             ("POST", f"/api/portfolios/{pid}/transactions"), ("PATCH", f"/api/portfolios/{pid}/transactions/{tid}")]
    for method, path in paths:
        _assert_json_error(*_request(port, method, path, body), 400)
    # Dash's own route: a 400 (it was an HTML 500), never a 5xx.
    status, _, answer = _request(port, "POST", "/_dash-update-component", body)
    assert status == 400, (status, answer[:300])
    assert _stored(port, pid)[0]["id"] == tid and len(_stored(port, pid)) == 1
    report(f"deep JSON ({name})", f"{len(body)} bytes -> 400 on {len(paths)} API paths and the callback route")
