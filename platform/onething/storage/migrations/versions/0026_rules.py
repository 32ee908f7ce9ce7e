"""Rules: a matter's 秒批 setting, and 免申即享 offers.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the matter settings and the benefit offers."""
    op.create_table(
        "matter_setting",
        sa.Column("matter_code", sa.String(64), primary_key=True),
        sa.Column("instant_approval", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "benefit_offer",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(64), nullable=False),
        sa.Column("matter_code", sa.String(64), nullable=False),
        sa.Column("holder_code", sa.String(32), nullable=False),
        sa.Column("holder_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("objection", sa.String(2000), nullable=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submission.id"), nullable=True),
        sa.UniqueConstraint("matter_code", "holder_code", name="uq_benefit_offer_holder"),
    )
    op.create_index("ix_benefit_offer_public_id", "benefit_offer", ["public_id"], unique=True)
    op.create_index("ix_benefit_offer_matter_code", "benefit_offer", ["matter_code"])
    op.create_index("ix_benefit_offer_holder_code", "benefit_offer", ["holder_code"])


def downgrade() -> None:
    """Drop them."""
    op.drop_table("benefit_offer")
    op.drop_table("matter_setting")
