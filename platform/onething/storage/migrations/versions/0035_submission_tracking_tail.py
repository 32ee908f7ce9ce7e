"""Staff find a case by its tracking number's last six characters, as callers read them out.

An index on the expression `substr(tracking_number, 12)` (models.tracking_tail), so the
inbox's search by a number's end reads only the submissions it finds, on both databases.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index the tracking numbers' tails."""
    op.create_index("ix_submission_tracking_tail", "submission",
                    [sa.text("substr(tracking_number, 12)")])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_submission_tracking_tail", table_name="submission")
