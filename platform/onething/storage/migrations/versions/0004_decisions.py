"""Decisions on tasks (certificate, reason, when) and the append-only audit log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the decision columns to task; create audit_entry."""
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("certificate_number", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("reason", sa.String(length=2000), nullable=True))
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
    )
    op.create_index("ix_audit_entry_subject", "audit_entry", ["subject"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_audit_entry_subject", table_name="audit_entry")
    op.drop_table("audit_entry")
    with op.batch_alter_table("task") as batch:
        batch.drop_column("reason")
        batch.drop_column("certificate_number")
        batch.drop_column("decided_at")
