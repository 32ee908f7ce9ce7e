"""The inbox's search by name reads an index of the department's names, not its rows.

Revision ID: 0028
Revises: 0026
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index each department's party names with the inbox's keys."""
    op.create_index("ix_task_department_party_name", "task",
                    ["department_code", "party_name", "due_date", "id"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_task_department_party_name", table_name="task")
