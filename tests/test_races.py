"""Races forced with two sessions: the first licence number of a year, revocations, ratings."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from onething.cases import licences, ratings
from onething.cases.licences import RevocationRefused, _next_seq
from onething.storage.db import session_for
from onething.storage.models import (
    AuditEntry,
    PermitRevocation,
    Rating,
    Rectification,
    Submission,
    Task,
)
from test_corrections import approve
from test_decisions import tasks_by_matter
from test_inbox import routed, staff  # noqa: F401  (fixture and helper)

WAIT = 30  # seconds a thread may wait for another before the test fails instead of hanging


class Second(threading.Thread):
    """The second of two racing transactions, in its own thread and session.

    `prepare(session)` reads what the work needs; then `started` is set just before the
    work's first statement runs and `done` once it has returned. `waiting()` says whether
    that statement waits for the first transaction's lock.
    """

    def __init__(self, engine, work, prepare=lambda session: None):
        super().__init__(daemon=True)
        self.engine, self.work, self.prepare = engine, work, prepare
        self.started, self.done = threading.Event(), threading.Event()
        self.result, self.error, self.pid, self.statement = None, None, None, None

    def run(self):
        try:
            with session_for(self.engine) as session:
                connection = session.connection()
                if self.engine.dialect.name == "postgresql":
                    self.pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
                prepared = self.prepare(session)
                event.listen(connection, "before_cursor_execute", self._before)
                event.listen(connection, "after_cursor_execute", self._after)
                self.result = self.work(session, prepared)
        except Exception as error:  # read by the test, in its own thread
            self.error = error
        finally:
            self.started.set()
            self.done.set()

    def _before(self, _conn, _cursor, statement, *_):
        if self.statement is None:
            self.statement = statement
            self.started.set()

    def _after(self, _conn, _cursor, statement, *_):
        if statement is self.statement:
            self.done.set()

    def waiting(self) -> bool:
        """Whether the first statement waits for a lock the first transaction holds."""
        if self.engine.dialect.name != "postgresql":
            # SQLite has one writer: while the first transaction holds the write lock, a
            # write waits in the busy handler whatever the timing; a read never waits.
            return self.statement.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE")
        with self.engine.connect() as watcher:
            return watcher.execute(text(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": self.pid}).scalar() is True

    def until_run_or_waiting(self) -> None:
        """Return once the first statement has run, or waits for the first transaction."""
        assert self.started.wait(WAIT)
        # Polling an observable state (a lock wait), not sleeping in place of one.
        for _ in range(WAIT * 100):
            if self.done.is_set() or self.waiting():
                return
            self.done.wait(0.01)
        raise AssertionError("the second transaction neither ran nor waited")


def race(engine, first, second: Second) -> None:
    """Run first(session); the second transaction runs while the first's commit waits."""

    def hold(_session):
        # The first, written and not committed, while the second one runs.
        second.start()
        second.until_run_or_waiting()

    with session_for(engine) as session:
        event.listen(session, "before_commit", hold, once=True)
        first(session)
    second.join(WAIT)


@pytest.fixture
def fire(app, routed):  # noqa: F811
    """The restaurant case's fire safety check, approved: its task."""
    task = tasks_by_matter(app)["fire-safety-check"]
    approve(staff(app, "sn-fire"), task, "消检-001")
    return task


# --- 1. the first licence number of a year --------------------------------------------------


def test_two_first_numbers_of_a_year_drawn_at_once_are_1_and_2(engine):
    with session_for(engine) as first:
        assert _next_seq(first, "convenience-store-licence", 2031) == 1
        # The first holds its new row, not committed, while the second draws.
        second = Second(engine, lambda own, _: (
            _next_seq(own, "convenience-store-licence", 2031), own.commit())[0])
        second.start()
        second.until_run_or_waiting()
        first.commit()
    second.join(WAIT)
    assert second.error is None, second.error
    assert second.result == 2
    with session_for(engine) as session:
        assert _next_seq(session, "convenience-store-licence", 2031) == 3
        assert _next_seq(session, "convenience-store-licence", 2032) == 1
        assert _next_seq(session, "matter:fire-safety-check", 2031) == 1


# --- 2. two revocations of one permit --------------------------------------------------------


def test_two_revocations_of_one_permit_at_once_make_one_and_refuse_the_other(app, fire):
    engine = app.extensions["onething.engine"]
    second = Second(engine, lambda own, theirs: licences.revoke(own, theirs, "staff-b", "二"),
                    prepare=lambda own: own.get(Task, fire.id))
    race(engine, lambda own: licences.revoke(own, own.get(Task, fire.id), "staff-a", "一"),
         second)
    assert isinstance(second.error, RevocationRefused), second.error
    assert second.error.code == "revoked"
    with session_for(engine) as session:
        assert [r.reason for r in session.exec(select(PermitRevocation))] == ["一"]
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "revoke")).all()
        assert [(entry.actor, entry.subject) for entry in audit] == [("staff-a", f"task:{fire.id}")]


# --- 3. two bad ratings of one task -----------------------------------------------------------


@pytest.mark.parametrize("first_level", [None, 4], ids=["two-first-ratings", "two-changes"])
def test_two_bad_ratings_at_once_open_one_rectification(app, fire, first_level):
    engine = app.extensions["onething.engine"]
    target = f"task:{fire.id}"
    if first_level is not None:
        with session_for(engine) as session:
            ratings.rate(session, session.get(Submission, fire.submission_id), target,
                         first_level)
    second = Second(engine, lambda own, case: ratings.rate(own, case, target, 2),
                    prepare=lambda own: own.get(Submission, fire.submission_id))
    race(engine, lambda own: ratings.rate(own, own.get(Submission, fire.submission_id),
                                          target, 1), second)
    assert second.error is None, second.error
    with session_for(engine) as session:
        rating = session.exec(select(Rating)).one()
        assert rating.level == 2
        rows = session.exec(select(Rectification)).all()
        assert [(row.rating_id, row.status) for row in rows] == [(rating.id, "open")]
        opened = session.exec(select(AuditEntry).where(
            AuditEntry.action == "rectification_open")).all()
        assert len(opened) == 1


def test_the_database_keeps_one_rectification_open_per_rating(app, fire):
    engine = app.extensions["onething.engine"]
    with session_for(engine) as session:
        rating = ratings.rate(session, session.get(Submission, fire.submission_id),
                              f"task:{fire.id}", 1)
        row = session.exec(select(Rectification)).one()
        # Whatever order a future change writes in, a second open one is refused.
        session.add(Rectification(**row.model_dump(exclude={"id"})))
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
        row.status = "closed"
        session.add(row)
        session.commit()
        # Once it is closed, a bad rating again opens another.
        ratings.rate(session, session.get(Submission, fire.submission_id),
                     f"task:{fire.id}", 2)
        assert [(r.rating_id, r.status) for r in session.exec(
            select(Rectification).order_by(Rectification.id))] == [
            (rating.id, "closed"), (rating.id, "open")]


# --- the features' refusals share one base -----------------------------------------------------


def test_each_features_refusal_is_a_refusal_with_its_code_and_localized_message(app):
    from onething.cases.clock import ClockRefused
    from onething.cases.decisions import DecisionRefused
    from onething.cases.inspections import InspectionRefused
    from onething.cases.ratings import RatingRefused
    from onething.cases.refusals import Refusal
    from onething.cases.statistics import FiltersRefused

    with app.test_request_context("/?lang=en"):
        app.preprocess_request()
        for refusal, code in ((ClockRefused, "reason"), (RevocationRefused, "revoked"),
                              (InspectionRefused, "twice"), (FiltersRefused, "month"),
                              (RatingRefused, "closed"), (DecisionRefused, "reason")):
            refused = refusal(code)
            assert isinstance(refused, Refusal) and refused.code == code == str(refused)
            assert refused.message() and refused.message() != code
        assert RatingRefused("closed").status == 409
        assert RevocationRefused("revoked").message() == "This permit is revoked already."
        assert str(DecisionRefused("not_decidable", Task(status="approved"))) == \
            "not_decidable (task is approved)"
