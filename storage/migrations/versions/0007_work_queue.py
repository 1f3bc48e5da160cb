"""The ledger as a work queue: workers' claims on inbound rows, and the fetcher lease.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_message") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=False, server_default=""))
        batch.add_column(sa.Column("claimed_until", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("queue_key", sa.String(length=200), nullable=False, server_default=""))
        batch.create_index("ix_inbound_message_queue", ["status", "id"], unique=False)
        batch.create_index("ix_inbound_message_queue_key", ["status", "queue_key", "id"], unique=False)
        batch.create_index("ix_inbound_message_queue_sender", ["status", "sender", "id"], unique=False)
    op.create_table("fetcher_lease",
                    sa.Column("mailbox", sa.String(length=600), nullable=False),
                    sa.Column("holder", sa.String(length=200), nullable=False),
                    sa.Column("until", sa.String(length=32), nullable=False),
                    sa.PrimaryKeyConstraint("mailbox"))


def downgrade() -> None:
    op.drop_table("fetcher_lease")
    with op.batch_alter_table("inbound_message") as batch:
        batch.drop_index("ix_inbound_message_queue_sender")
        batch.drop_index("ix_inbound_message_queue_key")
        batch.drop_index("ix_inbound_message_queue")
        batch.drop_column("queue_key")
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
