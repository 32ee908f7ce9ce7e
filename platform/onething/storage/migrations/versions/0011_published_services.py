"""The public directory: one row per published bundle and matter alone, with its search text.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create published_service.

    Rows for versions published before it existed are written when the app starts
    (`refresh` of the directory): they are derived from each snapshot by the platform's
    own code.
    """
    op.create_table(
        "published_service",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("bundle_version.id"),
                  nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("description", sa.JSON(), nullable=True),
        sa.Column("audience", sa.String(length=32), nullable=True),
        sa.Column("theme", sa.String(length=100), nullable=True),
        sa.Column("department_code", sa.String(length=100), nullable=True),
        sa.Column("department_name", sa.JSON(), nullable=True),
        sa.Column("matters", sa.Integer(), nullable=False),
        sa.Column("search", sa.JSON(), nullable=False),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_published_service_kind_code", "published_service", ["kind", "code"])
    op.create_index("ix_published_service_version_id", "published_service", ["version_id"])
    op.create_index("ix_published_service_department_code", "published_service",
                    ["department_code"])


def downgrade() -> None:
    """Drop it again."""
    op.drop_table("published_service")
