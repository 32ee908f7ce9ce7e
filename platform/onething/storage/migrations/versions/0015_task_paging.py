"""Tasks a page at a time: task.updated_at and task.bundle_code, and an index per list order.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# name -> columns: every list of a department's tasks, in the order it is read.
INDEXES = {
    "ix_task_department_status": ["department_code", "status"],
    "ix_task_department_due": ["department_code", "due_date", "id"],
    "ix_task_department_status_due": ["department_code", "status", "due_date", "id"],
    "ix_task_department_bundle_due": ["department_code", "bundle_code", "due_date", "id"],
    "ix_task_department_id": ["department_code", "id"],
    "ix_task_department_updated": ["department_code", "updated_at", "id"],
    "ix_task_department_status_updated": ["department_code", "status", "updated_at", "id"],
}


def upgrade() -> None:
    """Add the columns, fill them for the tasks there are, and index the lists."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    # Plain ALTER TABLE, even on SQLite: rebuilding the table would trip foreign keys. SQLite
    # adds a NOT NULL column only with a default; every insert gives both values anyway.
    op.add_column("task", sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=not sqlite,
        server_default=sa.text("'1970-01-01 00:00:00.000000'") if sqlite else None))
    op.add_column("task", sa.Column(
        "bundle_code", sa.String(length=100), nullable=not sqlite,
        server_default=sa.text("''") if sqlite else None))
    # A task last changed when its audit log says (every change is logged); one decided or
    # created before the log existed, when it was.
    op.execute("UPDATE task SET updated_at = COALESCE("
               "(SELECT MAX(a.at) FROM audit_entry a WHERE a.subject = 'task:' || task.id), "
               "decided_at, created_at)")
    op.execute("UPDATE task SET bundle_code = (SELECT v.bundle_code FROM submission s "
               "JOIN bundle_version v ON v.id = s.bundle_version_id "
               "WHERE s.id = task.submission_id)")
    if not sqlite:
        op.alter_column("task", "updated_at", nullable=False)
        op.alter_column("task", "bundle_code", nullable=False)
    # Each new index starts with the department, as this one did.
    op.drop_index("ix_task_department_code", table_name="task")
    for name, columns in INDEXES.items():
        op.create_index(name, "task", columns)


def downgrade() -> None:
    """Drop them again."""
    for name in INDEXES:
        op.drop_index(name, table_name="task")
    op.create_index("ix_task_department_code", "task", ["department_code"])
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column in place since 3.35; Alembic would rebuild the table.
        op.execute("ALTER TABLE task DROP COLUMN bundle_code")
        op.execute("ALTER TABLE task DROP COLUMN updated_at")
    else:
        op.drop_column("task", "bundle_code")
        op.drop_column("task", "updated_at")
