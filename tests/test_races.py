"""Races forced with two sessions: the first licence number of a year, revocations, ratings."""

from __future__ import annotations

import threading

from sqlalchemy import event, text

from onething.cases.licences import _next_seq
from onething.storage.db import session_for

WAIT = 30  # seconds a thread may wait for another before the test fails instead of hanging


class Second(threading.Thread):
    """The second of two racing transactions, run in its own thread and session.

    `started` is set just before its first statement naming `table` runs, `done` when
    that statement has returned; `blocked()` says whether it waits for a lock now.
    """

    def __init__(self, engine, table: str, work):
        super().__init__(daemon=True)
        self.engine, self.table, self.work = engine, table, work
        self.started, self.done = threading.Event(), threading.Event()
        self.result, self.error, self.pid = None, None, None

    def run(self):
        try:
            with session_for(self.engine) as session:
                connection = session.connection()
                if self.engine.dialect.name == "postgresql":
                    self.pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
                event.listen(connection, "before_cursor_execute", self._before)
                event.listen(connection, "after_cursor_execute", self._after)
                self.result = self.work(session)
        except Exception as error:  # read by the test, in its own thread
            self.error = error
        finally:
            self.started.set()
            self.done.set()

    def _before(self, _conn, _cursor, statement, *_):
        if self.table in statement and not self.started.is_set():
            self.started.set()

    def _after(self, _conn, _cursor, statement, *_):
        if self.table in statement:
            self.done.set()

    def blocked(self, engine) -> bool:
        """Whether the thread's statement waits for a lock another transaction holds."""
        if engine.dialect.name != "postgresql":
            # SQLite's one writer: the second waits in the busy handler from its first write.
            return True
        with engine.connect() as watcher:
            return watcher.execute(text(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": self.pid}).scalar() is True


def wait_until_waiting(engine, second: Second) -> None:
    """Return once the second transaction's statement has run, or waits for the first's lock."""
    assert second.started.wait(WAIT)
    # Polling an observable state (a lock wait), not sleeping in place of one.
    for _ in range(WAIT * 100):
        if second.done.is_set() or second.blocked(engine):
            return
        second.done.wait(0.01)
    raise AssertionError("the second transaction neither ran nor waited")


# --- 1. the first licence number of a year --------------------------------------------------


def test_two_first_numbers_of_a_year_drawn_at_once_are_1_and_2(engine):
    with session_for(engine) as first:
        assert _next_seq(first, "convenience-store-licence", 2031) == 1
        # The first holds its new row, not committed, while the second draws.
        second = Second(engine, "licence_sequence",
                        lambda own: (_next_seq(own, "convenience-store-licence", 2031),
                                     own.commit())[0])
        second.start()
        wait_until_waiting(engine, second)
        first.commit()
    second.join(WAIT)
    assert second.error is None, second.error
    assert second.result == 2
    with session_for(engine) as session:
        assert _next_seq(session, "convenience-store-licence", 2031) == 3
        assert _next_seq(session, "convenience-store-licence", 2032) == 1
        assert _next_seq(session, "matter:fire-safety-check", 2031) == 1
