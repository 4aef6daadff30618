"""Fixtures of the service tests that need a server: a real PostgreSQL for the ledger's Postgres path."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator

import pytest

from tests.services.postgres_server import PostgresServer, postgres_missing

_databases = itertools.count(1)


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
