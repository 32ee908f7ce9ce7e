"""Closed tasks (a case refused elsewhere) leave the index of open tasks due soon.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# Written out here, not imported: the migration must not change when the models do.
TASK_OPEN = "status NOT IN ('approved', 'rejected', 'stopped', 'closed')"
TASK_OPEN_0014 = "status NOT IN ('approved', 'rejected', 'stopped')"


def upgrade() -> None:
    """Recreate ix_task_open_due_date without the closed tasks."""
    op.drop_index("ix_task_open_due_date", table_name="task")
    op.create_index("ix_task_open_due_date", "task", ["due_date"],
                    sqlite_where=sa.text(TASK_OPEN), postgresql_where=sa.text(TASK_OPEN))


def downgrade() -> None:
    """The index as migration 0014 made it."""
    op.drop_index("ix_task_open_due_date", table_name="task")
    op.create_index("ix_task_open_due_date", "task", ["due_date"],
                    sqlite_where=sa.text(TASK_OPEN_0014),
                    postgresql_where=sa.text(TASK_OPEN_0014))
