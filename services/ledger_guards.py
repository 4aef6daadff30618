"""What the ledger refuses that takes a look at the database: a name the owner already has, and the quotas.

Called inside the ledger's write transaction, under its lock, so two concurrent writes cannot both pass.
"""

from __future__ import annotations

import zlib

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services import ledger_rules as rules
from services.ledger_schema import PortfolioRow
from services.models import FieldError, ValidationError


def refuse_duplicate_name(session: Session, owner_id: str, name: str, except_id: int | None = None) -> None:
    """ValidationError on `name` when another portfolio of `owner_id` has the same trimmed, case-folded name."""
    if session.get_bind().dialect.name == "postgresql":
        # Two creates of one new name would both find nothing to lock: serialize them per owner.
        key = zlib.crc32(f"portfolio-names:{owner_id}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    wanted = rules.name_key(name)
    rows = session.execute(select(PortfolioRow.id, PortfolioRow.name).where(PortfolioRow.owner_id == owner_id))
    for row_id, existing in rows:
        if row_id != except_id and rules.name_key(existing) == wanted:
            raise rules.duplicate_name(existing)


def refuse_portfolio_over_quota(session: Session, owner_id: str, limit: int | None) -> None:
    """ValidationError when `owner_id` already has `limit` portfolios (MAX_PORTFOLIOS_PER_OWNER)."""
    if limit is None:
        return
    count = session.scalar(select(func.count()).where(PortfolioRow.owner_id == owner_id)) or 0
    if count >= limit:
        raise ValidationError("too many portfolios", [FieldError(
            "name", f"an account may have at most {limit} portfolios; delete one first")])


def refuse_transactions_over_quota(limit: int | None, held: int, adding: int, field: str) -> None:
    """ValidationError when a portfolio holding `held` transactions would exceed `limit` by adding `adding`."""
    if limit is not None and held + adding > limit:
        raise ValidationError("too many transactions", [FieldError(
            field, f"a portfolio may hold at most {limit} transactions; it holds {held} and this adds {adding}")])
