"""Engine and schema: SQLite in WAL mode with foreign keys on, or PostgreSQL."""
from __future__ import annotations

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from storage import models  # noqa: F401  (registers the tables)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    SQLModel.metadata.create_all(engine)
    check_schema(engine)
    return engine


class SchemaMismatch(Exception):
    """The database was made by another version of supplierbot."""


def check_schema(engine: Engine) -> None:
    """create_all adds missing tables but never columns: refuse an older database by name
    instead of failing later, mid-message, with "no such column"."""
    inspector = inspect(engine)
    missing = [f"{table.name}.{column.name}" for table in SQLModel.metadata.sorted_tables
               for column in table.columns
               if column.name not in {c["name"] for c in inspector.get_columns(table.name)}]
    if missing:
        raise SchemaMismatch(
            f"the database {engine.url.render_as_string(hide_password=True)} was made by an older supplierbot: "
            f"missing {', '.join(missing)}. There are no migrations yet: keep the old version for this "
            f"database, or start a new one.")


def _sqlite_pragmas(connection, _record) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy's documented fix:
    # let the driver autocommit and emit BEGIN ourselves.
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # IMMEDIATE: take the write lock up front, waiting (busy timeout) for another writer.
    # A deferred transaction that reads and then writes fails at once with "database is
    # locked" if another connection committed in between (WAL cannot upgrade a stale
    # snapshot), and the poller, the sender and the scheduled jobs write side by side.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session(engine: Engine) -> Session:
    """A unit of work: repositories never commit; the caller does, once."""
    return Session(engine, expire_on_commit=False)
