"""Alembic environment: the storage tables of SQLModel.metadata, on SQLite or PostgreSQL.

`onething.storage.db.migrate(engine)` passes its connection in `config.attributes`;
the `alembic` command line (with `-x url=...` or sqlalchemy.url) works too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import onething.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations(connection: Connection) -> None:
    """Run the migrations on one connection, in one transaction."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Write the SQL instead of running it (`alembic upgrade --sql`)."""
    context.configure(
        url=context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run against the connection migrate() passed, or a new engine for the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    from onething.storage.db import make_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
