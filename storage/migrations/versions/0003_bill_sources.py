"""Bills read from the supplier's own documents: where each line came from, what did not add up,
and the invoice's net and VAT as read.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("revision") as batch:
        batch.add_column(sa.Column("read_from", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("reconciled", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("doubts", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("revision_line") as batch:
        batch.add_column(sa.Column("source", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("remark", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("doubtful", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("invoice") as batch:
        batch.add_column(sa.Column("net_read", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("tax_read", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoice") as batch:
        batch.drop_column("tax_read")
        batch.drop_column("net_read")
    with op.batch_alter_table("revision_line") as batch:
        batch.drop_column("doubtful")
        batch.drop_column("remark")
        batch.drop_column("source")
    with op.batch_alter_table("revision") as batch:
        batch.drop_column("doubts")
        batch.drop_column("reconciled")
        batch.drop_column("read_from")
