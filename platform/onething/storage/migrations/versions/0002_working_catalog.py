"""The working catalog administrators edit, and a note on each published version.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create catalog_entry; add bundle_version.note."""
    op.create_table(
        "catalog_entry",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False, unique=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.UniqueConstraint("kind", "code", name="uq_catalog_entry_kind_code"),
    )
    with op.batch_alter_table("bundle_version") as batch:
        batch.add_column(sa.Column("note", sa.String(length=500), nullable=True))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("bundle_version") as batch:
        batch.drop_column("note")
    op.drop_table("catalog_entry")
