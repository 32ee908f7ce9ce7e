"""The statistics' daily summary (issue 21): a row per China day and group, kept up to date.

Adds the four summary tables (and the task and rating ones summed by month), their
watermark row and what the refresh reads changes
by: rectifications get an updated_at (existing ones: their latest step), and tasks,
ratings and rectifications an index on updated_at. The summary is not filled here:
its watermark row starts empty, so the first refresh (the first read of the figures,
`onething worker`, or `onething stats --rebuild`) summarises every day, with the
working-day calendar the rectifications' days are counted on.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

KEYS = ("bundle_code", "matter_code", "department_code")


def _keys(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.String(100), primary_key=True) for name in names]


def _counts(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def upgrade() -> None:
    """Create the summary and what its refresh reads changes by."""
    op.create_table(
        "stats_task_day",
        sa.Column("day", sa.Date(), primary_key=True), *_keys(*KEYS),
        sa.Column("days_taken", sa.Integer(), primary_key=True, autoincrement=False),
        *_counts("received", "completed", "refused", "in_progress", "on_time", "promised_sum",
                 "corrected"))
    op.create_table(
        "stats_rating_day",
        sa.Column("day", sa.Date(), primary_key=True), *_keys(*KEYS),
        sa.Column("level", sa.Integer(), primary_key=True, autoincrement=False),
        *_counts("ratings"))
    # The same summed by month (`month`: its first day): what a whole month reads.
    op.create_table(
        "stats_task_month",
        sa.Column("month", sa.Date(), primary_key=True), *_keys(*KEYS),
        sa.Column("days_taken", sa.Integer(), primary_key=True, autoincrement=False),
        *_counts("received", "completed", "refused", "in_progress", "on_time", "promised_sum",
                 "corrected"))
    op.create_table(
        "stats_rating_month",
        sa.Column("month", sa.Date(), primary_key=True), *_keys(*KEYS),
        sa.Column("level", sa.Integer(), primary_key=True, autoincrement=False),
        *_counts("ratings"))
    op.create_table(
        "stats_rectification_day",
        sa.Column("day", sa.Date(), primary_key=True), *_keys(*KEYS),
        *_counts("opened", "closed", "closed_days"))
    op.create_table(
        "stats_case_day",
        sa.Column("day", sa.Date(), primary_key=True), *_keys("bundle_code", "department_code"),
        *_counts("cases", "saved_forms", "saved_fields", "saved_materials", "saved_visits",
                 "saved_days"))
    state = op.create_table(
        "stats_summary_state",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("marks", sa.JSON(), nullable=False),
        sa.Column("calendar", sa.String(64), nullable=False))
    op.bulk_insert(state, [{"id": 1, "refreshed_at": None, "marks": {}, "calendar": ""}])
    op.add_column("rectification", sa.Column("updated_at", sa.DateTime(timezone=True),
                                             nullable=True))
    op.execute("UPDATE rectification SET updated_at = "
               "COALESCE(closed_at, called_back_at, replied_at, opened_at)")
    # Not NULL from now on. SQLite copies the table for it: nothing refers to a
    # rectification, so its foreign keys let it.
    with op.batch_alter_table("rectification") as batch:
        batch.alter_column("updated_at", existing_type=sa.DateTime(timezone=True),
                           nullable=False)
    op.create_index("ix_task_updated", "task", ["updated_at"])
    op.create_index("ix_rating_updated", "rating", ["updated_at"])
    op.create_index("ix_rectification_updated", "rectification", ["updated_at"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_rectification_updated", table_name="rectification")
    op.drop_index("ix_rating_updated", table_name="rating")
    op.drop_index("ix_task_updated", table_name="task")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE rectification DROP COLUMN updated_at")
    else:
        op.drop_column("rectification", "updated_at")
    for table in ("stats_summary_state", "stats_case_day", "stats_rectification_day",
                  "stats_rating_month", "stats_task_month", "stats_rating_day",
                  "stats_task_day"):
        op.drop_table(table)
