"""A sign-out ends the session everywhere: a key per account and per applicant.

A signed session cookie stayed valid after its browser signed out, so a copy of it
(a shared kiosk, a stolen cookie) kept working until the password changed. Each staff
account and each signed-in applicant now has a key that the cookie's stamp is made
with; signing out draws a new one. Existing rows get ''. Staff cookies stay valid
until they next sign out; an applicant's, which carried no stamp, ends: they sign in
again once.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add account.session_key and applicant.session_key."""
    for table in ("account", "applicant"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("session_key", sa.String(32), nullable=False,
                                       server_default=""))


def downgrade() -> None:
    """Drop them."""
    for table in ("account", "applicant"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("session_key")
