"""The electronic licence registry (电子证照库) and the draft's prefilled values.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
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
    # Not in a batch: SQLite adds a column in place, where a batch would copy the table and
    # drop the old one, which the submissions' foreign key to their drafts refuses.
    op.add_column("draft", sa.Column("prefill", sa.JSON(), nullable=False,
                                     server_default=sa.text("'{}'")))


def downgrade() -> None:
    """Drop them."""
    if op.get_bind().dialect.name == "sqlite":
        # Natively (SQLite 3.35+), for the same reason as above.
        op.execute("ALTER TABLE draft DROP COLUMN prefill")
    else:
        op.drop_column("draft", "prefill")
    op.drop_index("ix_licence_holder", table_name="licence")
    op.drop_table("licence")
