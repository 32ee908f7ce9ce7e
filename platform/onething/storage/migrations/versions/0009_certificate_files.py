"""The issued certificate's file on an approved task.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add task.certificate_file."""
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("certificate_file", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("task") as batch:
        batch.drop_column("certificate_file")
