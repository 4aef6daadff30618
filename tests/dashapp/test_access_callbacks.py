"""Owner scoping of the Dash callbacks: bob sends alice's portfolio id through every callback that takes one.

The table comes from the registered callbacks (/_dash-dependencies): every server-side callback with an input or
state that carries a portfolio id (the CURRENT_PORTFOLIO store, the PRICES_PENDING / CHART_PENDING stores, the
router's location) is called as Dash's renderer calls it, with a realistic value for every other input, and
background callbacks are polled until their job ends. Bob's answer must be the answer for a portfolio that does
not exist (but for the id), must carry none of alice's data, and alice's ledger must be unchanged. The same bodies
sent by alice on her own portfolio find her data and change it, so the checks can fail.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from typing import Any

import pytest

from dashapp import ids
from dashapp.components.broker_import import MAPPED
from tests.dashapp.test_access import (
    ALICE_CSV,
    ALICE_NAME,
    MISSING_PID,
    MISSING_TID,
    ORIGIN,
    World,
    build_world,
    created,
    leaked,
)

ROUTER = "_pages_location"  # Dash Pages' own dcc.Location: the page path and its ?portfolio=
# The (component, property) pairs that carry a portfolio id into a callback.
CARRIERS = {(ids.CURRENT_PORTFOLIO, "data"), (ids.PRICES_PENDING, "data"), (ids.CHART_PENDING, "data"),
            (ROUTER, "pathname"), (ROUTER, "search"), (ids.URL, "pathname"), (ids.URL, "search"), (ids.URL, "href"),
            (ids.HOLDING_KEY, "data"), (ids.CLOSED_KEY, "data")}
# The callbacks known to take one today: a refactor that loses one from the table fails here.
KNOWN = {"sync_shell", "fill_ledger", "submit_transaction", "edit_or_cancel", "delete_transactions", "import_upload",
         "import_pending", "save_mapping",
         "download_csv", "rename_portfolio", "delete_portfolio", "fill_summary", "refill_summary", "fill_holdings",
         "refill_holdings", "wait_for_prices", "fill_allocation", "refill_allocation", "fill_chart", "refill_chart",
         "redraw_chart_with_prices", "wait_for_chart", "update", "change_base_currency",
         "fill_split_warnings", "refill_split_warnings", "fix_split", "fill_holding", "fill_closed",
         "count_closed", "change_benchmark"}  # update: Dash Pages' router
WRITES = {"submit_transaction", "delete_transactions", "import_upload", "import_pending", "rename_portfolio",
          "delete_portfolio", "change_base_currency", "change_benchmark"}
NONCE = "0123456789abcdef0123456789abcdef"
UPLOAD_CSV = "date,ticker,type,quantity,price\n2025-03-03,BOBT,BUY,1,150\n"
# A broker's file waiting for its column mapping (the Custom columns form), and that form filled in.
CUSTOM_HEADER = ["Trade Date", "Symbol", "Action", "Qty", "Price"]
CUSTOM_CSV = "Trade Date,Symbol,Action,Qty,Price\n2025-03-04,BOBT,Buy,2,151\n"
CUSTOM_COLUMNS = {"date": "Trade Date", "ticker": "Symbol", "type": "Action", "quantity": "Qty", "price": "Price"}
CUSTOM_WORDS = {"BUY": "Buy", "SELL": "Sell", "DIVIDEND": "Dividend", "SPLIT": "Split"}
POLL_TIMEOUT_S = 30


COLUMNS = [column for column, _, _ in MAPPED]


def _pattern(kind: str, key: str) -> str:
    """The id of an ALL pattern as /_dash-dependencies writes it."""
    return json.dumps({key: ["ALL"], "type": kind}, separators=(",", ":"), sort_keys=True)


def _matched(kind: str, key: str, name: str, prop: str, value: Any) -> dict:
    return {"id": {"type": kind, key: name}, "property": prop, "value": value}


def values(pid: int, tid: int, name: str) -> dict[tuple[str, str], list[Any]]:
    """What each input and state holds when its callback runs; a list of several is tried with each value."""
    table: dict[tuple[str, str], list[Any]] = {
        (ids.CURRENT_PORTFOLIO, "data"): [{"id": pid, "name": name, "base_currency": "USD"}],
        (ids.PRICES_PENDING, "data"): [{"portfolio_id": pid, "nonce": NONCE, "tickers": ["BOBT"]}],
        (ids.CHART_PENDING, "data"): [{"portfolio_id": pid, "nonce": NONCE, "range": "1Y"}],
        (ROUTER, "pathname"): ["/transactions", f"/portfolio/{pid}"],
        (ROUTER, "search"): [f"?portfolio={pid}"],
        (ids.URL, "pathname"): [f"/portfolio/{pid}"],
        (ids.PORTFOLIO_RENAMED, "data"): [0],
        (ids.PRICES_READY, "data"): [NONCE],
        (ids.CHART_READY, "data"): [NONCE],
        (ids.CHART_RANGE, "data"): ["1Y"],
        (ids.CHART_MODE, "data"): ["value", "performance"],
        (ids.BENCHMARK_APPLY, "n_clicks"): [1],
        (ids.BENCHMARK_INPUT, "value"): ["^IXIC"],
        (ids.REFRESH_PRICES, "n_clicks"): [None],
        (ids.TXN_VERSION, "data"): [1],
        (ids.TXN_SUBMIT, "n_clicks"): [1],
        (ids.TXN_EDITING, "data"): [None, tid],  # adding, and editing alice's transaction
        (ids.TXN_EDIT, "n_clicks"): [1],
        (ids.TXN_CANCEL, "n_clicks"): [None],
        (ids.TXN_TABLE, "selectedRows"): [[{"id": tid}]],
        (ids.TXN_DELETE_CONFIRM, "submit_n_clicks"): [1],
        (ids.CSV_UPLOAD, "contents"): ["data:text/csv;base64," + base64.b64encode(UPLOAD_CSV.encode()).decode()],
        (ids.CSV_UPLOAD, "filename"): ["bob.csv"],
        (ids.CSV_DOWNLOAD_BUTTON, "n_clicks"): [1],
        (ids.PORTFOLIO_RENAME, "n_clicks"): [1],
        (ids.PORTFOLIO_RENAME_NAME, "value"): ["Renamed by bob"],
        (ids.PORTFOLIO_DELETE_CONFIRM, "submit_n_clicks"): [1],
        (ids.PORTFOLIO_BASE_APPLY, "n_clicks"): [1],
        (ids.PORTFOLIO_BASE_CURRENCY, "value"): ["EUR"],
        # fix_split is not in WRITES: alice's scratch ledger has no split to fix, so the check is that bob's
        # request answers as for a missing portfolio and changes nothing.
        (ids.SPLIT_FIX_REQUEST, "data"): [{"ticker": "BOBT", "date": "2025-03-03", "nonce": NONCE}],
        (ids.HOLDING_KEY, "data"): [{"portfolio_id": str(pid), "ticker": "BOBT"}],
        (ids.CLOSED_KEY, "data"): [str(pid)],
        (ids.HOLDING_POLL, "n_intervals"): [0],
        (ids.IMPORT_FORMAT, "value"): ["mystocktracker"],
        (ids.IMPORT_RUN, "n_clicks"): [1],
        (ids.IMPORT_SAVE, "n_clicks"): [1],
        (ids.IMPORT_PENDING, "data"): [{"text": CUSTOM_CSV, "filename": "bob.csv", "header": CUSTOM_HEADER}],
        (ids.IMPORT_DATE_FORMAT, "value"): ["YYYY-MM-DD"],
        # Pattern-matching (ALL) states: each is the whole list of matched components, as the renderer sends it.
        (_pattern(ids.IMPORT_COLUMN, "column"), "value"): [
            [_matched(ids.IMPORT_COLUMN, "column", c, "value", CUSTOM_COLUMNS.get(c, "")) for c in COLUMNS]],
        (_pattern(ids.IMPORT_COLUMN, "column"), "id"): [
            [_matched(ids.IMPORT_COLUMN, "column", c, "id", {"type": ids.IMPORT_COLUMN, "column": c})
             for c in COLUMNS]],
        (_pattern(ids.IMPORT_ACTION, "kind"), "value"): [
            [_matched(ids.IMPORT_ACTION, "kind", k, "value", w) for k, w in CUSTOM_WORDS.items()]],
        (_pattern(ids.IMPORT_ACTION, "kind"), "id"): [
            [_matched(ids.IMPORT_ACTION, "kind", k, "id", {"type": ids.IMPORT_ACTION, "kind": k})
             for k in CUSTOM_WORDS]],
    }
    # The form as bob fills it: a BUY (a SELL would be refused for want of shares, scoped or not).
    form = {"date": "2025-03-03", "ticker": "BOBT", "type": "BUY", "quantity": "1", "price": "150", "fees": "0",
            "note": "bob was here", "currency": "", "fx_rate": ""}
    table.update({(ids.txn_input(field), "value"): [form[field]] for field in ids.TXN_FIELDS})
    return table


def _outputs(output: str) -> list[dict]:
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    found = []
    for part in parts:
        component, _, prop = part.rpartition(".")
        found.append({"id": component, "property": prop.split("@", 1)[0]})
    return found


def scoped_callbacks(world: World) -> list[dict]:
    """Every server-side callback with a portfolio-carrying input or state, from the registered callbacks."""
    dependencies = world.alice.get("/_dash-dependencies").get_json()
    found = []
    for dependency in dependencies:
        registered = world.app.callback_map.get(dependency["output"], {})
        if dependency["clientside_function"] or "callback" not in registered:
            continue
        items = dependency["inputs"] + dependency["state"]
        if any((item["id"], item["property"]) in CARRIERS for item in items):
            found.append({**dependency, "name": registered["callback"].__name__,
                          "background": bool(registered.get("background"))})
    return found


def _item(item: dict, chosen: dict) -> dict | list:
    """An input or state as the renderer sends it: {id, property, value}, or for a pattern the matched list."""
    value = chosen[(item["id"], item["property"])]
    return value if item["id"].startswith("{") else {**item, "value": value}


def bodies(dependency: dict, pid: int, tid: int, name: str) -> list[dict]:
    """The callback's request bodies as the renderer builds them, one for each combination of tried values."""
    table = values(pid, tid, name)
    items = dependency["inputs"] + dependency["state"]
    unknown = [f"{i['id']}.{i['property']}" for i in items if (i["id"], i["property"]) not in table]
    assert not unknown, f"{dependency['name']}: add the values of {unknown} to values()"
    keys = list(dict.fromkeys((i["id"], i["property"]) for i in items))
    outputs = _outputs(dependency["output"])
    trigger = dependency["inputs"][0]
    found = []
    for combination in itertools.product(*(table[key] for key in keys)):
        chosen = dict(zip(keys, combination, strict=True))
        found.append({
            "output": dependency["output"],
            "outputs": outputs if dependency["output"].startswith("..") else outputs[0],
            "inputs": [_item(i, chosen) for i in dependency["inputs"]],
            "state": [_item(i, chosen) for i in dependency["state"]],
            "changedPropIds": [f"{trigger['id']}.{trigger['property']}"],
        })
    return found


def call(client, body: dict, background: bool) -> tuple[int, str, list[str]]:
    """(status, text) of the callback's answer, and every answer seen on the way (a background job's polls)."""
    response = client.post("/_dash-update-component", json=body, headers=ORIGIN)
    seen = [response.get_data(as_text=True)]
    if not background or response.status_code != 200:
        return response.status_code, seen[-1], seen
    handle = response.get_json()
    assert set(handle) >= {"cacheKey", "job"}, handle
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while True:  # as the renderer polls: the same body, with the job's handles
        response = client.post(f"/_dash-update-component?cacheKey={handle['cacheKey']}&job={handle['job']}",
                               json=body, headers=ORIGIN)
        seen.append(response.get_data(as_text=True))
        if response.status_code != 200 or "response" in (response.get_json() or {}):
            return response.status_code, seen[-1], seen
        assert time.monotonic() < deadline, f"the job of {body['output']} did not end: {seen[-1]}"
        time.sleep(0.05)


def ledger_state(world: World, pid: int) -> dict:
    """The portfolio as stored (the unscoped ledger: what any user could have changed)."""
    ledger = world.services.ledger
    portfolio = ledger.get_portfolio(pid)
    return {"name": portfolio.name, "version": ledger.version(pid), "export": ledger.export_csv(pid),
            "portfolios": len(ledger.list_portfolios())}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("access-callbacks"))
    yield world
    world.services.close()


@pytest.fixture(scope="module")
def table(world):
    return scoped_callbacks(world)


def test_the_table_holds_every_callback_known_to_take_a_portfolio(table):
    names = {c["name"] for c in table}
    assert names >= KNOWN, sorted(KNOWN - names)
    assert {c["name"] for c in table if c["background"]} >= {"wait_for_prices", "wait_for_chart"}


def test_bob_gets_from_alices_portfolio_what_a_missing_one_gives_and_changes_nothing(world, table):
    before = ledger_state(world, world.pid)
    calls = 0
    for dependency in table:
        guessed = "Bob's guess"  # bob does not know alice's name: an answer naming her portfolio found it
        for body, missing_body in zip(bodies(dependency, world.pid, world.tid, guessed),
                                      bodies(dependency, MISSING_PID, MISSING_TID, guessed), strict=True):
            status, text, seen = call(world.bob, body, dependency["background"])
            for answer in seen:
                assert leaked(answer, world) == [], (dependency["name"], body["inputs"], answer[:2000])
            missing_status, missing_text, _ = call(world.bob, missing_body, dependency["background"])
            expected = missing_text.replace(str(MISSING_PID), str(world.pid)).replace(str(MISSING_TID),
                                                                                     str(world.tid))
            assert (status, text) == (missing_status, expected), (dependency["name"], body["inputs"])
            # A portfolio that is gone (or not yours) leaves the page as it is: never an HTML 500 (on_error).
            assert status < 500, (dependency["name"], status, text[:300])
            assert NONCE not in text or dependency["name"] not in {"wait_for_prices", "wait_for_chart"}
            assert ledger_state(world, world.pid) == before, f"{dependency['name']} by bob changed alice's ledger"
            calls += 1
    assert calls >= len(KNOWN) + 2  # submit_transaction (add, edit) and the router (two pages) twice, the rest once


def test_alices_same_requests_reach_her_data(world, table):
    """The control: the bodies above, sent by alice on her own portfolio, show her data (and the background
    waits end with their nonce), so the checks on bob's answers can fail."""
    shows = {"fill_ledger", "edit_or_cancel", "download_csv", "fill_summary", "fill_holdings", "refill_holdings",
             "update"}
    before = ledger_state(world, world.pid)
    reached = set()
    for dependency in table:
        if dependency["name"] in WRITES:
            continue
        for body in bodies(dependency, world.pid, world.tid, ALICE_NAME):
            status, text, _ = call(world.alice, body, dependency["background"])
            assert status in (200, 204), (dependency["name"], status, text[:500])
            body_text = text.replace(ALICE_NAME, "") if dependency["name"] != "update" else text
            if leaked(body_text, world):
                reached.add(dependency["name"])
            if dependency["background"]:
                assert json.loads(text)["response"] == {
                    body["outputs"]["id"]: {"data": NONCE}}, (dependency["name"], text)
    assert reached >= shows, sorted(shows - reached)
    assert ledger_state(world, world.pid) == before


def test_alices_write_callbacks_change_her_own_portfolio(world, table):
    """The control of "changes nothing": each write callback, sent by alice with her own scratch portfolio's ids,
    changes it (so the same body sent by bob would have changed alice's, were it not scoped)."""
    changed = set()
    for dependency in table:
        if dependency["name"] not in WRITES:
            continue
        for variant in range(len(bodies(dependency, 0, 0, ""))):
            pid = created(world.alice.post("/api/portfolios", json={"name": f"Scratch {dependency['name']} {variant}"},
                                           headers=ORIGIN))["portfolio"]["id"]
            world.alice.post(f"/api/portfolios/{pid}/import", data=ALICE_CSV, content_type="text/csv",
                             headers=ORIGIN)
            tid = world.alice.get(f"/api/portfolios/{pid}/transactions").get_json()["transactions"][-1]["id"]
            before = ledger_state(world, pid)
            status, text, _ = call(world.alice, bodies(dependency, pid, tid, "Scratch")[variant], False)
            assert status == 200, (dependency["name"], status, text[:500])
            try:
                after = ledger_state(world, pid)
            except Exception:  # deleted
                after = None
            if after != before:
                changed.add((dependency["name"], variant))
            if after is not None:
                world.alice.delete(f"/api/portfolios/{pid}", headers=ORIGIN)
    assert {name for name, _ in changed} == WRITES
    assert ("submit_transaction", 0) in changed and ("submit_transaction", 1) in changed  # add, and edit
    assert world.services.ledger.get_portfolio(world.pid).name == ALICE_NAME
