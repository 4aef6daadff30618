"""A page on another origin attacks the real app through Chromium: every write is refused, framing is blocked.

The hostile page is served by a second HTTP server on another port of 127.0.0.1: another origin, yet the same
site for the browser (SameSite cookies would go along), the hardest case for a CSRF defence that leans on
cookies. It tries (a) a hidden `fetch` POST of a text/plain CSV to the import URL, (b) HTML forms auto-submitted
to it (multipart with a file, and text/plain), (c) a `fetch` DELETE of the portfolio, (d) the app in an iframe.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.request

import pytest

from tests.browser.support import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CSV = "date,ticker,type,quantity,price\n2025-01-06,AAPL,BUY,7,10\n"
# A text/plain form sends "name=value\r\n": the name is the CSV up to its last field, the value that field.
FORM_NAME, FORM_VALUE = "date,ticker,type,quantity,price,note\n2025-01-06,MSFT,BUY,3,10,", "x"

HOSTILE_PAGE = """<!DOCTYPE html>
<html><head><title>Free stock tips</title></head><body>
<iframe id="victim" src="APP/" width="800" height="600"></iframe>
<iframe name="sink-multipart"></iframe><iframe name="sink-text"></iframe>
<form id="multipart" method="post" action="APP/api/portfolios/PID/import" enctype="multipart/form-data"
      target="sink-multipart"><input type="file" name="file"></form>
<form id="text" method="post" action="APP/api/portfolios/PID/import" enctype="text/plain" target="sink-text">
  <input type="hidden" name="FORM_NAME" value="FORM_VALUE"></form>
<script>
window.attacks = [];
const csv = CSV;
fetch("APP/api/portfolios/PID/import", {method: "POST", mode: "no-cors", credentials: "include",
    headers: {"Content-Type": "text/plain"}, body: csv})
  .then(() => attacks.push("fetch-post sent"), e => attacks.push("fetch-post failed: " + e));
fetch("APP/api/portfolios/PID", {method: "DELETE", credentials: "include"})
  .then(r => attacks.push("fetch-delete answered " + r.status), e => attacks.push("fetch-delete failed: " + e));
const files = new DataTransfer();
files.items.add(new File([csv], "ledger.csv", {type: "text/csv"}));
const multipart = document.getElementById("multipart");
multipart.querySelector("input").files = files.files;
multipart.submit();
document.getElementById("text").submit();
</script></body></html>"""


class HostileSite:
    """One page on its own port, served from a thread of the test process."""

    def __init__(self, page_html: str):
        body = page_html.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _api(base: str, method: str, path: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def _wait_for_imports(page, writes, pid: int, count: int, timeout_s: float = 15) -> list[tuple[str, int]]:
    """The (method, status) of the writes to the import URL seen so far, once `count` arrived (or time is up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        imports = [(method, status) for method, path, status in writes if path.endswith(f"/{pid}/import")]
        if len(imports) >= count or time.monotonic() > deadline:
            return imports
        page.wait_for_timeout(100)


def test_a_page_on_another_origin_cannot_write_or_frame_the_app(browser, app_server):
    base = app_server.base
    pid = _api(base, "POST", "/api/portfolios", {"name": "Target of a hostile page"})["portfolio"]["id"]
    _api(base, "POST", f"/api/portfolios/{pid}/transactions",
         {"date": "2025-01-02", "ticker": "KO", "type": "BUY", "quantity": 1, "price": 50})
    before = _api(base, "GET", f"/api/portfolios/{pid}/transactions")["transactions"]

    html = (HOSTILE_PAGE.replace("FORM_NAME", FORM_NAME.replace("\n", "&#10;")).replace("FORM_VALUE", FORM_VALUE)
            .replace("CSV", json.dumps(CSV)).replace("APP", base).replace("PID", str(pid)))
    hostile = HostileSite(html)
    context = browser.new_context()
    try:
        page = context.new_page()
        console = []
        page.on("console", lambda message: console.append(message.text))
        writes = []  # (method, path, status) of every write that reached the app
        page.on("response", lambda response: writes.append(
            (response.request.method, response.url[len(base):], response.status))
            if response.url.startswith(base) and response.request.method != "GET" else None)
        page.goto(hostile.base + "/")
        page.wait_for_function("() => window.attacks.length === 2")
        imports = _wait_for_imports(page, writes, pid, count=3)
        page.wait_for_timeout(300)  # anything later (a retry, a redirect) would land too
        attacks = page.evaluate("() => window.attacks")

        assert len(imports) == 3, writes  # the fetch and both forms were sent...
        assert {status for _method, status in imports} == {403}, writes  # ...and refused
        # The cross-origin DELETE needs a CORS preflight, which the app never grants: the browser does not send it.
        assert not [w for w in writes if w[0] == "DELETE"], writes
        assert any(a.startswith("fetch-delete failed") for a in attacks), attacks

        # The app in an iframe: refused by frame-ancestors 'none', the app never runs inside it.
        victim = page.frame_locator("#victim")
        assert victim.locator("#react-entry-point").count() == 0
        assert any("frame-ancestors" in text for text in console), console
    finally:
        context.close()
        hostile.stop()

    after = _api(base, "GET", f"/api/portfolios/{pid}/transactions")["transactions"]
    assert after == before  # nothing imported
    assert any(p["id"] == pid for p in _api(base, "GET", "/api/portfolios")["portfolios"])  # nor deleted
