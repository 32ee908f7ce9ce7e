"""Database engines, migrations and sessions: SQLite for one machine, PostgreSQL for a hall.

The schema is owned by the Alembic migrations in `onething/migrations`, never
by `create_all`, so a database created today upgrades the same way as one
created a year ago. `migrate(engine)` runs them without an alembic.ini.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

import onething.models  # noqa: F401  (registers the tables on SQLModel.metadata)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """An engine for a SQLite or PostgreSQL URL, set up the way the storage layer needs."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    # A pool smaller than the server's threads opens and closes a connection per request
    # under load (for SQLite with its PRAGMAs): that was a tenth of a submit's time.
    options = {"pool_size": pool_size, "max_overflow": pool_size,
               # Drafts, submissions and slices are JSON columns: encoding and decoding them
               # was a tenth of a submit's CPU with the standard library.
               "json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if backend == "sqlite":
        # Flask serves requests from several threads; each uses its own session.
        engine = create_engine(parsed, connect_args={"check_same_thread": False}, **options)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    if backend == "postgresql":
        # psycopg 3, whatever driver the URL named (plain "postgresql://" means psycopg2).
        return create_engine(parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True,
                             **options)
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


def _json_dumps(value) -> str:
    """JSON text for a JSON column (orjson writes bytes)."""
    return orjson.dumps(value).decode()


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    # Write-ahead logging lets pages be read while a submission is being written, and
    # concurrent writers wait for the lock instead of failing at once. synchronous stays
    # FULL: an acknowledged submission must survive a power cut.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic configuration built in code, pointing at the package's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        # "%" is interpolation syntax in Alembic's ConfigParser.
        config.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to the given revision (the newest by default)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        # env.py uses this connection, so the engine's settings (PRAGMAs) apply.
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def session_for(engine: Engine) -> Session:
    """A new session; objects stay readable after commit, as request handlers expect."""
    return Session(engine, expire_on_commit=False)
