"""Departments are found by their short name in the console's catalog search.

The search index of a department (`catalog_entry.search_text`) now holds its short name
(市场监管局 for 青岛市市南区市场监督管理局), but entries indexed before held only the
full name: each would be found by its short name only once saved again. Their index is
cleared here, and the start that runs this migration indexes them again (`reindex`, as
for entries saved before the index existed). Downgrading keeps the new index: it only
finds more.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Clear the departments' search text, to be indexed again at start."""
    op.execute(sa.text("UPDATE catalog_entry SET search_text = NULL "
                       "WHERE kind = 'department'"))


def downgrade() -> None:
    """Nothing to undo: the index is rebuilt, not reshaped."""
