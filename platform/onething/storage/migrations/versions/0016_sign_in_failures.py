"""Failed sign-ins, by address and username, shared by every process.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create sign_in_failure, indexed for counting one address's or one name's failures."""
    op.create_table(
        "sign_in_failure",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        # Plain DateTime, as in every migration: it must not change when the models do.
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sign_in_failure_address", "sign_in_failure", ["address"])
    op.create_index("ix_sign_in_failure_username", "sign_in_failure", ["username"])
    op.create_index("ix_sign_in_failure_failed_at", "sign_in_failure", ["failed_at"])


def downgrade() -> None:
    """Drop sign_in_failure."""
    op.drop_table("sign_in_failure")
