"""Applicant storage: bundle versions, stored files, drafts, submissions and their tasks.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    # Plain DateTime here, not the models' UTCDateTime: a migration must not change
    # when the models do. Both compile to TIMESTAMP WITH TIME ZONE.
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the five tables of the applicant side."""
    op.create_table(
        "bundle_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("bundle_code", sa.String(length=100), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        _timestamp("published_at"),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.UniqueConstraint("bundle_code", "number", name="uq_bundle_version_code_number"),
    )
    op.create_index("ix_bundle_version_bundle_code", "bundle_version", ["bundle_code"])

    op.create_table(
        "stored_file",
        sa.Column("sha256", sa.String(length=64), primary_key=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        _timestamp("created_at"),
    )

    op.create_table(
        "draft",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "bundle_version_id", sa.Integer(), sa.ForeignKey("bundle_version.id"), nullable=False
        ),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("materials", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("submitted_at", nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
    )
    op.create_index("ix_draft_public_id", "draft", ["public_id"], unique=True)
    op.create_index("ix_draft_bundle_version_id", "draft", ["bundle_version_id"])

    op.create_table(
        "submission",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tracking_number", sa.String(length=32), nullable=False),
        sa.Column("draft_id", sa.Integer(), sa.ForeignKey("draft.id"), nullable=False),
        sa.Column(
            "bundle_version_id", sa.Integer(), sa.ForeignKey("bundle_version.id"), nullable=False
        ),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("materials", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        _timestamp("submitted_at"),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
    )
    op.create_index("ix_submission_tracking_number", "submission", ["tracking_number"],
                    unique=True)
    op.create_index("ix_submission_draft_id", "submission", ["draft_id"], unique=True)
    op.create_index("ix_submission_idempotency_key", "submission", ["idempotency_key"],
                    unique=True)
    op.create_index("ix_submission_bundle_version_id", "submission", ["bundle_version_id"])

    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submission.id"), nullable=False),
        sa.Column("department_code", sa.String(length=100), nullable=False),
        sa.Column("matter_code", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("waits_for", sa.JSON(), nullable=False),
        sa.Column("slice_data", sa.JSON(), nullable=False),
        sa.Column("slice_materials", sa.JSON(), nullable=False),
        sa.Column("promised_days", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_estimated", sa.Boolean(), nullable=False),
        _timestamp("created_at"),
    )
    op.create_index("ix_task_submission_id", "task", ["submission_id"])
    op.create_index("ix_task_department_code", "task", ["department_code"])


def downgrade() -> None:
    """Drop the tables, dependents first."""
    op.drop_table("task")
    op.drop_table("submission")
    op.drop_table("draft")
    op.drop_table("stored_file")
    op.drop_table("bundle_version")
