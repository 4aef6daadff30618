"""The import format saved per portfolio (docs/broker-import.md): our own CSV, a preset, or a custom mapping.

Stored as JSON in the ledger database, one row per portfolio, on the same SQLAlchemy metadata as the ledger's
tables (so `Ledger.create_all` creates it once this module is imported there; until then `ImportMappings`
creates it itself, once per engine). Owner scoped through the ledger: every read and write first asks the
(owner-scoped) ledger for the portfolio, so another owner's portfolio is a NotFoundError like one that never
existed. The row goes when its portfolio does (ON DELETE CASCADE; rows of a deleted portfolio are also ignored).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import weakref
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import DateTime, ForeignKey, Text, delete, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from services.broker_presets import CUSTOM, OWN_FORMAT, mapping_for
from services.ledger_engine import IMMEDIATE
from services.ledger_schema import Base, utcnow
from services.models import FieldError, ValidationError

MAX_MAPPING_CHARS = 10_000  # a mapping is a dozen headers and words; this bounds what one row can hold


class ImportMappingRow(Base):
    __tablename__ = "import_mappings"

    portfolio_id: Mapped[int] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"), primary_key=True)
    mapping: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class SavedFormat:
    """A portfolio's import format: `format` ("mystocktracker", a preset key, or "custom") and, for custom, the
    mapping JSON (`custom_mapping`'s input)."""

    format: str = OWN_FORMAT
    custom: dict | None = None

    def to_json(self) -> dict:
        return {"format": self.format, "custom": self.custom}


def saved_format(data: object) -> SavedFormat:
    """A SavedFormat from JSON, checked (unknown format, a bad custom mapping: ValidationError naming it)."""
    if not isinstance(data, dict):
        raise ValidationError("invalid mapping", [FieldError("mapping", "must be a JSON object")])
    key = data.get("format", OWN_FORMAT)
    if not isinstance(key, str):
        raise ValidationError("invalid mapping", [FieldError("format", "must be a string")])
    custom = data.get("custom") if key == CUSTOM else None
    mapping_for(key, custom)  # raises on an unknown key or a bad custom mapping
    if len(json.dumps(custom or {})) > MAX_MAPPING_CHARS:
        raise ValidationError("invalid mapping", [FieldError("custom", f"is over {MAX_MAPPING_CHARS} characters")])
    return SavedFormat(key, custom)


class ImportMappings:
    """Read and save the import format of a portfolio of `ledger` (an owner-scoped view on the web)."""

    # The engines whose table exists (weak: a disposed test engine's id may be reused by the next one).
    _created: ClassVar[weakref.WeakSet] = weakref.WeakSet()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, ledger) -> None:
        self.ledger = ledger
        self._ensure_table()

    def _ensure_table(self) -> None:
        engine = self.ledger.engine
        with self._lock:
            if engine not in self._created:
                ImportMappingRow.__table__.create(engine, checkfirst=True)
                self._created.add(engine)

    def get(self, portfolio_id: int) -> SavedFormat:
        """The saved format, or our own CSV when none was saved. NotFoundError for a portfolio not the owner's."""
        self.ledger.get_portfolio(portfolio_id)
        with self.ledger.engine.connect() as connection:
            stored = connection.execute(select(ImportMappingRow.mapping).where(
                ImportMappingRow.portfolio_id == portfolio_id)).scalar_one_or_none()
        if stored is None:
            return SavedFormat()
        data = json.loads(stored)
        return SavedFormat(str(data.get("format", OWN_FORMAT)), data.get("custom"))

    def save(self, portfolio_id: int, data: object) -> SavedFormat:
        """Check and store `data` ({"format", "custom"?}) for the portfolio, replacing what was saved."""
        saved = saved_format(data)
        self.ledger.get_portfolio(portfolio_id)
        # IMMEDIATE, as the ledger's writes: a waiting writer takes its turn during a big import (ledger_engine).
        with self.ledger.engine.connect() as connection, connection.execution_options(**{IMMEDIATE: True}).begin():
            connection.execute(delete(ImportMappingRow).where(ImportMappingRow.portfolio_id == portfolio_id))
            connection.execute(insert(ImportMappingRow).values(
                portfolio_id=portfolio_id, mapping=json.dumps(saved.to_json()), updated_at=utcnow()))
        return saved
