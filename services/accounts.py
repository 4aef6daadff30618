"""Accounts: users with argon2-hashed passwords and API tokens stored as hashes, in the ledger's database.

Pure service (no Flask): the web layer (dashapp/auth.py) asks it who a password or a token belongs to, and scopes
the ledger to that user's `owner_id`. Also a command line:

    python -m services.accounts add-user EMAIL [--adopt-local]   # the password is read from stdin, one line
    python -m services.accounts list-users
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import re
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.accounts_schema import MAX_EMAIL_CHARS, MAX_TOKEN_NAME_CHARS, TokenRow, UserRow
from services.ledger import Ledger
from services.ledger_engine import IMMEDIATE
from services.ledger_rules import check_id
from services.ledger_schema import LOCAL_OWNER, PortfolioRow, utcnow
from services.models import FieldError, NotFoundError, ValidationError

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length; this only keeps a hostile body from costing much
TOKEN_PREFIX = "mst_"  # recognisable in logs and by secret scanners
# OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane): ~20 ms and 19 MiB a login, which a 512 MB dyno affords;
# argon2-cffi's default (64 MiB, 4 lanes) would let a burst of logins exhaust it.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TOKEN_TOUCH_EVERY = dt.timedelta(minutes=10)  # last_used_at is a hint; writing it on every call would serialize


@dataclass(frozen=True)
class User:
    id: int
    email: str
    # Changes with the password and at logout, so a session that carries it ends then.
    session_key: str

    @property
    def owner_id(self) -> str:
        """The key of the user's portfolios in the ledger."""
        return str(self.id)

    def to_json(self) -> dict:
        return {"id": self.id, "email": self.email}


LOCAL_USER = User(id=0, email="local", session_key="local")  # the single-user run's built-in user


def owner_of(user: User) -> str:
    return LOCAL_OWNER if user == LOCAL_USER else user.owner_id


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "created_at": self.created_at.isoformat(),
                "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None}


def _user(row: UserRow) -> User:
    key = hashlib.sha256(f"{row.password_hash}:{row.session_epoch or 0}".encode()).hexdigest()[:16]
    return User(row.id, row.email, key)


def _token(row: TokenRow) -> ApiToken:
    return ApiToken(row.id, row.name, row.created_at, row.last_used_at)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: object) -> str:
    if not isinstance(email, str) or not email.strip():
        raise ValidationError("invalid email", [FieldError("email", "an email address is required")])
    cleaned = normalize_email(email)
    if len(cleaned) > MAX_EMAIL_CHARS or not _EMAIL.match(cleaned):
        raise ValidationError("invalid email", [FieldError("email", "not an email address")])
    return cleaned


def check_password(password: object) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise ValidationError("invalid password", [
            FieldError("password", f"the password must have at least {MIN_PASSWORD_CHARS} characters")])
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValidationError("invalid password", [
            FieldError("password", f"the password may have at most {MAX_PASSWORD_CHARS} characters")])
    return password


class Accounts:
    """Users and their API tokens, on the ledger's engine."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self._sessions = sessionmaker(ledger.engine, expire_on_commit=False)
        self._dummy_hash = HASHER.hash(secrets.token_urlsafe(16))

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction that takes SQLite's write lock first (`BEGIN IMMEDIATE`), as the ledger's do: a
        writer waiting for it then takes its turn during a big import (`ledger_engine.WaitingRoom`), where a
        deferred one would wait for the whole import in SQLite's busy handler."""
        with self._sessions() as session, session.begin():
            session.connection(execution_options={IMMEDIATE: True})
            yield session

    # -- users --------------------------------------------------------------------------------------------------
    def create_user(self, email: str, password: str) -> User:
        """A new user; ValidationError for a malformed or taken email or a short password."""
        cleaned, password = check_email(email), check_password(password)
        row = UserRow(email=cleaned, password_hash=HASHER.hash(password))
        try:
            with self._write() as session:
                session.add(row)
                session.flush()
                return _user(row)
        except IntegrityError:
            raise ValidationError("invalid email", [FieldError("email", "an account with this email exists")]) \
                from None

    def user_count(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(UserRow)) or 0

    def get_user(self, user_id: int) -> User | None:
        try:
            check_id("user", user_id)
        except NotFoundError:
            return None
        with self._sessions() as session:
            row = session.get(UserRow, user_id)
            return _user(row) if row else None

    def list_users(self) -> list[User]:
        with self._sessions() as session:
            return [_user(row) for row in session.scalars(select(UserRow).order_by(UserRow.id))]

    def authenticate(self, email: object, password: object) -> User | None:
        """The user whose email and password these are, else None (in about the same time either way)."""
        if not isinstance(email, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS:
            return None
        with self._sessions() as session:
            row = session.scalars(select(UserRow).where(UserRow.email == normalize_email(email))).one_or_none()
        try:
            # An unknown email still costs one hash, so the time taken does not tell which emails exist.
            HASHER.verify(row.password_hash if row else self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if HASHER.check_needs_rehash(row.password_hash):
            self.set_password(row.id, password)
            return self.get_user(row.id)
        return _user(row)

    def set_password(self, user_id: int, password: str) -> User:
        """Change a password (which also ends the user's sessions: their `session_key` changes)."""
        new_hash = HASHER.hash(check_password(password))
        with self._write() as session:
            row = session.get(UserRow, user_id)
            if row is None:
                raise NotFoundError(f"user {user_id} not found")
            row.password_hash = new_hash
            return _user(row)

    def end_sessions(self, user_id: int) -> None:
        """End every session of the user (logout): their `session_key` changes."""
        with self._write() as session:
            session.execute(update(UserRow).where(UserRow.id == user_id)
                            .values(session_epoch=func.coalesce(UserRow.session_epoch, 0) + 1))

    def adopt_local(self, user: User) -> int:
        """Give the local user's portfolios (those made before accounts, or by single-user runs) to `user`."""
        with self._write() as session:
            result = session.execute(update(PortfolioRow).where(PortfolioRow.owner_id == LOCAL_OWNER)
                                     .values(owner_id=user.owner_id))
            return result.rowcount or 0

    # -- API tokens ---------------------------------------------------------------------------------------------
    def create_token(self, user: User, name: object) -> tuple[ApiToken, str]:
        """A new token and its secret; only the secret's hash is kept, so this is the one time it is seen."""
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_TOKEN_NAME_CHARS:
            raise ValidationError("invalid token", [FieldError(
                "name", f"a name of 1 to {MAX_TOKEN_NAME_CHARS} characters is required")])
        if user == LOCAL_USER:
            raise ValidationError("no accounts", [FieldError(
                "name", "this run is single-user (login is not required), so it has no tokens to give")])
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = TokenRow(user_id=user.id, name=name.strip(), secret_hash=secret_hash(secret))
        with self._write() as session:
            session.add(row)
            session.flush()
            return _token(row), secret

    def list_tokens(self, user: User) -> list[ApiToken]:
        with self._sessions() as session:
            rows = session.scalars(select(TokenRow).where(TokenRow.user_id == user.id).order_by(TokenRow.id))
            return [_token(row) for row in rows]

    def delete_token(self, user: User, token_id: int) -> None:
        """Revoke one of `user`'s tokens; another user's is a NotFoundError, as one that never was."""
        check_id("token", token_id)  # out of 64-bit range: no row has it (and SQLite would overflow)
        with self._write() as session:
            result = session.execute(delete(TokenRow).where(TokenRow.id == token_id, TokenRow.user_id == user.id))
            if not result.rowcount:
                raise NotFoundError(f"token {token_id} not found")

    def user_for_token(self, secret: str) -> User | None:
        """The user a token secret belongs to, else None."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        with self._sessions() as session:
            found = session.execute(select(TokenRow, UserRow).join(UserRow, TokenRow.user_id == UserRow.id)
                                    .where(TokenRow.secret_hash == secret_hash(secret))).one_or_none()
        if found is None:
            return None
        token, user = found
        now = utcnow()
        last = token.last_used_at
        if last is not None and last.tzinfo is None:  # SQLite hands back naive datetimes
            last = last.replace(tzinfo=dt.UTC)
        if last is None or now - last > _TOKEN_TOUCH_EVERY:
            with self._write() as session:
                session.execute(update(TokenRow).where(TokenRow.id == token.id).values(last_used_at=now))
        return _user(user)


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module's docstring)."""
    from services.config import Settings, SettingsError
    from services.locks import exclusive_file_lock

    parser = argparse.ArgumentParser(prog="python -m services.accounts", description="Manage user accounts.")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add-user", help="create a user; the password is read from standard input")
    add.add_argument("email")
    add.add_argument("--adopt-local", action="store_true",
                     help="give the new user the portfolios made before accounts (the local user's)")
    commands.add_parser("list-users", help="list the users")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(settings.database_url)
    with exclusive_file_lock(settings.data_dir / "init.lock"):
        ledger.create_all()
    accounts = Accounts(ledger)
    try:
        if args.command == "list-users":
            for user in accounts.list_users():
                print(f"{user.id}\t{user.email}")
            return 0
        if sys.stdin.isatty():
            print(f"password (at least {MIN_PASSWORD_CHARS} characters): ", end="", file=sys.stderr, flush=True)
        password = sys.stdin.readline().rstrip("\r\n")
        try:
            user = accounts.create_user(args.email, password)
        except ValidationError as error:
            print("error: " + "; ".join(f"{e.field}: {e.message}" for e in error.errors), file=sys.stderr)
            return 2
        adopted = accounts.adopt_local(user) if args.adopt_local else 0
        print(f"created user {user.id} <{user.email}>" + (f"; it now owns {adopted} portfolio(s)" if adopted else ""))
        return 0
    finally:
        ledger.dispose()


if __name__ == "__main__":
    sys.exit(main())
