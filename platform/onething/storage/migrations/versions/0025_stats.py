"""Statistics (issue 21): what each case realised and how each task went, kept for SQL aggregates.

A submission keeps the savings its applicant actually realised (forms, fields,
materials, visits and serial days saved, for the answers given); a task keeps, once
decided, the days it took on its own clock and whether it was on time, and how many
corrections (补正) it asked for. Existing tasks get their corrections counted from
the audit log; their days taken stay unknown (NULL), and the figures leave them out.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

SAVED = ("saved_forms", "saved_fields", "saved_materials", "saved_visits", "saved_days")


def upgrade() -> None:
    """Add the columns and the indexes the statistics read by date."""
    with op.batch_alter_table("submission") as batch:
        for name in SAVED:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("days_taken", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("on_time", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("supplements", sa.Integer(), nullable=False,
                                   server_default="0"))
    op.execute("UPDATE task SET supplements = (SELECT count(*) FROM audit_entry "
               "WHERE audit_entry.action = 'supplement' "
               "AND audit_entry.subject = 'task:' || task.id)")
    # Each with every column the statistics group and count by: read from the index alone.
    op.create_index("ix_submission_statistics", "submission",
                    ["submitted_at", "bundle_version_id", *SAVED])
    op.create_index("ix_task_statistics", "task",
                    ["created_at", "department_code", "bundle_code", "matter_code", "status",
                     "days_taken", "on_time", "supplements", "promised_days"])
    op.create_index("ix_rating_statistics", "rating",
                    ["created_at", "department_code", "bundle_code", "matter_code", "level"])
    op.create_index("ix_rectification_opened_at", "rectification", ["opened_at"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_rectification_opened_at", table_name="rectification")
    op.drop_index("ix_rating_statistics", table_name="rating")
    op.drop_index("ix_task_statistics", table_name="task")
    op.drop_index("ix_submission_statistics", table_name="submission")
    for table, names in (("task", ("supplements", "on_time", "days_taken")),
                         ("submission", SAVED)):
        for name in names:
            if op.get_bind().dialect.name == "sqlite":
                # Natively (SQLite 3.35+): a batch would copy the table and drop the old
                # one, which the foreign keys to it (tasks to submissions) refuse.
                op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
            else:
                op.drop_column(table, name)
