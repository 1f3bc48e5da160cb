"""The migrations build exactly the schema the models describe (SQLite and PostgreSQL)."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from storage.db import alembic_config, current_revision, head_revision, make_engine

POSTGRES = os.environ.get("SUPPLIERBOT_TEST_POSTGRES_URL", "")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}", prepare=False)
        yield engine
        engine.dispose()
        return
    if not POSTGRES:
        pytest.skip("SUPPLIERBOT_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL server and sets it)")
    import psycopg

    name = f"supplierbot_migrations_{uuid.uuid4().hex[:12]}"
    admin = POSTGRES.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(POSTGRES.rsplit("/", 1)[0] + "/" + name, prepare=False)
    yield engine
    engine.dispose()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}"')


def test_migrating_an_empty_database_gives_the_models_schema(empty_database: Engine) -> None:
    with empty_database.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    assert current_revision(empty_database) == head_revision()
    with empty_database.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_downgrading_to_the_baseline_and_back_round_trips(empty_database: Engine) -> None:
    with empty_database.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
        command.downgrade(alembic_config(connection), "0001")
        command.upgrade(alembic_config(connection), "head")
    with empty_database.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
