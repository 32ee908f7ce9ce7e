"""Ratings (好差评) of tasks and cases, every version of them, and bad ratings' rectification.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create rating, rating_change and rectification."""
    # Plain DateTime, as in every migration: it must not change when the models do.
    op.create_table(
        "rating",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submission.id"), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("task.id"), nullable=True),
        sa.Column("department_code", sa.String(length=100), nullable=False),
        sa.Column("matter_code", sa.String(length=100), nullable=True),
        sa.Column("bundle_code", sa.String(length=100), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("submission_id", "target", name="uq_rating_submission_target"),
    )
    op.create_index("ix_rating_submission_id", "rating", ["submission_id"])
    op.create_index("ix_rating_matter_code", "rating", ["matter_code"])
    op.create_index("ix_rating_department_created", "rating", ["department_code", "created_at"])
    op.create_index("ix_rating_bundle_created", "rating", ["bundle_code", "created_at"])
    op.create_table(
        "rating_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rating_id", sa.Integer(), sa.ForeignKey("rating.id"), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rating_change_rating_id", "rating_change", ["rating_id"])
    op.create_table(
        "rectification",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rating_id", sa.Integer(), sa.ForeignKey("rating.id"), nullable=False),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submission.id"), nullable=False),
        sa.Column("department_code", sa.String(length=100), nullable=False),
        sa.Column("matter_code", sa.String(length=100), nullable=True),
        sa.Column("bundle_code", sa.String(length=100), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_estimated", sa.Boolean(), nullable=False),
        sa.Column("verified", sa.Text(), nullable=True),
        sa.Column("fix", sa.Text(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replied_by", sa.String(length=200), nullable=True),
        sa.Column("callback_result", sa.String(length=32), nullable=True),
        sa.Column("callback_note", sa.Text(), nullable=True),
        sa.Column("called_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("called_back_by", sa.String(length=200), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
    )
    op.create_index("ix_rectification_rating_id", "rectification", ["rating_id"])
    op.create_index("ix_rectification_submission_id", "rectification", ["submission_id"])
    op.create_index("ix_rectification_department_status_due", "rectification",
                    ["department_code", "status", "due_date"])


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_table("rectification")
    op.drop_table("rating_change")
    op.drop_table("rating")
