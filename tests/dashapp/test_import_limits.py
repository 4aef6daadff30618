"""The transactions page's side of the input limits (issue 13, item 6): a rejection lists its first errors and says
how many more there are, and an upload over the limit is refused with the sizes people read (MB)."""

from __future__ import annotations

import base64

import pytest

from dashapp.components.static_html import to_html
from dashapp.components.transactions import (
    SHOWN_ERRORS,
    csv_errors_view,
    megabytes,
    too_large_text,
    transactions_page,
    upload_size,
)


def _errors(count: int) -> list[dict]:
    return [{"line": line, "field": "date", "message": "is required"} for line in range(2, 2 + count)]


def test_a_long_rejection_lists_the_first_errors_and_counts_the_rest():
    markup = to_html(csv_errors_view("95236 rows rejected", _errors(100), total=571_416))
    assert markup.count("<tr>") == 1 + SHOWN_ERRORS  # the head and 100 rows
    assert "and 571316 more errors not listed (the first 100 are)." in markup
    assert "<td>101</td>" in markup and "<td>102</td>" not in markup


def test_a_short_rejection_lists_every_error_and_no_more_line():
    markup = to_html(csv_errors_view("2 rows rejected", _errors(2), total=2))
    assert markup.count("<tr>") == 3
    assert "more error" not in markup
    assert "more error" not in to_html(csv_errors_view("2 rows rejected", _errors(2)))


def test_more_errors_than_shown_are_cut_even_without_a_total():
    markup = to_html(csv_errors_view("x", _errors(150)))
    assert markup.count("<tr>") == 1 + SHOWN_ERRORS
    assert "and 50 more errors not listed" in markup


@pytest.mark.parametrize(("size", "text"), [(5 * 2**20, "5 MB"), (int(4.5 * 2**20), "4.5 MB"), (6 * 2**20, "6 MB"),
                                            (64 * 1024, "0.1 MB"), (5 * 2**20 + 1, "5 MB")])
def test_megabytes(size, text):
    assert megabytes(size) == text


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 1000, 65_537])
def test_upload_size_is_the_decoded_size(size):
    contents = "data:text/csv;base64," + base64.b64encode(b"x" * size).decode()
    assert upload_size(contents) == size


def test_the_refusal_names_the_file_its_size_and_the_limit():
    assert too_large_text("huge.csv", 6 * 2**20, 5 * 2**20) == (
        "\u201chuge.csv\u201d is 6 MB; the largest file that can be imported is 5 MB. Split it into smaller files.")


def test_the_upload_holds_the_servers_limit_and_says_it():
    page = transactions_page({"id": 1, "name": "Main", "base_currency": "USD"}, today="2025-01-02",
                             max_upload_bytes=3 * 2**20)
    components = list(_walk(page))
    assert any(isinstance(c, str) and "at most 3 MB" in c for c in components)
    [upload] = [c for c in components if getattr(c, "id", None) == "csv-upload"]
    assert upload.max_size == 3 * 2**20


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if isinstance(child, str):
            yield child
        elif child is not None and not isinstance(child, int | float):
            yield from _walk(child)
