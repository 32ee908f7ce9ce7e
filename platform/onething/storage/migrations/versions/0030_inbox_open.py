"""The inbox opens on the work still to decide: an index of each department's open tasks.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

OPEN = "status NOT IN ('approved', 'rejected', 'stopped', 'closed')"


def upgrade() -> None:
    """Index each department's open tasks in the inbox's order (by due date), all of them
    and by service."""
    op.create_index("ix_task_department_open_due", "task", ["department_code", "due_date", "id"],
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    op.create_index("ix_task_department_open_bundle_due", "task",
                    ["department_code", "bundle_code", "due_date", "id"],
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_task_department_open_bundle_due", table_name="task")
    op.drop_index("ix_task_department_open_due", table_name="task")
