"""Case 3b: every JSON endpoint fuzzed from the OpenAPI description: no 5xx, every error JSON with "error", every
answer one the description documents, in the shape it documents.

In process (Flask's test client on a real SQLite file and diskcache, demo prices): hundreds of requests a second.
"""

from __future__ import annotations

import io
import json
import re
import time
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from dashapp.openapi import openapi_spec
from services.value_series import RANGES
from tests.faults.openapi_client import SPEC, Operation, check_answer, json_body_strategy, operations
from tests.faults.support import make_api, report

OPERATIONS = list(operations())
EXAMPLES_PER_OPERATION = 40
FUZZ = settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])
SEGMENT = st.text(st.characters(blacklist_characters="/%?#", blacklist_categories=("Cs",)), min_size=1, max_size=12)
TALLY = {"requests": 0, "statuses": {}, "slowest": 0.0}

pytestmark = pytest.mark.slow  # hundreds of hypothesis examples: several seconds


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    client, services = make_api(tmp_path_factory.mktemp("fuzz"), price_wait_s=0.2)
    yield client, services
    services.close()
    counts = ", ".join(f"{n} x {s}" for s, n in sorted(TALLY["statuses"].items()))
    report("API fuzz", f"{TALLY['requests']} requests over {len(OPERATIONS)} documented operations "
                       f"({EXAMPLES_PER_OPERATION} hypothesis examples each) -> {counts}; 0 x 5xx, every answer as "
                       f"documented; slowest {TALLY['slowest']:.2f} s")


def _live_ids(client) -> tuple[int, int]:
    """A portfolio with two transactions (fuzzing deletes them: made again when gone)."""
    portfolios = client.get("/api/portfolios").get_json()["portfolios"]
    pid = portfolios[0]["id"] if portfolios else client.post("/api/portfolios", json={"name": "Fuzz"}).get_json()[
        "portfolio"]["id"]
    transactions = client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"]
    if not transactions:
        for body in ({"date": "2024-01-02", "ticker": "AAPL", "type": "BUY", "quantity": 5, "price": 100},
                     {"date": "2024-02-01", "ticker": "VOD.L", "type": "BUY", "quantity": 50, "price": 0.7}):
            client.post(f"/api/portfolios/{pid}/transactions", json=body)
        transactions = client.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"]
    return pid, transactions[-1]["id"]


def _path_value(draw, live: int) -> str:
    value = draw(st.one_of(*[st.just(live)] * 4, st.integers(0, 2**70), SEGMENT))
    return quote(str(value), safe="")


def _send(client, operation: Operation, path: str, *, method: str | None = None, **kwargs):
    started = time.perf_counter()
    response = client.open(path, method=(method or operation.method).upper(), **kwargs)
    seconds = time.perf_counter() - started
    TALLY["requests"] += 1
    TALLY["statuses"][response.status_code] = TALLY["statuses"].get(response.status_code, 0) + 1
    TALLY["slowest"] = max(TALLY["slowest"], seconds)
    return response


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
@FUZZ
@given(data=st.data())
def test_every_operation_answers_as_documented(fuzz_app, operation: Operation, data):
    client, _services = fuzz_app
    pid, tid = _live_ids(client)
    path = operation.path
    for parameter in operation.parameters:
        if parameter["in"] == "path":
            live = pid if parameter["name"] == "portfolio_id" else tid
            path = path.replace("{" + parameter["name"] + "}", _path_value(data.draw, live))
    query = {}
    if any(p["name"] == "range" for p in operation.parameters):
        chosen = data.draw(st.one_of(st.none(), st.sampled_from([*RANGES, *(r.lower() for r in RANGES)]),
                                     st.text(max_size=8)))
        if chosen is not None:
            query["range"] = chosen
    kwargs: dict = {"query_string": query}
    if "text/csv" in operation.body_types:
        kind = data.draw(st.sampled_from(["raw", "multipart", "none"]))
        raw = data.draw(st.one_of(
            st.binary(max_size=300),
            st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
            st.just(b"date,ticker,type,quantity,price\n2024-03-01,MSFT,BUY,1,300\n"),
        ))
        if kind == "raw":
            kwargs.update(data=raw, content_type="text/csv")
        elif kind == "multipart":
            field = data.draw(st.sampled_from(["file", "other"]))
            kwargs.update(data={field: (io.BytesIO(raw), "upload.csv")}, content_type="multipart/form-data")
    elif operation.body_types:
        raw, content_type = data.draw(json_body_strategy(operation))
        if raw is not None:
            kwargs.update(data=raw, content_type=content_type)
    response = _send(client, operation, path, **kwargs)
    problems = check_answer(operation, response.status_code, response.content_type or "", response.data)
    assert not problems, (path, kwargs.get("data", b"")[:300] if isinstance(kwargs.get("data"), bytes) else "",
                          problems)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
       segments=st.lists(SEGMENT, min_size=1, max_size=4))
def test_any_path_under_the_api_answers_json(fuzz_app, method, segments):
    client, _ = fuzz_app
    path = "/api/" + "/".join(quote(s, safe="") for s in segments)
    response = _send(client, OPERATIONS[0], path, method=method, data=b"{}", content_type="application/json")
    assert response.status_code < 500, (method, path, response.data[:300])
    if response.status_code >= 400:
        assert response.mimetype == "application/json", (method, path, response.data[:200])
        assert isinstance(response.get_json().get("error"), str)


def test_the_description_is_valid_openapi_served_as_json_and_covers_every_route(fuzz_app):
    client, _ = fuzz_app
    validate(openapi_spec())
    served = client.get("/api/openapi.json")
    assert served.status_code == 200 and served.mimetype == "application/json"
    assert json.loads(served.data) == SPEC
    routes = set()
    for rule in client.application.url_map.iter_rules():
        if not rule.rule.startswith(("/api/", "/healthz", "/metrics")) or "<path:" in rule.rule:
            continue  # the Dash routes, and the catch-all that answers unknown API paths with a JSON 404
        described = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        routes |= {(described, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == {(op.path, op.method) for op in OPERATIONS}
