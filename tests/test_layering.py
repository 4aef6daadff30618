"""The layers' import rules (docs/ARCHITECTURE.md), read from the code's own imports.

- `services/` never imports dash, flask, werkzeug or dashapp: the services run under the API, the pages, the
  scheduler and the command line alike.
- The pure modules (portfolio arithmetic, market calendars, payload shapes, domain values) do no I/O: no
  database, cache, HTTP, file lock or subprocess, and no `open()`.
- The ledger knows no prices: it imports nothing of the price layer, the providers or the market clock.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "services"

WEB = ("dash", "flask", "werkzeug", "dashapp", "dash_ag_grid", "dash_bootstrap_components")
IO = ("sqlalchemy", "diskcache", "requests", "urllib", "http", "socket", "subprocess", "yfinance", "curl_cffi",
      "redis", "psycopg2", "fcntl", "shutil", "sqlite3", "services.ledger", "services.price_cache",
      "services.price_service", "services.store", "services.locks", "services.providers", "services.container")
PRICES = ("services.price", "services.store", "services.providers", "services.market_hours", "services.chart",
          "services.dashboard_data", "services.background_tasks", "yfinance")
# Modules (by the start of their name) that must stay pure.
PURE = ("analytics", "base_currency", "market_hours", "market_calendar", "value_series", "payloads", "models", "replay",
        "transaction_input", "csv_io", "returns")
LEDGER = ("ledger",)


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _imports(path: Path) -> list[str]:
    """Every module `path` imports, absolute (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path).rsplit(".", 1)[0] if path.is_relative_to(ROOT) else "services"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return found


def _calls_open(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open"
               for node in ast.walk(tree))


def _hits(names: list[str], banned: tuple[str, ...]) -> list[str]:
    return sorted({name for name in names for ban in banned if name == ban or name.startswith(ban + ".")
                   or (ban.startswith("services.") and name.startswith(ban))})


SERVICE_FILES = sorted(SERVICES.rglob("*.py"))


def test_the_rules_see_the_modules():
    names = {path.stem for path in SERVICE_FILES}
    assert {"analytics", "ledger", "dashboard_data"} <= names
    assert "dash" in _hits(["dash", "dash.html"], WEB)  # the matcher itself finds what it should
    assert _hits(["services.price_service"], PRICES) == ["services.price_service"]


@pytest.mark.parametrize("path", SERVICE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_services_never_import_the_web_layer(path):
    assert _hits(_imports(path), WEB) == []


@pytest.mark.parametrize("path", [p for p in SERVICE_FILES if p.stem.startswith(PURE)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_modules_do_no_io(path):
    assert _hits(_imports(path), IO) == []
    assert not _calls_open(path)


@pytest.mark.parametrize("path", [p for p in SERVICE_FILES if p.stem.startswith(LEDGER)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_the_ledger_knows_no_prices(path):
    assert _hits(_imports(path), PRICES) == []


# "Modules of one purpose and a few hundred lines": a module past this has grown a second job.
MAX_SERVICE_LINES = 310


@pytest.mark.parametrize("path", SERVICE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_services_module_sprawls(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_SERVICE_LINES


def test_a_broken_rule_is_caught(tmp_path):
    """The checks fail on a module that breaks them (a guard against a test that cannot fail)."""
    bad = tmp_path / "analytics_bad.py"
    bad.write_text("import sqlalchemy\nfrom dash import html\nfrom services.price_service import PriceService\n"
                   "open('x')\n")
    names = _imports(bad)
    assert _hits(names, WEB) == ["dash", "dash.html"]
    assert "sqlalchemy" in _hits(names, IO)
    assert _hits(names, PRICES) == ["services.price_service", "services.price_service.PriceService"]
    assert _calls_open(bad)
