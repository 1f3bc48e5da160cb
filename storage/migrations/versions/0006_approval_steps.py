"""Approval steps per revision, tolerance auto-approval, step-bound tokens and buyers away.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("approval_step",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("revision_id", sa.Integer(), nullable=False),
                    sa.Column("number", sa.Integer(), nullable=False),
                    sa.Column("name", sa.String(), nullable=False),
                    sa.Column("approvers", sa.Text(), nullable=False),
                    sa.Column("status", sa.String(length=20), nullable=False),
                    sa.Column("requested_at", sa.String(length=32), nullable=True),
                    sa.Column("decided_at", sa.String(length=32), nullable=True),
                    sa.Column("decided_by", sa.String(), nullable=False),
                    sa.Column("note", sa.Text(), nullable=False),
                    sa.ForeignKeyConstraint(["revision_id"], ["revision.id"]),
                    sa.PrimaryKeyConstraint("id"),
                    sa.UniqueConstraint("revision_id", "number"))
    op.create_index(op.f("ix_approval_step_revision_id"), "approval_step", ["revision_id"], unique=False)
    with op.batch_alter_table("revision") as batch:
        batch.add_column(sa.Column("auto_approve_at", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("auto_approval", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("reply_token") as batch:
        batch.add_column(sa.Column("step", sa.Integer(), nullable=True))
    with op.batch_alter_table("buyer") as batch:
        batch.add_column(sa.Column("away_since", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("buyer") as batch:
        batch.drop_column("away_since")
    with op.batch_alter_table("reply_token") as batch:
        batch.drop_column("step")
    with op.batch_alter_table("revision") as batch:
        batch.drop_column("auto_approval")
        batch.drop_column("auto_approve_at")
    op.drop_index(op.f("ix_approval_step_revision_id"), table_name="approval_step")
    op.drop_table("approval_step")
