"""Webhook deliveries claimed by one deliverer at a time, given up on visibly, signed the
Standard Webhooks way.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import base64

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

PENDING = "delivered_at IS NULL AND failed_at IS NULL"
FAILED = "failed_at IS NOT NULL"
TASK_OPEN = "status NOT IN ('approved', 'rejected', 'stopped')"
SECRET_PREFIX = "whsec_"


def upgrade() -> None:
    """Add the claim of each webhook, failed and redelivered events, reminders' keys, indexes.

    Existing secrets become Standard Webhooks secrets with the same key: "whsec_" and the
    old secret's bytes in base64, so the HMAC key, and the X-OneThing-Signature their
    receivers check, stay the same; those hooks keep getting that header (legacy_signature).
    """
    # Plain ALTER TABLE, even on SQLite (constant defaults only): no table is rebuilt.
    op.add_column("webhook", sa.Column("legacy_signature", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    op.add_column("webhook", sa.Column("claimed_by", sa.String(length=64), nullable=True))
    op.add_column("webhook", sa.Column("claimed_until", sa.DateTime(timezone=True),
                                       nullable=True))
    op.add_column("outbox_event", sa.Column("failed_at", sa.DateTime(timezone=True),
                                            nullable=True))
    op.add_column("outbox_event", sa.Column("redelivered_at", sa.DateTime(timezone=True),
                                            nullable=True))
    op.add_column("outbox_event", sa.Column("dedupe_key", sa.String(length=100), nullable=True))
    webhook = sa.table("webhook", sa.column("id", sa.Integer()), sa.column("secret", sa.String()),
                       sa.column("legacy_signature", sa.Boolean()))
    connection = op.get_bind()
    for hook_id, secret in connection.execute(sa.select(webhook.c.id, webhook.c.secret)).all():
        if secret.startswith(SECRET_PREFIX):
            continue
        connection.execute(webhook.update().where(webhook.c.id == hook_id).values(
            secret=SECRET_PREFIX + base64.b64encode(secret.encode()).decode(),
            legacy_signature=True))
    op.create_index("ix_outbox_event_due", "outbox_event",
                    ["department_code", "next_attempt_at", "id"],
                    sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING))
    op.create_index("ix_outbox_event_failed", "outbox_event", ["department_code", "id"],
                    sqlite_where=sa.text(FAILED), postgresql_where=sa.text(FAILED))
    # Deadline reminders: once per task and kind, and the open tasks due soon.
    op.create_index("ix_outbox_event_dedupe_key", "outbox_event", ["dedupe_key"], unique=True)
    op.create_index("ix_task_open_due_date", "task", ["due_date"],
                    sqlite_where=sa.text(TASK_OPEN), postgresql_where=sa.text(TASK_OPEN))


def downgrade() -> None:
    """Drop them again; the secrets of legacy hooks get their old form back."""
    webhook = sa.table("webhook", sa.column("id", sa.Integer()), sa.column("secret", sa.String()),
                       sa.column("legacy_signature", sa.Boolean()))
    connection = op.get_bind()
    for hook_id, secret in connection.execute(sa.select(webhook.c.id, webhook.c.secret).where(
            webhook.c.legacy_signature.is_(True))).all():
        old = base64.b64decode(secret.removeprefix(SECRET_PREFIX)).decode()
        connection.execute(webhook.update().where(webhook.c.id == hook_id).values(secret=old))
    op.drop_index("ix_task_open_due_date", table_name="task")
    op.drop_index("ix_outbox_event_dedupe_key", table_name="outbox_event")
    op.drop_index("ix_outbox_event_failed", table_name="outbox_event")
    op.drop_index("ix_outbox_event_due", table_name="outbox_event")
    sqlite = connection.dialect.name == "sqlite"
    for table, column in (("outbox_event", "dedupe_key"), ("outbox_event", "redelivered_at"),
                          ("outbox_event", "failed_at"), ("webhook", "claimed_until"),
                          ("webhook", "claimed_by"), ("webhook", "legacy_signature")):
        if sqlite:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        else:
            op.drop_column(table, column)
