"""Who each task's case is for, from its slice: the inbox shows and searches them.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# As cases/parties.py reads a slice, frozen here: a migration never imports the app.
NAME_FIELDS = ("entity_name", "applicant_name")
CODE_FIELD = "entity_uscc"
CREDIT_CODE = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{18}")
BATCH = 1000


def _party(slice_data) -> tuple[str | None, str | None]:
    data = json.loads(slice_data) if isinstance(slice_data, str) else (slice_data or {})
    name = next((data[f].strip() for f in NAME_FIELDS
                 if isinstance(data.get(f), str) and data[f].strip()), None)
    code = data.get(CODE_FIELD)
    code = code.strip().upper() if isinstance(code, str) and code.strip() else None
    return (name[:200] if name else None,
            code if code and CREDIT_CODE.fullmatch(code) else None)


def upgrade() -> None:
    """Add task.party_name and party_code, filled from the slices already routed."""
    op.add_column("task", sa.Column("party_name", sa.String(200), nullable=True))
    op.add_column("task", sa.Column("party_code", sa.String(18), nullable=True))
    op.create_index("ix_task_department_party_code", "task", ["department_code", "party_code"])
    connection = op.get_bind()
    task = sa.table("task", sa.column("id", sa.Integer), sa.column("slice_data", sa.JSON),
                    sa.column("party_name", sa.String), sa.column("party_code", sa.String))
    last = 0
    while True:
        rows = connection.execute(sa.select(task.c.id, task.c.slice_data)
                                  .where(task.c.id > last).order_by(task.c.id)
                                  .limit(BATCH)).all()
        if not rows:
            break
        for row in rows:
            name, code = _party(row.slice_data)
            if name or code:
                connection.execute(task.update().where(task.c.id == row.id)
                                   .values(party_name=name, party_code=code))
        last = rows[-1].id


def downgrade() -> None:
    """Drop the columns."""
    op.drop_index("ix_task_department_party_code", table_name="task")
    for column in ("party_code", "party_name"):
        if op.get_bind().dialect.name == "sqlite":
            # Natively (SQLite 3.35+): a batch would copy the task table and drop the old one.
            op.execute(f"ALTER TABLE task DROP COLUMN {column}")
        else:
            op.drop_column("task", column)
