"""Engine and schema: SQLite in WAL mode with foreign keys on, or PostgreSQL."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, SQLModel, create_engine

from storage import models  # noqa: F401  (registers the tables)
from storage.turns import take_turns


MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"  # the schema of the first release, made by create_all before migrations existed


class SchemaMismatch(Exception):
    """The database was made by another version of supplierbot."""


def make_engine(url: str, prepare: bool = True) -> Engine:
    """The engine, with the schema checked: a new database is created at the current
    revision; an older one is refused until `supplierbot db upgrade` has run."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        take_turns(engine, SQLITE_BEGIN)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if prepare:
        current, head = _adopt(engine), head_revision()
        if current != head:
            raise SchemaMismatch(
                f"the database {_name(engine)} is at schema revision {current}, this version needs {head}: "
                f"back it up, then run `supplierbot db upgrade`")
        check_schema(engine)
    return engine


def upgrade_schema(engine: Engine) -> tuple[str | None, str]:
    """Run the migrations up to the current revision; (revision before, revision after)."""
    before = _adopt(engine)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    return before, current_revision(engine) or ""


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config(None)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _adopt(engine: Engine) -> str | None:
    """Create a new database at the current revision, or mark one made before migrations
    existed as the baseline; the database's revision."""
    tables = set(inspect(engine).get_table_names())
    if not tables & set(SQLModel.metadata.tables):
        with engine.begin() as connection:  # one transaction: never tables without their revision
            SQLModel.metadata.create_all(connection)
            command.stamp(alembic_config(connection), "head")
    elif "alembic_version" not in tables:
        with engine.begin() as connection:
            command.stamp(alembic_config(connection), BASELINE)
    return current_revision(engine)


def alembic_config(connection: Connection | None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _name(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def check_schema(engine: Engine) -> None:
    """Every model column is in the database (a migration forgotten for a model change
    fails here, at start-up, not mid-message with "no such column")."""
    inspector = inspect(engine)
    missing = [f"{table.name}.{column.name}" for table in SQLModel.metadata.sorted_tables
               for column in table.columns
               if column.name not in {c["name"] for c in inspector.get_columns(table.name)}]
    if missing:
        raise SchemaMismatch(f"the database {_name(engine)} lacks {', '.join(missing)}: a migration is missing")


def _sqlite_pragmas(connection, _record) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy's documented fix:
    # let the driver autocommit and emit BEGIN ourselves.
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


#: IMMEDIATE: take the write lock up front, waiting (busy timeout) for another writer. A deferred
#: transaction that reads and then writes fails at once with "database is locked" if another
#: connection committed in between (WAL cannot upgrade a stale snapshot), and the poller, the
#: worker, the sender and the scheduled jobs write side by side (in turns: storage/turns.py).
SQLITE_BEGIN = "BEGIN IMMEDIATE"


def session(engine: Engine) -> Session:
    """A unit of work: repositories never commit; the caller does, once."""
    return Session(engine, expire_on_commit=False)
