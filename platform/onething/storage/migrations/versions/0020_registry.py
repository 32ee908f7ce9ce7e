"""The electronic licence registry (电子证照库) and the draft's prefilled values.

Revision ID: 0020_registry
Revises: 0019
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_registry"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the licence table; give drafts their prefilled values (none so far)."""
    op.create_table(
        "licence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("type_code", sa.String(64), nullable=False),
        sa.Column("number", sa.String(100), nullable=False),
        sa.Column("holder_code", sa.String(32), nullable=False),
        sa.Column("holder_name", sa.String(200), nullable=False),
        sa.Column("issuer", sa.String(200), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("file", sa.String(64), nullable=True),
        sa.Column("trust", sa.String(1), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("type_code", "number", name="uq_licence_type_number"),
    )
    op.create_index("ix_licence_holder", "licence", ["holder_code", "type_code"])
    with op.batch_alter_table("draft") as batch:
        batch.add_column(sa.Column("prefill", sa.JSON(), nullable=False,
                                   server_default=sa.text("'{}'")))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("draft") as batch:
        batch.drop_column("prefill")
    op.drop_index("ix_licence_holder", table_name="licence")
    op.drop_table("licence")
