"""The working catalog's index (names, search text, departments, levels, references), and
the working-catalog digest and the kind (a bundle, or a matter alone) of each version.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add catalog_entry's index columns, the catalog_reference table, and the working
    catalog digest a bundle version stands for.

    Existing entries are indexed when the app starts (`reindex` of the working catalog):
    the index is derived from each entry's text by the platform's own code.
    """
    # On SQLite the table is rebuilt with the index columns before the definition's text:
    # a row keeps its first columns on its own page and the rest on overflow pages, so a
    # search reads 12,000 short rows instead of 140 MB. (PostgreSQL stores long text
    # apart from its row already.)
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("catalog_entry", recreate="always" if sqlite else "auto",
                              partial_reordering=[("path", "name", "search_text",
                                                   "department_code", "level", "text")]
                              if sqlite else None) as batch:
        batch.add_column(sa.Column("name", sa.Text(), nullable=True))
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("department_code", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("level", sa.String(length=32), nullable=True))
        batch.create_index("ix_catalog_entry_department_code", ["department_code"])
    op.create_table(
        "catalog_reference",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_kind", sa.String(length=20), nullable=False),
        sa.Column("source_code", sa.String(length=100), nullable=False),
        sa.Column("target_kind", sa.String(length=20), nullable=False),
        sa.Column("target_code", sa.String(length=100), nullable=False),
    )
    op.create_index("ix_catalog_reference_source", "catalog_reference",
                    ["source_kind", "source_code"])
    op.create_index("ix_catalog_reference_target", "catalog_reference",
                    ["target_kind", "target_code"])
    with op.batch_alter_table("bundle_version") as batch:
        batch.add_column(sa.Column("source_digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("kind", sa.String(length=20), nullable=False,
                                   server_default="bundle"))
        batch.create_index("ix_bundle_version_kind_code_number",
                           ["kind", "bundle_code", "number"])


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("bundle_version") as batch:
        batch.drop_index("ix_bundle_version_kind_code_number")
        batch.drop_column("kind")
        batch.drop_column("source_digest")
    op.drop_table("catalog_reference")
    with op.batch_alter_table("catalog_entry") as batch:
        batch.drop_index("ix_catalog_entry_department_code")
        for column in ("level", "department_code", "search_text", "name"):
            batch.drop_column(column)
