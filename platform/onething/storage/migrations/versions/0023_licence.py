"""一业一证: comprehensive licences, their running numbers, revoked permits, joint inspections.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create industry_licence, licence_sequence, permit_revocation and the inspections."""
    op.create_table(
        "industry_licence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submission.id"),
                  nullable=False, unique=True),
        sa.Column("bundle_code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("industry", sa.JSON(), nullable=False),
        sa.Column("issuer", sa.JSON(), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        # Plain DateTime, as in every migration: it must not change when the models do.
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
    )
    op.create_index("ix_industry_licence_number", "industry_licence", ["number"], unique=True)
    op.create_table(
        "licence_sequence",
        sa.Column("bundle_code", sa.String(length=100), primary_key=True),
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last", sa.Integer(), nullable=False),
    )
    op.create_table(
        "permit_revocation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("task.id"), nullable=False,
                  unique=True),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("revoked_by", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "joint_inspection",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submission.id"),
                  nullable=False, unique=True),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("scheduled_by", sa.String(length=200), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "inspection_finding",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("inspection_id", sa.Integer(), sa.ForeignKey("joint_inspection.id"),
                  nullable=False),
        sa.Column("department_code", sa.String(length=100), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.String(length=2000), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("inspection_id", "department_code",
                            name="uq_inspection_finding_department"),
    )
    op.create_index("ix_inspection_finding_inspection_id", "inspection_finding",
                    ["inspection_id"])


def downgrade() -> None:
    """Drop the five tables."""
    op.drop_index("ix_inspection_finding_inspection_id", table_name="inspection_finding")
    op.drop_table("inspection_finding")
    op.drop_table("joint_inspection")
    op.drop_table("permit_revocation")
    op.drop_table("licence_sequence")
    op.drop_index("ix_industry_licence_number", table_name="industry_licence")
    op.drop_table("industry_licence")
