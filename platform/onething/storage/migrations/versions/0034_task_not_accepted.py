"""A refusal before acceptance (不予受理) is told from one after examination (不予许可).

Both leave a task "rejected"; `task.not_accepted` says which, for the task page, the
inbox, the applicant's receipt and the API. Tasks refused before this migration keep
false: they read as refused (不予许可), as they did.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add task.not_accepted (false)."""
    # Plain ALTER TABLE, even on SQLite (a constant default): no table is rebuilt.
    op.add_column("task", sa.Column("not_accepted", sa.Boolean(), nullable=False,
                                    server_default=sa.false()))


def downgrade() -> None:
    """Drop it."""
    if op.get_bind().dialect.name == "sqlite":
        # Natively (SQLite 3.35+): a batch would copy the task table and drop the old one,
        # which the tables referring to it refuse.
        op.execute("ALTER TABLE task DROP COLUMN not_accepted")
    else:
        op.drop_column("task", "not_accepted")
