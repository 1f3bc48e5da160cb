"""The migrations build exactly the schema the models describe (SQLite and PostgreSQL)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from storage.db import alembic_config, current_revision, head_revision, make_engine
from tests.test_postgres import scratch_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}", prepare=False)
        yield engine
        engine.dispose()
        return
    with scratch_database() as url:
        engine = make_engine(url, prepare=False)
        yield engine
        engine.dispose()


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
