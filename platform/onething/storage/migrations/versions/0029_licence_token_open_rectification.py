"""A licence's unguessable verification token, and one open rectification per rating.

Revision ID: 0029
Revises: 0026
Create Date: 2026-12-01
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

OPEN = "status != 'closed'"


def upgrade() -> None:
    """Give each licence a token; allow one rectification not closed per rating."""
    op.add_column("industry_licence", sa.Column("token", sa.String(length=64), nullable=True))
    licence = sa.table("industry_licence", sa.column("id", sa.Integer()),
                       sa.column("token", sa.String()))
    connection = op.get_bind()
    for (row_id,) in connection.execute(sa.select(licence.c.id)).all():
        connection.execute(sa.update(licence).where(licence.c.id == row_id)
                           .values(token=secrets.token_urlsafe(32)))
    # Nothing refers to industry_licence: SQLite may rebuild it to make the column required.
    with op.batch_alter_table("industry_licence") as batch:
        batch.alter_column("token", existing_type=sa.String(length=64), nullable=False)
    op.create_index("ix_industry_licence_token", "industry_licence", ["token"], unique=True)
    op.create_index("uq_rectification_open_rating", "rectification", ["rating_id"], unique=True,
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))


def downgrade() -> None:
    """Drop them."""
    op.drop_index("uq_rectification_open_rating", table_name="rectification")
    op.drop_index("ix_industry_licence_token", table_name="industry_licence")
    with op.batch_alter_table("industry_licence") as batch:
        batch.drop_column("token")
