"""Indexes for the audit viewer (by person, by date) and the front desk's cases I filed.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index audit entries by actor and time, and drafts by the clerk who started them."""
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor"])
    op.create_index("ix_audit_entry_at", "audit_entry", ["at"])
    op.create_index("ix_draft_created_by", "draft", ["created_by"])


def downgrade() -> None:
    """Drop the indexes."""
    op.drop_index("ix_draft_created_by", table_name="draft")
    op.drop_index("ix_audit_entry_at", table_name="audit_entry")
    op.drop_index("ix_audit_entry_actor", table_name="audit_entry")
