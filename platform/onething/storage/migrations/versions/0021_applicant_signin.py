"""Applicants signed in through the identity platform (统一身份认证), and their drafts.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create applicant; give each draft the applicant who owns it, indexed for 我的办件."""
    op.create_table(
        "applicant",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("id_number", sa.String(length=64), nullable=True),
        sa.Column("mobile", sa.String(length=64), nullable=True),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_applicant_subject", "applicant", ["subject"], unique=True)
    with op.batch_alter_table("draft") as batch:
        batch.add_column(sa.Column("applicant", sa.String(length=64), nullable=True))
    op.create_index("ix_draft_applicant", "draft", ["applicant"])


def downgrade() -> None:
    """Drop the draft's applicant and the applicant table."""
    op.drop_index("ix_draft_applicant", table_name="draft")
    if op.get_bind().dialect.name == "sqlite":
        # Natively (SQLite 3.35+): a batch would copy the draft table and drop the old one,
        # which the submissions' foreign key to their drafts refuses.
        op.execute("ALTER TABLE draft DROP COLUMN applicant")
    else:
        op.drop_column("draft", "applicant")
    op.drop_index("ix_applicant_subject", table_name="applicant")
    op.drop_table("applicant")
