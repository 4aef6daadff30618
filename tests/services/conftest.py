"""Fixtures of the service tests: a ledger on a SQLite file (`db_path`, which a test module may name otherwise), and
a real PostgreSQL for the ledger's Postgres path."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.ledger import Ledger
from tests.services.postgres_server import PostgresServer, postgres_missing

_databases = itertools.count(1)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def ledger(db_path: Path) -> Iterator[Ledger]:
    """A ledger on a fresh SQLite file, its tables created; disposed after the test."""
    ledger = Ledger(f"sqlite:///{db_path}")
    ledger.create_all()
    yield ledger
    ledger.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; skipped loudly where the binaries are missing."""
    reason = postgres_missing()
    if reason:
        message = f"POSTGRES TESTS SKIPPED: {reason}"
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    name = f"ledger_test_{next(_databases)}"
    postgres_server.admin(f"CREATE DATABASE {name}")
    yield postgres_server.url(name)
    postgres_server.admin(f"DROP DATABASE {name} WITH (FORCE)")
