"""Deliveries, receipts and claims; an invoice's payment can be held (three-way match).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _quantity_table(name: str, parent: str) -> None:
    op.create_table(name,
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column(f"{parent}_id", sa.Integer(), nullable=False),
                    sa.Column("sku", sa.String(), nullable=False),
                    sa.Column("quantity", sa.String(length=40), nullable=False),
                    sa.ForeignKeyConstraint([f"{parent}_id"], [f"{parent}.id"]),
                    sa.PrimaryKeyConstraint("id"))
    op.create_index(op.f(f"ix_{name}_{parent}_id"), name, [f"{parent}_id"], unique=False)


def _order_table(name: str, *columns: sa.Column) -> None:
    op.create_table(name,
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("order_id", sa.Integer(), nullable=False),
                    *columns,
                    sa.Column("by", sa.String(), nullable=False),
                    sa.Column("inbound_id", sa.Integer(), nullable=True),
                    sa.Column("created_at", sa.String(length=32), nullable=False),
                    sa.ForeignKeyConstraint(["inbound_id"], ["inbound_message.id"]),
                    sa.ForeignKeyConstraint(["order_id"], ["purchase_order.id"]),
                    sa.PrimaryKeyConstraint("id"))
    op.create_index(op.f(f"ix_{name}_order_id"), name, ["order_id"], unique=False)


def upgrade() -> None:
    _order_table("delivery", sa.Column("number", sa.Integer(), nullable=False),
                 sa.Column("note", sa.Text(), nullable=False))
    _quantity_table("delivery_line", "delivery")
    _order_table("receipt")
    _quantity_table("receipt_line", "receipt")
    _order_table("claim", sa.Column("kind", sa.String(), nullable=False), sa.Column("text", sa.Text(), nullable=False))
    with op.batch_alter_table("invoice") as batch:
        batch.add_column(sa.Column("hold", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("invoice") as batch:
        batch.drop_column("hold")
    for name in ("claim", "receipt_line", "receipt", "delivery_line", "delivery"):
        op.drop_table(name)
