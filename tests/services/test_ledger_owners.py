"""Owner scoping (Ledger.for_owner): through alice's view bob's portfolio is a NotFoundError, exactly like one that
never existed, for every method of the ledger that takes a portfolio id, for the payload builders on her view
(DashboardData.for_ledger, Services.for_owner) and for the shared replay memo (PortfolioLoader)."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from services.container import Services, build_services
from services.ledger import Ledger
from services.models import NotFoundError, ValidationError
from services.portfolio_load import PortfolioLoader
from services.providers.demo import DemoProvider
from tests.fakes import make_clock, make_settings

HEADER = "date,ticker,type,quantity,price,fees,note"
CSV = f"{HEADER}\n2024-03-01,MSFT,BUY,1,300,0,imported\n"


class World:
    """Alice and Bob, each with a portfolio; Bob's holds two transactions."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.alice, self.bob = ledger.for_owner("alice"), ledger.for_owner("bob")
        self.alices = self.alice.create_portfolio("Alice's")
        self.bobs = self.bob.create_portfolio("Bob's")
        self.first = self.bob.add_transaction(self.bobs.id, {
            "date": "2024-01-02", "ticker": "AAPL", "type": "BUY", "quantity": "10", "price": "100.25",
            "fees": "1.5", "note": "first"})
        self.second = self.bob.add_transaction(self.bobs.id, {
            "date": "2024-02-01", "ticker": "KO", "type": "BUY", "quantity": "3", "price": "60", "fees": "0"})

    def bob_state(self) -> tuple:
        """Everything about bob's portfolio, read through the unscoped ledger."""
        return (self.ledger.get_portfolio(self.bobs.id), self.ledger.list_transactions(self.bobs.id),
                self.ledger.version(self.bobs.id))


@pytest.fixture
def world(ledger: Ledger) -> World:
    return World(ledger)


# Each public method taking a portfolio id, called with arguments that succeed for the portfolio's owner: so a
# NotFoundError through another owner's view comes from the owner check and nothing else.
CALLS: dict[str, Callable[[Ledger, World], object]] = {
    "get_portfolio": lambda view, w: view.get_portfolio(w.bobs.id),
    "rename_portfolio": lambda view, w: view.rename_portfolio(w.bobs.id, "Renamed"),
    "delete_portfolio": lambda view, w: view.delete_portfolio(w.bobs.id),
    "version": lambda view, w: view.version(w.bobs.id),
    "portfolio_and_version": lambda view, w: view.portfolio_and_version(w.bobs.id),
    "list_transactions": lambda view, w: view.list_transactions(w.bobs.id),
    "add_transaction": lambda view, w: view.add_transaction(w.bobs.id, {
        "date": "2024-03-01", "ticker": "MSFT", "type": "BUY", "quantity": "1", "price": "300"}),
    "get_transaction": lambda view, w: view.get_transaction(w.bobs.id, w.first.id),
    "update_transaction": lambda view, w: view.update_transaction(w.bobs.id, w.first.id, {"quantity": "11"}),
    "delete_transaction": lambda view, w: view.delete_transaction(w.bobs.id, w.second.id),
    "import_csv": lambda view, w: view.import_csv(w.bobs.id, CSV),
    "import_transactions": lambda view, w: view.import_transactions(w.bobs.id, CSV, idempotency_key="k"),
    "export_csv": lambda view, w: view.export_csv(w.bobs.id),
    "portfolio_tickers": lambda view, w: view.portfolio_tickers(w.bobs.id),
    "set_base_currency": lambda view, w: view.set_base_currency(w.bobs.id, "EUR", clear_fx_rates=True),
    "set_benchmark": lambda view, w: view.set_benchmark(w.bobs.id, "^IXIC"),
}


def _public_methods_taking_a_portfolio_id() -> set[str]:
    return {name for name, member in inspect.getmembers(Ledger, inspect.isfunction)
            if not name.startswith("_") and "portfolio_id" in inspect.signature(member).parameters}


def test_the_table_covers_every_public_method_taking_a_portfolio_id() -> None:
    # A new method that takes a portfolio id fails here until it is added to CALLS (and so checked below).
    assert _public_methods_taking_a_portfolio_id() == set(CALLS)
    assert len(CALLS) == 16


@pytest.mark.parametrize("method", sorted(CALLS))
def test_another_owners_portfolio_is_not_found_and_unchanged(ledger: Ledger, world: World, method: str) -> None:
    changes: list[int] = []
    ledger.add_listener(changes.append)
    before = world.bob_state()
    with pytest.raises(NotFoundError) as refused:
        CALLS[method](world.alice, world)
    assert str(world.bobs.id) in str(refused.value)
    assert world.bob_state() == before
    assert changes == []  # no cache was told of a change
    # Alice's own portfolio is untouched as well.
    assert world.alice.list_portfolios() == [world.alices]
    assert world.alice.list_transactions(world.alices.id) == []


@pytest.mark.parametrize("method", sorted(CALLS))
def test_the_same_call_succeeds_for_the_owner(world: World, method: str) -> None:
    """The control of the test above: the arguments are good ones."""
    CALLS[method](world.bob, world)


@pytest.mark.parametrize("method", sorted(CALLS))
def test_another_owners_id_answers_like_one_that_never_existed(world: World, method: str) -> None:
    with pytest.raises(NotFoundError) as stranger:
        CALLS[method](world.alice, world)
    missing_id = world.bobs.id + 1000
    never = SimpleNamespace(bobs=SimpleNamespace(id=missing_id), first=world.first, second=world.second)
    with pytest.raises(NotFoundError) as unknown:
        CALLS[method](world.alice, never)  # type: ignore[arg-type]
    assert str(stranger.value) == str(unknown.value).replace(str(missing_id), str(world.bobs.id))


def test_a_transaction_of_anothers_portfolio_is_not_reachable_through_ones_own(world: World) -> None:
    before = world.bob_state()
    with pytest.raises(NotFoundError):
        world.alice.get_transaction(world.alices.id, world.first.id)
    with pytest.raises(NotFoundError):
        world.alice.update_transaction(world.alices.id, world.first.id, {"quantity": "1"})
    with pytest.raises(NotFoundError):
        world.alice.delete_transaction(world.alices.id, world.first.id)
    assert world.bob_state() == before


def test_the_unscoped_ledger_reaches_every_owners_portfolio(ledger: Ledger, world: World) -> None:
    assert ledger.get_portfolio(world.bobs.id).owner_id == "bob"
    assert ledger.get_portfolio(world.alices.id).owner_id == "alice"
    assert ledger.portfolio_tickers(world.bobs.id) == {"AAPL": dt.date(2024, 1, 2), "KO": dt.date(2024, 2, 1)}


# --- listing ----------------------------------------------------------------------------------------------------

def test_a_view_lists_only_its_owners_portfolios(ledger: Ledger) -> None:
    alice, bob = ledger.for_owner("alice"), ledger.for_owner("bob")
    a1 = alice.create_portfolio("One")
    b1 = bob.create_portfolio("Bob one")
    local = ledger.create_portfolio("Local")
    a2 = alice.create_portfolio("Two")
    assert (a1.owner_id, b1.owner_id, local.owner_id) == ("alice", "bob", "local")
    assert alice.list_portfolios() == [a1, a2]
    assert bob.list_portfolios() == [b1]
    assert alice.portfolio_ids() == [a1.id, a2.id]
    assert bob.portfolio_ids() == [b1.id]
    assert ledger.for_owner("carol").list_portfolios() == []
    assert ledger.for_owner("carol").portfolio_ids() == []
    # The unscoped ledger lists the local user's portfolios, but its ids cover every owner (the warm-up's).
    assert ledger.list_portfolios() == [local]
    assert ledger.portfolio_ids() == sorted([a1.id, b1.id, local.id, a2.id])
    assert ledger.for_owner("local").list_portfolios() == [local]


def test_a_view_needs_an_owner(ledger: Ledger) -> None:
    with pytest.raises(ValueError):
        ledger.for_owner("")


def test_names_are_unique_per_owner_only(ledger: Ledger) -> None:
    alice, bob = ledger.for_owner("alice"), ledger.for_owner("bob")
    alices = alice.create_portfolio("Main")
    bobs = bob.create_portfolio("Main")  # the same name for another owner is fine
    local = ledger.create_portfolio("main")
    assert (alices.name, bobs.name, local.name) == ("Main", "Main", "main")
    with pytest.raises(ValidationError) as refused:
        alice.create_portfolio("  MAIN ")
    assert [e.field for e in refused.value.errors] == ["name"]
    other = alice.create_portfolio("Other")
    with pytest.raises(ValidationError) as renamed:
        alice.rename_portfolio(other.id, "main")
    assert [e.field for e in renamed.value.errors] == ["name"]
    bob_other = bob.create_portfolio("Bob other")
    assert bob.rename_portfolio(bob_other.id, "Other").name == "Other"  # alice's name, bob's portfolio
    assert [p.name for p in alice.list_portfolios()] == ["Main", "Other"]
    assert [p.name for p in bob.list_portfolios()] == ["Main", "Other"]


# --- the payload builders and the services ---------------------------------------------------------------------

SATURDAY = dt.datetime(2025, 11, 29, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    settings = make_settings(tmp_path, price_provider="demo", demo_mode=False, seed_sample=False,
                             price_wait_s=0.0)
    clock = make_clock(lambda: SATURDAY, settings)
    built = build_services(settings, clock=clock, provider=DemoProvider(clock))
    yield built
    built.close()


@pytest.fixture
def two_owners(services: Services) -> tuple[int, int]:
    """Alice's and Bob's portfolio ids, each with a ledger."""
    alice, bob = services.ledger.for_owner("alice"), services.ledger.for_owner("bob")
    alices, bobs = alice.create_portfolio("Alice's").id, bob.create_portfolio("Bob's").id
    alice.import_csv(alices, f"{HEADER}\n2024-03-01,AAPL,BUY,2,100,0,\n")
    bob.import_csv(bobs, f"{HEADER}\n2024-03-01,KO,BUY,3,60,0,\n")
    return alices, bobs


BUILDERS: dict[str, Callable[[object, int], object]] = {
    "initial": lambda d, pid: d.initial(pid),
    "initial_data": lambda d, pid: d.initial_data(pid),
    "holdings": lambda d, pid: d.holdings(pid, wait_s=0),
    "holdings_data": lambda d, pid: d.holdings_data(pid, wait_s=0),
    "chart": lambda d, pid: d.chart(pid, "1Y", wait_s=0),
    "chart_data": lambda d, pid: d.chart_data(pid, "1Y", wait_s=0),
    "progress": lambda d, pid: d.progress(pid),
    "chart_progress": lambda d, pid: d.chart_progress(pid),
    "load": lambda d, pid: d.load(pid),
}


@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_payload_builders_on_a_view_refuse_another_owners_portfolio(
        services: Services, two_owners: tuple[int, int], builder: str) -> None:
    alices, bobs = two_owners
    as_bob = services.dashboard.for_ledger(services.ledger.for_owner("bob"))
    BUILDERS[builder](as_bob, bobs)  # the owner gets an answer (and the memo holds bob's portfolio now)
    as_alice = services.dashboard.for_ledger(services.ledger.for_owner("alice"))
    with pytest.raises(NotFoundError):
        BUILDERS[builder](as_alice, bobs)
    BUILDERS[builder](as_alice, alices)
    # The unscoped builders (the background generator's) still reach both.
    BUILDERS[builder](services.dashboard, bobs)


@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_services_for_owner_refuse_another_owners_portfolio(
        services: Services, two_owners: tuple[int, int], builder: str) -> None:
    alices, bobs = two_owners
    alice, bob = services.for_owner("alice"), services.for_owner("bob")
    BUILDERS[builder](bob.dashboard, bobs)
    with pytest.raises(NotFoundError):
        BUILDERS[builder](alice.dashboard, bobs)
    with pytest.raises(NotFoundError):
        BUILDERS[builder](bob.dashboard, alices)
    BUILDERS[builder](alice.dashboard, alices)


def test_services_for_owner_scope_the_ledger_and_share_the_rest(
        services: Services, two_owners: tuple[int, int]) -> None:
    alices, bobs = two_owners
    alice = services.for_owner("alice")
    assert [p.id for p in alice.ledger.list_portfolios()] == [alices]
    assert alice.ledger.portfolio_ids() == [alices]
    with pytest.raises(NotFoundError):
        alice.ledger.list_transactions(bobs)
    assert alice.dashboard.ledger is alice.ledger
    assert (alice.prices, alice.charts, alice.cache) == (services.prices, services.charts, services.cache)
    assert alice.dashboard.loader is services.dashboard.loader  # one memo per process
    assert services.ledger.owner_id is None  # the original services stay unscoped
    assert services.ledger.portfolio_ids() == sorted([alices, bobs])


def test_a_refused_chart_request_asks_for_no_chart(services: Services, two_owners: tuple[int, int],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _, bobs = two_owners
    requested: list[int] = []

    def request(portfolio_id: int, *args: object, **kwargs: object) -> Future:
        requested.append(portfolio_id)
        done: Future = Future()
        done.set_result(None)
        return done

    monkeypatch.setattr(services.charts, "request", request)
    services.charts.store.invalidate(bobs)
    alice = services.for_owner("alice")
    for call in (lambda: alice.dashboard.chart(bobs, "1Y", wait_s=0), lambda: alice.dashboard.progress(bobs)):
        with pytest.raises(NotFoundError):
            call()
    assert requested == []
    services.for_owner("bob").dashboard.chart(bobs, "1Y", wait_s=0)  # the control: the owner's asks for it
    assert requested == [bobs]


def test_the_loader_refuses_another_owner_even_with_the_portfolio_in_its_memo(ledger: Ledger) -> None:
    alice, bob = ledger.for_owner("alice"), ledger.for_owner("bob")
    bobs = bob.create_portfolio("Bob's")
    bob.import_csv(bobs.id, f"{HEADER}\n2024-01-02,AAPL,BUY,10,100.5,0,\n2024-02-01,AAPL,SELL,4,110,0,\n")
    loader = PortfolioLoader(ledger)
    loaded = loader.load(bobs.id, bob)
    # By hand: 10 bought at 100.50, 4 sold at 110: 6 held at a cost of 6 x 100.50 = 603.00, 4 x 9.50 = 38 gained.
    assert loaded.open_tickers == ("AAPL",)
    position = loaded.positions["AAPL"]
    assert (position.quantity, position.cost_basis, position.realized_gain) == (
        Decimal("6"), Decimal("603.00"), Decimal("38.00"))
    assert bobs.id in loader._memo  # memoized, so only the owner check can refuse what follows
    with pytest.raises(NotFoundError):
        loader.load(bobs.id, alice)
    # The memo is left as it was: bob's next load is served from it.
    assert loader.load(bobs.id, bob).positions is loaded.positions
    assert loader.load(bobs.id).portfolio == bobs  # the unscoped ledger (the chart generator's) still sees it
