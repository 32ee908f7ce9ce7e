"""Webhooks of departments' systems and the outbox their events are delivered from.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create webhook and outbox_event."""
    op.create_table(
        "webhook",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("department_code", sa.String(length=100), nullable=False, unique=True),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "outbox_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("delivery_id", sa.String(length=64), nullable=False, unique=True),
        sa.Column("department_code", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String(length=50), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
    )
    op.create_index("ix_outbox_event_department_code", "outbox_event", ["department_code"])
    op.create_index("ix_outbox_event_next_attempt_at", "outbox_event", ["next_attempt_at"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_outbox_event_next_attempt_at", table_name="outbox_event")
    op.drop_index("ix_outbox_event_department_code", table_name="outbox_event")
    op.drop_table("outbox_event")
    op.drop_table("webhook")
