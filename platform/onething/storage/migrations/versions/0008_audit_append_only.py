"""The audit log is append-only in the database itself: no UPDATE, no DELETE.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Triggers that refuse changing or deleting audit entries."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_entry_no_{verb.lower()} BEFORE {verb} ON audit_entry
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
            """)
        return
    op.execute("""
        CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$
    """)
    op.execute("""
        CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry
        FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()
    """)


def downgrade() -> None:
    """Drop the triggers."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER audit_entry_no_update")
        op.execute("DROP TRIGGER audit_entry_no_delete")
        return
    op.execute("DROP TRIGGER audit_entry_append_only ON audit_entry")
    op.execute("DROP FUNCTION audit_entry_append_only()")
