"""The supplier's language, and where and for whom an order is delivered.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("supplier") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=False, server_default=""))
    with op.batch_alter_table("purchase_order") as batch:
        batch.add_column(sa.Column("deliver_to", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("buyer_ref", sa.String(length=80), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("purchase_order") as batch:
        batch.drop_column("buyer_ref")
        batch.drop_column("deliver_to")
    with op.batch_alter_table("supplier") as batch:
        batch.drop_column("language")
