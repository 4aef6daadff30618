"""services/accounts.py on a real SQLite file: users, argon2 password hashes, hashed API tokens, adopting the
local user's portfolios, and the `python -m services.accounts` command line run as a real subprocess."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event

from services.accounts import LOCAL_USER, Accounts, User
from services.ledger import Ledger
from services.models import NotFoundError, ValidationError
from tests.services.test_ledger_migrations import build_old_database

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"  # 22 characters
OTHER_PASSWORD = "staple of the horse"  # 19 characters


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "accounts.db"


@pytest.fixture
def accounts(ledger: Ledger) -> Accounts:
    return Accounts(ledger)


def raw(db_path: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db_path) as connection:
        return connection.execute(sql, params).fetchall()


def fields(error: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [e.field for e in error.value.errors]


# --- users ----------------------------------------------------------------------------------------------------

def test_create_user_stores_the_email_trimmed_and_lower_cased(accounts: Accounts, db_path: Path) -> None:
    user = accounts.create_user("  Alice@Example.COM ", PASSWORD)
    assert user.email == "alice@example.com"
    assert user.owner_id == str(user.id)
    assert raw(db_path, "SELECT id, email FROM users") == [(user.id, "alice@example.com")]
    assert accounts.get_user(user.id) == user
    assert accounts.list_users() == [user]
    assert accounts.user_count() == 1


def test_a_taken_email_is_refused_whatever_its_case(accounts: Accounts) -> None:
    first = accounts.create_user("alice@example.com", PASSWORD)
    with pytest.raises(ValidationError) as refused:
        accounts.create_user("ALICE@example.com", OTHER_PASSWORD)
    assert fields(refused) == ["email"]
    assert accounts.list_users() == [first]
    # The first account still has its own password, not the refused one.
    assert accounts.authenticate("alice@example.com", PASSWORD) == first
    assert accounts.authenticate("alice@example.com", OTHER_PASSWORD) is None


@pytest.mark.parametrize("email", [
    "",
    "   ",
    "alice",
    "alice@example",  # no dot in the domain
    "@example.com",
    "alice@",
    "al ice@example.com",
    "alice@exa mple.com",
    "alice@@example.com",
    "a" * 249 + "@b.com",  # 255 characters: one over RFC 5321's 254
    None,
    42,
])
def test_a_malformed_email_is_refused_naming_email(accounts: Accounts, email: object) -> None:
    with pytest.raises(ValidationError) as refused:
        accounts.create_user(email, PASSWORD)  # type: ignore[arg-type]
    assert fields(refused) == ["email"]
    assert accounts.user_count() == 0


def test_the_longest_email_allowed_is_254_characters(accounts: Accounts) -> None:
    email = "a" * 248 + "@b.com"  # 248 + 6 = 254
    assert accounts.create_user(email, PASSWORD).email == email


@pytest.mark.parametrize("password", ["", "123456789", "x" * 1025, None, 1234567890])
def test_a_short_long_or_non_text_password_is_refused_naming_password(accounts: Accounts, password: object) -> None:
    with pytest.raises(ValidationError) as refused:
        accounts.create_user("alice@example.com", password)  # type: ignore[arg-type]
    assert fields(refused) == ["password"]
    assert accounts.user_count() == 0


@pytest.mark.parametrize("password", ["1234567890", "y" * 1024])
def test_ten_and_1024_characters_are_the_password_limits(accounts: Accounts, password: str) -> None:
    user = accounts.create_user("alice@example.com", password)
    assert accounts.authenticate("alice@example.com", password) == user


def test_the_stored_hash_is_argon2id_and_never_the_password(accounts: Accounts, db_path: Path) -> None:
    accounts.create_user("alice@example.com", PASSWORD)
    [(stored,)] = raw(db_path, "SELECT password_hash FROM users")
    # OWASP's argon2id minimum the module documents: 19 MiB (19 x 1024 KiB = 19456), 2 passes, 1 lane.
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored
    assert hashlib.sha256(PASSWORD.encode()).hexdigest() not in stored
    # Two users with the same password get different hashes (a random salt each).
    accounts.create_user("bob@example.com", PASSWORD)
    hashes = [h for (h,) in raw(db_path, "SELECT password_hash FROM users ORDER BY id")]
    assert len(set(hashes)) == 2


def test_authenticate(accounts: Accounts) -> None:
    alice = accounts.create_user("alice@example.com", PASSWORD)
    bob = accounts.create_user("bob@example.com", OTHER_PASSWORD)
    assert accounts.authenticate("alice@example.com", PASSWORD) == alice
    assert accounts.authenticate(" ALICE@example.com ", PASSWORD) == alice  # the email as typed, any case
    assert accounts.authenticate("bob@example.com", OTHER_PASSWORD) == bob
    assert accounts.authenticate("alice@example.com", PASSWORD + "x") is None
    assert accounts.authenticate("alice@example.com", PASSWORD.upper()) is None
    assert accounts.authenticate("alice@example.com", OTHER_PASSWORD) is None  # bob's password is not alice's
    assert accounts.authenticate("carol@example.com", PASSWORD) is None  # unknown email
    assert accounts.authenticate("", PASSWORD) is None
    assert accounts.authenticate("alice@example.com", "") is None


@pytest.mark.parametrize(("email", "password"), [
    (None, PASSWORD),
    ("alice@example.com", None),
    (["alice@example.com"], PASSWORD),
    ("alice@example.com", [PASSWORD]),
    (b"alice@example.com", PASSWORD),
    ("alice@example.com", PASSWORD.encode()),
    ({"email": "alice@example.com"}, PASSWORD),
    ("alice@example.com", 12345678901),
])
def test_authenticate_answers_none_for_non_text_inputs(accounts: Accounts, email: object, password: object) -> None:
    accounts.create_user("alice@example.com", PASSWORD)
    assert accounts.authenticate(email, password) is None


def test_set_password_changes_the_session_key_and_retires_the_old_password(accounts: Accounts) -> None:
    alice = accounts.create_user("alice@example.com", PASSWORD)
    bob = accounts.create_user("bob@example.com", PASSWORD)
    changed = accounts.set_password(alice.id, OTHER_PASSWORD)
    assert (changed.id, changed.email) == (alice.id, alice.email)
    assert changed.session_key != alice.session_key
    assert accounts.authenticate("alice@example.com", PASSWORD) is None
    assert accounts.authenticate("alice@example.com", OTHER_PASSWORD) == changed
    assert accounts.get_user(alice.id) == changed
    # Bob's account is untouched.
    assert accounts.authenticate("bob@example.com", PASSWORD) == bob
    # Setting the same password again still changes the key (a fresh salt).
    again = accounts.set_password(alice.id, OTHER_PASSWORD)
    assert again.session_key not in (alice.session_key, changed.session_key)


def test_set_password_checks_the_password_and_the_user(accounts: Accounts) -> None:
    alice = accounts.create_user("alice@example.com", PASSWORD)
    with pytest.raises(ValidationError) as refused:
        accounts.set_password(alice.id, "short")
    assert fields(refused) == ["password"]
    assert accounts.authenticate("alice@example.com", PASSWORD) == alice
    with pytest.raises(NotFoundError):
        accounts.set_password(alice.id + 1000, OTHER_PASSWORD)


# --- API tokens -----------------------------------------------------------------------------------------------

def _everything_stored(db_path: Path) -> list[object]:
    """Every value of every row of every table of the database."""
    values: list[object] = []
    with sqlite3.connect(db_path) as connection:
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                values.extend(row)
    return values


def test_a_token_secret_is_shown_once_and_only_its_sha256_is_stored(accounts: Accounts, db_path: Path) -> None:
    alice = accounts.create_user("alice@example.com", PASSWORD)
    token, secret = accounts.create_token(alice, "  laptop  ")
    assert token.name == "laptop" and token.last_used_at is None
    assert secret.startswith("mst_") and len(secret) >= 4 + 43  # 32 random bytes are 43 url-safe characters
    expected_hash = hashlib.sha256(secret.encode()).hexdigest()
    assert raw(db_path, "SELECT id, user_id, name, secret_hash FROM api_tokens") == [
        (token.id, alice.id, "laptop", expected_hash)]
    stored = _everything_stored(db_path)
    assert not any(isinstance(value, str) and secret[4:] in value for value in stored)
    # Nor anywhere in the files (the WAL included).
    for path in db_path.parent.glob(db_path.name + "*"):
        assert secret[4:].encode() not in path.read_bytes(), path.name
    # Listing tokens never hands the secret back either.
    listed = accounts.list_tokens(alice)
    assert [t.id for t in listed] == [token.id]
    assert secret not in repr(listed) and secret not in str(listed[0].to_json())


def test_user_for_token(accounts: Accounts) -> None:
    alice = accounts.create_user("alice@example.com", PASSWORD)
    bob = accounts.create_user("bob@example.com", PASSWORD)
    _, alices = accounts.create_token(alice, "laptop")
    _, bobs = accounts.create_token(bob, "phone")
    assert accounts.user_for_token(alices) == alice
    assert accounts.user_for_token(bobs) == bob
    last = alices[-1]
    wrong = alices[:-1] + ("A" if last != "A" else "B")
    assert accounts.user_for_token(wrong) is None
    assert accounts.user_for_token(alices + "x") is None
    assert accounts.user_for_token(alices[4:]) is None  # without its prefix
    assert accounts.user_for_token("mst_") is None
    assert accounts.user_for_token("") is None
    assert accounts.user_for_token("mst_" + "a" * 300) is None
    # The hash itself is not a secret that works.
    assert accounts.user_for_token("mst_" + hashlib.sha256(alices.encode()).hexdigest()) is None


def test_using_a_token_records_when(accounts: Accounts) -> None:
    alice = accounts.create_user("alice@example.com", PASSWORD)
    token, secret = accounts.create_token(alice, "laptop")
    assert accounts.list_tokens(alice)[0].last_used_at is None
    accounts.user_for_token(secret)
    [used] = accounts.list_tokens(alice)
    assert used.id == token.id and used.last_used_at is not None


def test_a_revoked_token_stops_working(accounts: Accounts) -> None:
    alice = accounts.create_user("alice@example.com", PASSWORD)
    kept, kept_secret = accounts.create_token(alice, "desktop")
    revoked, revoked_secret = accounts.create_token(alice, "laptop")
    accounts.delete_token(alice, revoked.id)
    assert accounts.user_for_token(revoked_secret) is None
    assert accounts.user_for_token(kept_secret) == alice
    assert [t.id for t in accounts.list_tokens(alice)] == [kept.id]
    with pytest.raises(NotFoundError):
        accounts.delete_token(alice, revoked.id)  # gone already


def test_list_tokens_shows_only_the_users_own(accounts: Accounts) -> None:
    alice = accounts.create_user("alice@example.com", PASSWORD)
    bob = accounts.create_user("bob@example.com", PASSWORD)
    a1, _ = accounts.create_token(alice, "laptop")
    b1, _ = accounts.create_token(bob, "phone")
    a2, _ = accounts.create_token(alice, "ci")
    assert [(t.id, t.name) for t in accounts.list_tokens(alice)] == [(a1.id, "laptop"), (a2.id, "ci")]
    assert [(t.id, t.name) for t in accounts.list_tokens(bob)] == [(b1.id, "phone")]
    carol = accounts.create_user("carol@example.com", PASSWORD)
    assert accounts.list_tokens(carol) == []


def test_deleting_another_users_token_is_not_found_and_leaves_it_working(accounts: Accounts) -> None:
    alice = accounts.create_user("alice@example.com", PASSWORD)
    bob = accounts.create_user("bob@example.com", PASSWORD)
    token, secret = accounts.create_token(alice, "laptop")
    with pytest.raises(NotFoundError):
        accounts.delete_token(bob, token.id)
    assert accounts.user_for_token(secret) == alice
    assert [t.id for t in accounts.list_tokens(alice)] == [token.id]
    with pytest.raises(NotFoundError):
        accounts.delete_token(alice, token.id + 1000)  # one that never was: the same answer


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, None, 7])
def test_a_token_needs_a_name_of_1_to_100_characters(accounts: Accounts, name: object) -> None:
    alice = accounts.create_user("alice@example.com", PASSWORD)
    with pytest.raises(ValidationError) as refused:
        accounts.create_token(alice, name)
    assert fields(refused) == ["name"]
    assert accounts.list_tokens(alice) == []


def test_the_local_user_cannot_create_tokens(accounts: Accounts, db_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        accounts.create_token(LOCAL_USER, "laptop")
    assert fields(refused) == ["name"]
    assert raw(db_path, "SELECT COUNT(*) FROM api_tokens") == [(0,)]


# --- adopting the local user's portfolios -----------------------------------------------------------------------

def test_adopt_local_moves_only_the_local_portfolios(accounts: Accounts, ledger: Ledger) -> None:
    alice = accounts.create_user("alice@example.com", PASSWORD)
    bob = accounts.create_user("bob@example.com", PASSWORD)
    old1 = ledger.create_portfolio("Old one")  # the unscoped ledger creates for the local user
    old2 = ledger.for_owner("local").create_portfolio("Old two")
    bobs = ledger.for_owner(bob.owner_id).create_portfolio("Bob's")
    alices = ledger.for_owner(alice.owner_id).create_portfolio("Alice's")
    assert accounts.adopt_local(alice) == 2
    assert [p.id for p in ledger.for_owner(alice.owner_id).list_portfolios()] == [old1.id, old2.id, alices.id]
    assert [p.id for p in ledger.for_owner(bob.owner_id).list_portfolios()] == [bobs.id]
    assert ledger.for_owner("local").list_portfolios() == []
    assert ledger.get_portfolio(old1.id).owner_id == str(alice.id)
    # Nothing local is left to adopt.
    assert accounts.adopt_local(bob) == 0
    assert [p.id for p in ledger.for_owner(bob.owner_id).list_portfolios()] == [bobs.id]


def test_user_ids_are_never_reused(accounts: Accounts, db_path: Path) -> None:
    first = accounts.create_user("a@example.com", PASSWORD)
    second = accounts.create_user("b@example.com", PASSWORD)
    raw(db_path, "DELETE FROM users WHERE id = ?", second.id)
    third = accounts.create_user("c@example.com", PASSWORD)
    # A deleted user's id (their portfolios' owner id) must not go to someone else.
    assert third.id > second.id > first.id


# --- the command line -----------------------------------------------------------------------------------------

def _cli(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "CACHE_DIR", "APP_ENV", "DYNO", "HOST", "AUTH_REQUIRED", "SECRET_KEY"}}
    env["DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "services.accounts", *args], input=stdin, capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=120)


def _accounts_of(data_dir: Path) -> tuple[Ledger, Accounts]:
    ledger = Ledger(f"sqlite:///{data_dir / 'stocktracker.db'}")
    return ledger, Accounts(ledger)


def test_cli_add_user_then_list_users(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    added = _cli(data_dir, "add-user", "Alice@Example.com", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout == "created user 1 <alice@example.com>\n"
    assert PASSWORD not in added.stdout + added.stderr
    listed = _cli(data_dir, "list-users")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == "1\talice@example.com\n"
    ledger, accounts = _accounts_of(data_dir)
    try:
        user = accounts.authenticate("alice@example.com", PASSWORD)
        assert user is not None and (user.id, user.email) == (1, "alice@example.com")
        assert accounts.authenticate("alice@example.com", PASSWORD + "\n") is None  # the newline is not kept
    finally:
        ledger.dispose()


def test_cli_reads_a_password_ending_in_crlf(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    added = _cli(data_dir, "add-user", "bob@example.com", stdin=PASSWORD + "\r\n")
    assert added.returncode == 0, added.stderr
    ledger, accounts = _accounts_of(data_dir)
    try:
        assert accounts.authenticate("bob@example.com", PASSWORD) is not None
    finally:
        ledger.dispose()


def test_cli_refuses_a_short_password_with_exit_2(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    refused = _cli(data_dir, "add-user", "alice@example.com", stdin="short\n")
    assert refused.returncode == 2
    assert "password" in refused.stderr and refused.stdout == ""
    listed = _cli(data_dir, "list-users")
    assert (listed.returncode, listed.stdout) == (0, "")


def test_cli_refuses_a_taken_email_with_exit_2(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert _cli(data_dir, "add-user", "alice@example.com", stdin=PASSWORD + "\n").returncode == 0
    again = _cli(data_dir, "add-user", "ALICE@example.com", stdin=OTHER_PASSWORD + "\n")
    assert again.returncode == 2 and "email" in again.stderr
    assert _cli(data_dir, "list-users").stdout == "1\talice@example.com\n"


def test_cli_adopt_local_gives_the_new_user_the_existing_portfolios(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    ledger = Ledger(f"sqlite:///{data_dir / 'stocktracker.db'}")
    try:
        ledger.create_all()
        first = ledger.create_portfolio("Before accounts")
        second = ledger.create_portfolio("Also before")
        someone = ledger.for_owner("99").create_portfolio("Someone else's")
        added = _cli(data_dir, "add-user", "alice@example.com", "--adopt-local", stdin=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        assert added.stdout == "created user 1 <alice@example.com>; it now owns 2 portfolio(s)\n"
        assert [p.id for p in ledger.for_owner("1").list_portfolios()] == [first.id, second.id]
        assert ledger.for_owner("local").list_portfolios() == []
        assert [p.id for p in ledger.for_owner("99").list_portfolios()] == [someone.id]
        # Without --adopt-local a second user gets nothing.
        plain = _cli(data_dir, "add-user", "bob@example.com", stdin=PASSWORD + "\n")
        assert plain.returncode == 0 and plain.stdout == "created user 2 <bob@example.com>\n"
        assert ledger.for_owner("2").list_portfolios() == []
    finally:
        ledger.dispose()


def test_cli_adopt_local_on_a_database_from_before_accounts(tmp_path: Path) -> None:
    # The case --adopt-local exists for: the file an older version of the app left, with its portfolios.
    data_dir = tmp_path / "data"
    build_old_database(data_dir / "stocktracker.db")  # portfolios 1, 2, 4 and 5, all the local user's
    added = _cli(data_dir, "add-user", "alice@example.com", "--adopt-local", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout == "created user 1 <alice@example.com>; it now owns 4 portfolio(s)\n"
    ledger = Ledger(f"sqlite:///{data_dir / 'stocktracker.db'}")
    try:
        assert [p.id for p in ledger.for_owner("1").list_portfolios()] == [1, 2, 4, 5]
        assert len(ledger.for_owner("1").list_transactions(1)) == 3
    finally:
        ledger.dispose()


def test_the_local_user_is_not_a_stored_user(accounts: Accounts) -> None:
    alice = accounts.create_user("alice@example.com", PASSWORD)
    assert isinstance(LOCAL_USER, User) and alice != LOCAL_USER
    assert accounts.authenticate("local", "local") is None
    assert alice.id != LOCAL_USER.id


def test_ids_no_row_can_have_are_not_found_not_an_overflow(tmp_path: Path) -> None:
    # Found by the API fuzzer: DELETE /api/tokens/9223372036854775808 overflowed SQLite's integer (a 500).
    ledger = Ledger(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ledger.create_all()
    accounts = Accounts(ledger)
    user = accounts.create_user("big@example.com", "a long enough passphrase")
    with pytest.raises(NotFoundError):
        accounts.delete_token(user, 2**63)
    assert accounts.get_user(2**63) is None
    ledger.dispose()


def test_account_writes_take_sqlites_write_lock_first(ledger: Ledger, accounts: Accounts) -> None:
    """As the ledger's writes do (BEGIN IMMEDIATE): a write waiting for the lock then takes its turn in the middle
    of a big import instead of waiting for all of it (services/ledger_engine.py)."""
    statements: list[str] = []
    ledger.engine.dispose()  # new connections, traced from the start
    event.listen(ledger.engine, "connect", lambda dbapi, _record: dbapi.set_trace_callback(statements.append))
    user = accounts.create_user("turns@example.com", "a long enough password")
    accounts.create_token(user, "ci")
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE", "BEGIN IMMEDIATE"]
