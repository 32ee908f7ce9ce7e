"""A licence's unguessable verification token, and one open rectification per rating.

Licences issued before keep their printed number link (number_link): it redirects to the
token's page. A rating with several open rectifications (the race the index prevents) keeps
its earliest; the others are closed as merged into it, each with an audit entry.

Revision ID: 0029
Revises: 0026
Create Date: 2026-12-01
"""

from __future__ import annotations

import datetime as dt
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
    # Licences issued so far carry the number link on paper (QR code): it must keep working.
    op.add_column("industry_licence", sa.Column("number_link", sa.Boolean(), nullable=False,
                                                server_default=sa.false()))
    licence = sa.table("industry_licence", sa.column("id", sa.Integer()),
                       sa.column("token", sa.String()),
                       sa.column("number_link", sa.Boolean()))
    connection = op.get_bind()
    connection.execute(sa.update(licence).values(number_link=True))
    for (row_id,) in connection.execute(sa.select(licence.c.id)).all():
        connection.execute(sa.update(licence).where(licence.c.id == row_id)
                           .values(token=secrets.token_urlsafe(32)))
    # Nothing refers to industry_licence: SQLite may rebuild it to make the column required.
    with op.batch_alter_table("industry_licence") as batch:
        batch.alter_column("token", existing_type=sa.String(length=64), nullable=False)
    op.create_index("ix_industry_licence_token", "industry_licence", ["token"], unique=True)
    _merge_open_rectifications(connection)
    op.create_index("uq_rectification_open_rating", "rectification", ["rating_id"], unique=True,
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))


def _merge_open_rectifications(connection) -> None:
    """Close all but the earliest open rectification of each rating, so the index can hold."""
    rectification = sa.table(
        "rectification", sa.column("id", sa.Integer()), sa.column("rating_id", sa.Integer()),
        sa.column("status", sa.String()), sa.column("closed_at", sa.DateTime(timezone=True)),
        sa.column("closed_by", sa.String()), sa.column("updated_at", sa.DateTime(timezone=True)))
    audit = sa.table(
        "audit_entry", sa.column("at", sa.DateTime(timezone=True)), sa.column("actor", sa.String()),
        sa.column("action", sa.String()), sa.column("subject", sa.String()),
        sa.column("before", sa.JSON()), sa.column("after", sa.JSON()))
    rows = connection.execute(
        sa.select(rectification.c.id, rectification.c.rating_id, rectification.c.status)
        .where(sa.text(OPEN)).order_by(rectification.c.rating_id, rectification.c.id)).all()
    now = dt.datetime.now(dt.UTC)
    kept: dict[int, int] = {}
    for row_id, rating_id, status in rows:
        if rating_id not in kept:
            kept[rating_id] = row_id
            continue
        # The model has no closing note: closed_by, shown as "closed by", says why.
        closed_by = f"system (migration 0029: merged into rectification {kept[rating_id]})"
        connection.execute(sa.update(rectification).where(rectification.c.id == row_id).values(
            status="closed", closed_at=now, closed_by=closed_by, updated_at=now))
        connection.execute(sa.insert(audit).values(
            at=now, actor="system", action="rectification_close",
            subject=f"rectification:{row_id}", before={"status": status},
            after={"status": "closed", "merged_into": kept[rating_id], "note": closed_by}))


def downgrade() -> None:
    """Drop them."""
    op.drop_index("uq_rectification_open_rating", table_name="rectification")
    op.drop_index("ix_industry_licence_token", table_name="industry_licence")
    with op.batch_alter_table("industry_licence") as batch:
        batch.drop_column("number_link")
        batch.drop_column("token")
