"""The lead department of each submission, which follows all of its tasks.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add submission.lead_department, filled from each submission's bundle version.

    A bundle names its lead department; a matter applied for alone is led by its own
    department.
    """
    # Plain ALTER TABLE, even on SQLite: rebuilding the table would trip the tasks'
    # foreign keys to it.
    op.add_column("submission", sa.Column("lead_department", sa.String(length=100),
                                          nullable=True))
    op.create_index("ix_submission_lead_department", "submission", ["lead_department"])
    connection = op.get_bind()
    # (PostgreSQL's json type has no equality, so no DISTINCT over the snapshot itself.)
    versions = connection.execute(sa.text(
        "SELECT v.id, v.bundle_code, v.documents FROM bundle_version v WHERE v.id IN "
        "(SELECT bundle_version_id FROM submission)")).all()
    for version_id, code, documents in versions:
        if isinstance(documents, str):
            documents = json.loads(documents)
        lead = None
        for document in documents or []:
            data = document.get("data", {})
            if data.get("code") != code:
                continue
            if document.get("kind") == "bundle":
                lead = data.get("lead_department")
            elif document.get("kind") == "matter" and lead is None:
                lead = data.get("department")
        connection.execute(sa.text("UPDATE submission SET lead_department = :lead "
                                   "WHERE bundle_version_id = :version"),
                           {"lead": lead, "version": version_id})


def downgrade() -> None:
    """Drop it again."""
    op.drop_index("ix_submission_lead_department", table_name="submission")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column in place since 3.35; Alembic would rebuild the table.
        op.execute("ALTER TABLE submission DROP COLUMN lead_department")
    else:
        op.drop_column("submission", "lead_department")
