"""Values handed over between the matters of a case (办结产出), on each task.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add task.handover: what the task's approval yields, what it receives, the values."""
    # Plain ALTER TABLE, even on SQLite: rebuilding the table would trip foreign keys.
    op.add_column("task", sa.Column("handover", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop it again."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE task DROP COLUMN handover")
    else:
        op.drop_column("task", "handover")
