"""The faults the suite found, one example each (the property tests find them too, but a named case says which).

In process, through Flask's test client.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.price_cache import PriceCache


@pytest.fixture(scope="module")
def pid(api) -> int:
    client, _ = api
    return client.post("/api/portfolios", json={"name": "Regressions"}).get_json()["portfolio"]["id"]


@pytest.mark.parametrize("path", [
    "/api/portfolios/99999999999999999999999/transactions", "/api/dashboard-initial-data/99999999999999999999999",
    "/api/dashboard-chart-data/99999999999999999999999", "/api/chart-generator-progress/9223372036854775808",
    "/api/portfolios/18446744073709551616/export",
])
def test_an_id_beyond_64_bits_is_a_404_not_a_500(api, path):
    """sqlite3 raised OverflowError binding it."""
    client, _ = api
    response = client.get(path)
    assert response.status_code == 404 and response.get_json()["error"]


@pytest.mark.parametrize(("body", "field"), [
    (b'{"name": "a\\ud800b"}', "name"),  # a lone surrogate: the driver could not encode it (500)
    (b'{"name": "a\\u0000b"}', "name"),  # NUL: accepted on SQLite, refused by Postgres
    (b'{"name": "x", "base_currency": 5}', "base_currency"),  # was reported as a problem with "name"
])
def test_unstorable_portfolio_names_are_422_naming_the_field(api, body, field):
    client, _ = api
    response = client.post("/api/portfolios", data=body, content_type="application/json")
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


def test_a_note_with_a_lone_surrogate_is_422(api, pid):
    client, _ = api
    response = client.post(f"/api/portfolios/{pid}/transactions", content_type="application/json", data=(
        b'{"date": "2024-01-02", "ticker": "AAPL", "type": "BUY", "quantity": 1, "price": 1, "note": "x\\udfff"}'))
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["note"]


def test_a_multipart_upload_imports(api, pid):
    """The body was read before the form parser ran, which then found no file: every upload was 'empty'."""
    client, _ = api
    upload = io.BytesIO(b"date,ticker,type,quantity,price\n2024-01-02,AAPL,BUY,1,100\n")
    response = client.post(f"/api/portfolios/{pid}/import", data={"file": (upload, "ledger.csv")},
                           content_type="multipart/form-data")
    assert response.get_json() == {"imported": 1, "skipped_duplicates": 0, "warnings": []}


@pytest.mark.parametrize("raw", [
    b"\xef\xbb\xbfdate,ticker,type,quantity,price,note\n2024-01-02,AAPL,BUY,1,1,\n2024-01-03,AAPL,BUY,1,1,caf\xe9\n",
    b"date,ticker,type,quantity,price,note\r2024-01-02,AAPL,BUY,1,1,\r2024-01-03,AAPL,BUY,1,1,caf\xe9\r",
], ids=["BOM", "CR"])
def test_a_byte_that_is_not_utf8_is_named_at_its_line_after_a_bom_or_with_cr_line_ends(api, pid, raw):
    """After a BOM the codec counts from the byte after it (the line and byte shown were wrong); a CR alone
    (Excel for Mac) ends a line for the CSV reader, so it must for this message too."""
    client, _ = api
    line, offset = 3, raw.index(b"\xe9")
    response = client.post(f"/api/portfolios/{pid}/import", data=raw, content_type="text/csv")
    assert response.status_code == 422
    (error,) = response.get_json()["errors"]
    assert (error["line"], error["field"]) == (line, "file")
    assert f"byte 0xe9 at offset {offset}" in error["message"]


def test_concurrent_health_checks_all_find_the_cache_writable(tmp_path):
    """They shared one probe key and read each other's values: /healthz said 503 under load."""
    cache = PriceCache(tmp_path / "cache")
    try:
        with ThreadPoolExecutor(8) as pool:
            assert all(pool.map(lambda _: cache.writable(), range(400)))
    finally:
        cache.close()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    cache = PriceCache(tmp_path / "cache")
    try:
        cache.set("lock:fetch:AAPL", "999999999:0123abcd", expire=600)  # no such pid
        assert not cache.is_locked("fetch:AAPL")
        token = cache.try_lock("fetch:AAPL", 60)
        assert token is not None and cache.try_lock("fetch:AAPL", 60) is None  # ours now, and held
        cache.unlock("fetch:AAPL", token)
        assert cache.try_lock("fetch:AAPL", 60) is not None
    finally:
        cache.close()
