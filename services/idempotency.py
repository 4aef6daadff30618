"""`Idempotency-Key` for imports (and a single added transaction): the first answer to a key is kept in the
database, per portfolio, for
`KEEP_FOR` (24 h), so a client that retries after a timeout gets that answer again and nothing is imported twice,
whichever worker process or machine the retry reaches.

The key is read and written inside the ledger's write transaction that does the import (under the portfolio's
lock), so two requests with one key cannot both import. A key reused with a different body is refused: the
body's SHA-256 is kept with the answer. Only imports that succeeded are kept: a rejected import imported nothing,
so repeating it simply judges the file again. Expired keys of the portfolio are deleted as a new one is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from services.ledger_schema import Base, utcnow
from services.models import FieldError, ImportResult, ValidationError

KEEP_FOR = dt.timedelta(hours=24)
MAX_KEY_CHARS = 255
HEADER = "Idempotency-Key"


class IdempotencyRow(Base):
    __tablename__ = "idempotency_keys"

    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_CHARS), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def check_key(key: str) -> str:
    """The key as given, or ValidationError: 1 to 255 printable ASCII characters (what an HTTP header carries)."""
    if not key or len(key) > MAX_KEY_CHARS or not all(" " <= c <= "~" for c in key):
        raise ValidationError("invalid Idempotency-Key", [FieldError(
            HEADER, f"must be 1 to {MAX_KEY_CHARS} printable ASCII characters")])
    return key


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def json_fingerprint(kind: str, data: object) -> str:
    """The fingerprint of a JSON body (key order does not matter), with what it is for (`kind`)."""
    return fingerprint(kind + "\n" + json.dumps(data, sort_keys=True, default=str, ensure_ascii=False))


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)  # SQLite drops the zone


def recall(session: Session, portfolio_id: int, key: str, print_: str,
           now: dt.datetime | None = None) -> ImportResult | None:
    """The import's answer first given to `key` (within KEEP_FOR), None for a new key; ValidationError when the key
    was used for a different body."""
    body = recall_json(session, portfolio_id, key, print_, now)
    return None if body is None else ImportResult.from_json(body)


def recall_json(session: Session, portfolio_id: int, key: str, print_: str,
                now: dt.datetime | None = None) -> dict | None:
    """The JSON kept for `key` (within KEEP_FOR), None for a new key; ValidationError for another body's key."""
    row = session.scalars(select(IdempotencyRow).where(IdempotencyRow.portfolio_id == portfolio_id,
                                                       IdempotencyRow.key == key)).one_or_none()
    if row is None or _aware(row.created_at) < (now or utcnow()) - KEEP_FOR:
        return None
    if row.fingerprint != print_:
        raise ValidationError("Idempotency-Key reused", [FieldError(
            HEADER, "was used for a different request body; use a new key for a new request")])
    return json.loads(row.body)


def remember(session: Session, portfolio_id: int, key: str, print_: str, result: ImportResult,
             now: dt.datetime | None = None) -> None:
    """Keep `result` as the answer to `key` (replacing an expired one), and drop the portfolio's expired keys."""
    remember_json(session, portfolio_id, key, print_, result.to_json(), now)


def remember_json(session: Session, portfolio_id: int, key: str, print_: str, body: dict,
                  now: dt.datetime | None = None) -> None:
    moment = now or utcnow()
    session.execute(delete(IdempotencyRow).where(IdempotencyRow.portfolio_id == portfolio_id,
                                                 (IdempotencyRow.created_at < moment - KEEP_FOR)
                                                 | (IdempotencyRow.key == key)))
    session.add(IdempotencyRow(portfolio_id=portfolio_id, key=key, fingerprint=print_, status=200,
                               body=json.dumps(body), created_at=moment))
    session.flush()
