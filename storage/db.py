"""Engine and schema: SQLite in WAL mode with foreign keys on, or PostgreSQL."""
from __future__ import annotations

from sqlalchemy import event
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
    return engine


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
