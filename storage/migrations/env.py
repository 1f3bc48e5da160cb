"""Alembic environment, driven from code (storage.db.migrate), never from an alembic.ini.

The caller passes an open connection in `config.attributes["connection"]`.
"""
from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from storage import models  # noqa: F401  (registers the tables for comparisons)

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
