"""The CSV upload of the transactions page at its size limit, in headless Chromium (issue 13, item 6).

dcc.Upload sends the file base64-encoded inside a Dash callback's JSON, 4/3 of its size: a file between ~3.75 and
5 MB once made that body larger than the server's 5 MB request limit, and the import failed with no message. And
its `max_size` drops a larger file without a word. Now a file up to MAX_UPLOAD_BYTES imports through the page, and a
larger one is refused with a message that names the limit, seen as a person sees it (colour against background).
"""

from __future__ import annotations

import time

import pytest

from tests.browser.test_transactions import _api, _ledger, _open, _portfolio, assert_visible

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # the demo server's default (services/config.py)
HEADER = b"date,ticker,type,quantity,price,fees,note\n"


def _csv_of(size: int) -> tuple[bytes, int]:
    """A valid ledger CSV (BUYs only, long notes: few rows) of exactly `size` bytes, and its number of rows."""
    note = b"n" * 440
    rows, body = 0, bytearray(HEADER)
    while len(body) + 600 < size:
        body += b"2024-01-%02d,AAPL,BUY,1,100,0,%s\n" % (rows % 28 + 1, note)
        rows += 1
    filler = size - len(body) - len(b"2024-01-02,MSFT,BUY,1,100,0,\n")
    body += b"2024-01-02,MSFT,BUY,1,100,0,%s\n" % (b"m" * filler)
    assert len(body) == size and filler <= 500
    return bytes(body), rows + 1


def _upload(page, name: str, body: bytes) -> None:
    page.set_input_files("#csv-upload input[type=file]",
                         files=[{"name": name, "mimeType": "text/csv", "buffer": body}])


def test_a_file_just_under_the_limit_imports_through_the_page(page, app_server):
    pid, _, _ = _portfolio(app_server, ("2024-01-01", "KO", "BUY", "1", "60"))
    body, rows = _csv_of(int(4.5 * 1024 * 1024))
    callbacks = []
    page.on("response", lambda response: callbacks.append(response.status)
            if response.url.endswith("/_dash-update-component") and response.request.method == "POST" else None)
    _open(page, pid)
    started = time.monotonic()
    _upload(page, "big.csv", body)
    # The success message, then the ledger through the API: every row is there.
    assert_visible(page, "#csv-upload-result .alert", f"Imported {rows} transactions from big.csv.")
    assert len(_ledger(app_server, pid)) == 1 + rows
    assert 413 not in callbacks, callbacks
    print(f"4.5 MB upload ({rows} rows) imported through the page in {time.monotonic() - started:.1f} s")
    assert page.problems == []


def test_a_file_over_the_limit_says_so_and_imports_nothing(page, app_server):
    pid, _, _ = _portfolio(app_server, ("2024-01-01", "KO", "BUY", "1", "60"))
    body, _ = _csv_of(6 * 1024 * 1024)
    sent = []
    page.on("request", lambda request: sent.append(len(request.post_data_buffer or b""))
            if request.url.endswith("/_dash-update-component") else None)
    _open(page, pid)
    _upload(page, "huge.csv", body)
    seen = assert_visible(page, "#csv-upload-result .alert", "Nothing was imported")
    assert "\u201chuge.csv\u201d is 6 MB" in seen["text"], seen
    assert "the largest file that can be imported is 5 MB" in seen["text"], seen
    time.sleep(1)  # long enough for an upload that was going to be sent to be sent
    assert not [size for size in sent if size > MAX_UPLOAD_BYTES], sent  # the file was never sent
    assert len(_ledger(app_server, pid)) == 1
    # A file within the limit afterwards still imports (the message makes way for the result).
    _upload(page, "small.csv", HEADER + b"2024-02-01,MSFT,BUY,2,300,0,\n")
    assert_visible(page, "#csv-upload-result .alert", "Imported 1 transaction from small.csv.")
    assert len(_ledger(app_server, pid)) == 2
    assert page.problems == []


def test_the_page_names_the_limit_next_to_the_upload(page, app_server):
    pid, _, _ = _portfolio(app_server, ("2024-01-01", "KO", "BUY", "1", "60"))
    _open(page, pid)
    assert "at most 5 MB" in page.inner_text("#csv-upload-result >> xpath=..")
    assert _api(app_server, "GET", f"/api/portfolios/{pid}/transactions")["transactions"]
