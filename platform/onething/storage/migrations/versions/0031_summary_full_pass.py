"""When the statistics' summary last summarised every day, kept with its watermark.

`onething worker` summarised every day again once per 24 hours of its own running: a
worker restarted more often than daily never did. The time, kept in the database,
lets any worker (or several) do it when it is due. NULL: due at the next worker round.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add stats_summary_state.summarised_all_at."""
    with op.batch_alter_table("stats_summary_state") as batch:
        batch.add_column(sa.Column("summarised_all_at", sa.DateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("stats_summary_state") as batch:
        batch.drop_column("summarised_all_at")
