"""Requests for correction (补正) on tasks.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add task.supplement."""
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("supplement", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("task") as batch:
        batch.drop_column("supplement")
