"""Database engines, migrations and sessions: SQLite for one machine, PostgreSQL for a hall.

The schema is owned by the Alembic migrations in `onething/migrations`, never
by `create_all`, so a database created today upgrades the same way as one
created a year ago. `migrate(engine)` runs them without an alembic.ini.
"""

from __future__ import annotations

import select as sockets
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.types import NullType
from sqlmodel import Session, func, select

import onething.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

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
        engine = create_engine(parsed.set(drivername="postgresql+psycopg"), **options)
        event.listen(engine, "checkout", _postgresql_alive)
        return engine
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


def _json_dumps(value) -> str:
    """JSON text for a JSON column (orjson writes bytes)."""
    return orjson.dumps(value).decode()


def _postgresql_alive(dbapi_connection, _record, _proxy) -> None:
    """Refuse a pooled connection the server has ended; the pool then opens a new one."""
    # An idle connection is sent nothing unless the server ended it (a restart, an idle
    # timeout, pg_terminate_backend): its socket then holds the error or the end of the
    # stream, seen without waiting. pool_pre_ping asked the server instead: a round trip
    # before every request. A host gone without a word is not seen here: its first
    # statement fails, and SQLAlchemy then renews the whole pool.
    if dbapi_connection.closed or sockets.select([dbapi_connection.pgconn.socket], [], [], 0)[0]:
        raise DisconnectionError("the server ended this connection")


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


# Any constant both sides agree on: pg_advisory_lock takes a 64-bit key.
_STARTUP_LOCK_KEY = 0x6F6E657468696E67  # "onething"


@contextmanager
def startup_lock(engine: Engine):
    """Hold the lock under which one process at a time migrates and seeds the database.

    N processes starting at once (gunicorn workers, several hosts) would otherwise race
    to create the same tables: on PostgreSQL a session advisory lock, held on its own
    connection and released if the process dies; on SQLite a lock file beside the
    database. An in-memory SQLite database belongs to one process and needs none.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _STARTUP_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": _STARTUP_LOCK_KEY})
                connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        yield
        return
    from filelock import FileLock

    with FileLock(f"{database}.startup-lock"):
        yield


def lock_case(session: Session, submission_id: int) -> None:
    """Hold the case's submission row until commit (a row lock on PostgreSQL, the write
    lock on SQLite): what is read after it is what the others committed."""
    from onething.storage.models import Submission

    column = Submission.__table__.c.status
    session.execute(update(Submission).where(Submission.__table__.c.id == submission_id)
                    .values(status=column))


def session_for(engine: Engine) -> Session:
    """A new session; objects stay readable after commit, as request handlers expect."""
    return Session(engine, expire_on_commit=False)


class DriverStatement:
    """A Core statement compiled once per dialect and run on the driver's own cursor.

    For the submit hot path only. SQLAlchemy's execution context (cache keys,
    parameter coercion, the result proxy) cost more than the statements themselves
    there. The SQL is still SQLAlchemy's, compiled for the connection's dialect,
    with the column types' own bind and result processors, on the connection's
    current transaction: only the per-call bookkeeping is skipped. Errors are the
    driver's (`dialect.loaded_dbapi.IntegrityError`, …), not SQLAlchemy's.

    Kept on a measurement (issue 16): with plain Core instead (`connection.execute`, the
    tasks as one executemany), `submit()` took 2.21 ms of CPU against 1.55 on SQLite and
    2.87 against 2.30 on PostgreSQL (means of 3 runs of 300 submits each, alternated),
    16–18% of a whole submit request's server CPU: past the 15% within which readable
    Core would have replaced it.
    """

    def __init__(self, statement):
        self.statement = statement
        # dialect -> (sql, parameter names or None when named, bind processors, fixed values)
        self._compiled: dict = {}
        # (dialect, column types) -> result processors, found on the first fetch
        self._results: dict = {}

    def _for(self, dialect):
        found = self._compiled.get(dialect)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            processors = {}
            for name, bind in compiled.binds.items():
                if isinstance(bind.type, NullType):
                    # Untyped, a JSON or timestamp value would reach the driver raw.
                    raise TypeError(f"bind parameter {name!r} needs a type")
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    processors[name] = processor
            names = list(compiled.positiontup) if compiled.positional else None
            # Values the statement carries itself (a separator, a literal), as Core binds them.
            fixed = {name: bind.effective_value for name, bind in compiled.binds.items()
                     if not bind.required}
            found = self._compiled[dialect] = (compiled.string, names, processors, fixed)
        return found

    def _parameters(self, dialect, values: dict):
        _, names, processors, fixed = self._for(dialect)
        processed = {name: processors[name](value) if name in processors else value
                     for name, value in (fixed | values).items()}
        return processed if names is None else tuple(processed[name] for name in names)

    def execute(self, connection, values: dict | None = None):
        """Run on an SQLAlchemy Connection's DB-API connection; return the driver's cursor."""
        dialect = connection.dialect
        cursor = connection.connection.cursor()
        try:
            cursor.execute(self._for(dialect)[0], self._parameters(dialect, values or {}))
        except BaseException:
            cursor.close()
            raise
        return cursor

    def execute_many(self, connection, rows: list[dict]) -> None:
        """Run once for each row's values, in one call of the driver's executemany."""
        dialect = connection.dialect
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(self._for(dialect)[0],
                               [self._parameters(dialect, values) for values in rows])
        finally:
            cursor.close()

    def rows(self, connection, values: dict | None = None) -> list[tuple]:
        """Every row of a SELECT (or RETURNING), with the columns' types applied."""
        cursor = self.execute(connection, values)
        try:
            fetched = cursor.fetchall()
            description = cursor.description
        finally:
            cursor.close()
        if not fetched:
            return []
        processors = self._result_processors(connection.dialect, description)
        if not any(processors):
            return [tuple(row) for row in fetched]
        return [tuple(value if process is None or value is None else process(value)
                      for process, value in zip(processors, row, strict=True))
                for row in fetched]

    def _result_processors(self, dialect, description) -> list:
        key = (dialect, tuple(column[1] for column in description))
        found = self._results.get(key)
        if found is None:
            found = [column.type.dialect_impl(dialect).result_processor(dialect, code)
                     for column, code in zip(self.statement.exported_columns, key[1],
                                             strict=True)]
            self._results[key] = found
        return found


@dataclass
class Page:
    """One page of a list: its rows, which page it is and how many rows there are in all."""

    rows: list
    number: int
    total: int
    size: int

    @property
    def pages(self) -> int:
        """How many pages the list has (one, when it is empty)."""
        return max(1, -(-self.total // self.size))


def paginate(session: Session, statement, number: int, size: int) -> Page:
    """A page of an ordered statement's rows, counted in the database; a page past the
    end is the last one."""
    if statement._distinct or statement._group_by_clauses:
        total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    else:
        # Counted over the statement's own FROM and WHERE: as a subquery of every column,
        # SQLite read each row whole, a definition's text included (50 ms for a city's
        # 11,264 matters; 2 ms this way).
        total = session.execute(statement.order_by(None).with_only_columns(
            func.count(), maintain_column_froms=True)).scalar_one()
    number = min(max(number, 1), max(1, -(-total // size)))
    rows = list(session.exec(statement.offset((number - 1) * size).limit(size)).all())
    return Page(rows, number, total, size)
