"""Bring a ledger database up to date, keeping its data: `upgrade(engine)`, run by `Ledger.create_all`.

Each step looks at the database as it is (no version table to drift from it), so running it again is a no-op:
- new tables (users, API tokens) are created by `create_all`; portfolios that existed before accounts keep the
  owner `local`, the built-in user of a single-user run (`python -m services.accounts add-user EMAIL
  --adopt-local` hands them to an account);
- SQLite tables made before AUTOINCREMENT are rebuilt with it: SQLite otherwise gives the next row the largest
  id plus one, so deleting the newest portfolio and creating another reused its id, and anything cached under
  that id (a worker's memo, a chart, an open page) showed the deleted portfolio's holdings;
- columns added to a table after it was first made (the transactions' `currency` and `fx_rate`, issue 14;
  `trade_time` and `ratio_denominator`, issue 15; the portfolios' `benchmark`, issue 16; the transactions'
  `batch_id`, issue 17) are
  added with `ALTER TABLE ... ADD COLUMN` (SQLite and Postgres), each only when the table lacks it, as NULL for
  the rows already there (NULL: not given). This step runs after the rebuild, which makes its tables from the
  models with every column and copies the old columns by name: a table rebuilt has them all already, one that
  needed no rebuild gets them here;
- indexes added to a table's model after it was first made (the transactions' (portfolio_id, ticker), issue 17:
  a write reads only the tickers it touches) are created when missing (`create_all` makes indexes only with a
  new table).
Callers hold the init lock (gunicorn's workers boot together).
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, inspect, text

from services.ledger_schema import Base

log = logging.getLogger(__name__)
# Parents before children: a child's copy must find its parent rows.
_AUTOINCREMENT_TABLES = ("portfolios", "transactions")
# Nullable columns added to a table after its first release, by table (they must be nullable: old rows get NULL).
_ADDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "portfolios": ("benchmark",),
    "transactions": ("currency", "fx_rate", "trade_time", "ratio_denominator", "batch_id")}


def upgrade(engine: Engine) -> None:
    """Create what is missing and rebuild what is outdated, in place."""
    if engine.dialect.name == "sqlite":
        _add_sqlite_autoincrement(engine)
    _add_missing_columns(engine)
    Base.metadata.create_all(engine)
    _add_missing_indexes(engine)


def _add_missing_indexes(engine: Engine) -> None:
    """Create the models' indexes an existing table lacks (`create_all` makes indexes only with a new table):
    (portfolio_id, ticker), issue 17, is what lets a write load only the tickers it touches."""
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {index["name"] for index in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in present:
                log.info("creating index %s", index.name)
                index.create(engine, checkfirst=True)


def _add_missing_columns(engine: Engine) -> None:
    """Add the columns of `_ADDED_COLUMNS` that an existing table lacks (a missing table is create_all's)."""
    inspector = inspect(engine)
    missing = []
    for table, names in _ADDED_COLUMNS.items():
        if not inspector.has_table(table):
            continue
        present = {c["name"] for c in inspector.get_columns(table)}
        missing += [Base.metadata.tables[table].columns[name] for name in names if name not in present]
    if not missing:
        return
    log.info("adding column(s) %s", ", ".join(f"{c.table.name}.{c.name}" for c in missing))
    # Postgres also says IF NOT EXISTS: a second machine starting at the same moment does not hold our file lock.
    guard = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
    with engine.begin() as connection:
        for column in missing:
            kind = column.type.compile(dialect=engine.dialect)
            connection.exec_driver_sql(f'ALTER TABLE "{column.table.name}" ADD COLUMN {guard}"{column.name}" {kind}')


def _needs_autoincrement(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all()
    sql_of = {name: sql or "" for name, sql in rows}
    return [t for t in _AUTOINCREMENT_TABLES if t in sql_of and "AUTOINCREMENT" not in sql_of[t].upper()]


def _add_sqlite_autoincrement(engine: Engine) -> None:
    outdated = _needs_autoincrement(engine)
    if not outdated:
        return
    log.info("rebuilding %s with AUTOINCREMENT (ids are never reused from now on)", ", ".join(outdated))
    # SQLite cannot ALTER a table into AUTOINCREMENT: rename the old tables aside, create the new ones from the
    # models, copy every row with its id, drop the old. Foreign keys are off for the copy (a pragma that only
    # takes effect outside a transaction) and the whole rebuild is one transaction: it happens entirely or not.
    with engine.connect() as connection:
        # On the driver's connection (autocommit): through SQLAlchemy the pragma would open a transaction first
        # (the engine's "begin" hook), where SQLite ignores it, and the rebuild's own begin() would then fail.
        driver = connection.connection.driver_connection
        driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                columns = {t: [c["name"] for c in inspect(connection).get_columns(t)] for t in outdated}
                for table in outdated:
                    for index in inspect(connection).get_indexes(table):
                        connection.exec_driver_sql(f'DROP INDEX "{index["name"]}"')
                for table in reversed(outdated):
                    connection.exec_driver_sql(f'ALTER TABLE "{table}" RENAME TO "_old_{table}"')
                Base.metadata.create_all(connection, tables=[Base.metadata.tables[t] for t in outdated])
                for table in outdated:
                    wanted = [c.name for c in Base.metadata.tables[table].columns]
                    kept = ", ".join(f'"{c}"' for c in wanted if c in columns[table])
                    connection.exec_driver_sql(f'INSERT INTO "{table}" ({kept}) SELECT {kept} FROM "_old_{table}"')
                for table in reversed(outdated):
                    connection.exec_driver_sql(f'DROP TABLE "_old_{table}"')
                problems = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if problems:
                    raise RuntimeError(f"the rebuilt ledger has broken references: {problems[:5]}")
        finally:
            driver.execute("PRAGMA foreign_keys=ON")
