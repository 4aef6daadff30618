"""The accounts' tables, in the ledger's database (same metadata, so `Ledger.create_all` makes them too).

Only hashes are stored: argon2 for passwords, SHA-256 for API token secrets (random 256-bit values, for which a
fast hash is the right one: a token is checked on every API call, and nothing about it can be guessed).
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.ledger_schema import Base, utcnow

MAX_EMAIL_CHARS = 254  # RFC 5321's longest address
MAX_TOKEN_NAME_CHARS = 100


class UserRow(Base):
    __tablename__ = "users"
    __table_args__: ClassVar = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(MAX_EMAIL_CHARS), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    # Moved on by logout: part of every session's key, so it ends them all (cookies are signed, not stored).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TokenRow(Base):
    __tablename__ = "api_tokens"
    __table_args__: ClassVar = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_TOKEN_NAME_CHARS))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the secret
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
