"""Deadlines the way the law counts them: each task's clock, and the holiday calendar.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_CLOCK = ("counting", "clock_started_on", "paused_days", "paused_since", "special_procedure")
_CHINA = dt.timezone(dt.timedelta(hours=8))


def upgrade() -> None:
    """Add the task's clock; create holiday_year and holiday_day."""
    # Plain ALTER TABLE, even on SQLite: rebuilding the table would trip foreign keys.
    op.add_column("task", sa.Column("counting", sa.String(length=32), nullable=False,
                                    server_default="working_days"))
    op.add_column("task", sa.Column("clock_started_on", sa.Date(), nullable=True))
    op.add_column("task", sa.Column("paused_days", sa.Integer(), nullable=False,
                                    server_default="0"))
    op.add_column("task", sa.Column("paused_since", sa.Date(), nullable=True))
    op.add_column("task", sa.Column("special_procedure", sa.JSON(), nullable=True))
    # Tasks routed before: a task that does not wait started its clock when it was
    # routed, in China's date. Their counting is their matter's, as it was published.
    task = sa.table("task", sa.column("id", sa.Integer()), sa.column("status", sa.String()),
                    sa.column("created_at", sa.DateTime(timezone=True)),
                    sa.column("clock_started_on", sa.Date()))
    bind = op.get_bind()
    for row in bind.execute(sa.select(task.c.id, task.c.created_at)
                            .where(task.c.status != "waiting")).all():
        created = row.created_at
        if isinstance(created, str):  # SQLite hands back the stored text
            created = dt.datetime.fromisoformat(created)
        if created.tzinfo is None:
            created = created.replace(tzinfo=dt.UTC)
        bind.execute(sa.update(task).where(task.c.id == row.id)
                     .values(clock_started_on=created.astimezone(_CHINA).date()))
    _counting_from_the_published_matters(bind)
    op.create_table(
        "holiday_year",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("entered_by", sa.String(length=200), nullable=False),
        # Plain DateTime, as in every migration: it must not change when the models do.
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "holiday_day",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("year", sa.Integer(), sa.ForeignKey("holiday_year.year"), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
    )
    op.create_index("ix_holiday_day_year", "holiday_day", ["year"])


def downgrade() -> None:
    """Drop the calendar tables and the task's clock."""
    op.drop_table("holiday_day")
    op.drop_table("holiday_year")
    for name in _CLOCK:
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE task DROP COLUMN {name}")
        else:
            op.drop_column("task", name)


def _counting_from_the_published_matters(bind) -> None:
    """Set counting to calendar_days on the tasks whose published matter counts so."""
    version = sa.table("bundle_version", sa.column("id", sa.Integer()),
                       sa.column("documents", sa.JSON()))
    submission = sa.table("submission", sa.column("id", sa.Integer()),
                          sa.column("bundle_version_id", sa.Integer()))
    task = sa.table("task", sa.column("submission_id", sa.Integer()),
                    sa.column("matter_code", sa.String()), sa.column("counting", sa.String()))
    for version_id, documents in bind.execute(sa.select(version.c.id, version.c.documents)):
        if isinstance(documents, str):
            documents = json.loads(documents)
        calendar = [d["data"].get("code") for d in documents or []
                    if d.get("kind") == "matter" and isinstance(d.get("data"), dict)
                    and (d["data"].get("time_limit") or {}).get("counting") == "calendar_days"]
        if calendar:
            bind.execute(sa.update(task).where(
                task.c.matter_code.in_(calendar),
                task.c.submission_id.in_(sa.select(submission.c.id).where(
                    submission.c.bundle_version_id == version_id)))
                .values(counting="calendar_days"))
