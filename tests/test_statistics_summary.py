"""The statistics' daily summary: its figures are those a direct computation over the rows
gives, on random data and after random changes, refreshed one day at a time, and two
refreshes at once neither fail nor count twice."""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update
from sqlmodel import Session, select

from onething.cases import holidays, statistics, summary
from onething.catalog.workdays import CHINA_TZ, WORKING_DAYS, days_paused
from onething.storage.models import (
    TASK_DONE,
    TASK_STATUSES,
    BundleVersion,
    Draft,
    Rating,
    Rectification,
    StatsSummaryState,
    StatsTaskDay,
    Submission,
    Task,
    utc_now,
)
from test_statistics import SPRING, seed_fixture, version_of

BUNDLES = ("open-restaurant", "newborn")
DEPARTMENTS = ("sn-amr", "sn-fire", "qd-health")
MATTERS = ("business-registration", "fire-safety-check", "birth-medical-certificate")
START = dt.datetime(2026, 3, 1, tzinfo=CHINA_TZ)


def engine_of(app):
    return app.extensions["onething.engine"]


def moment(hours: int) -> dt.datetime:
    """Hours after 1 March 2026 in China: midnights are among them, the day's edges too."""
    return START + dt.timedelta(hours=hours)


tasks = st.lists(st.fixed_dictionaries({
    "department": st.sampled_from(DEPARTMENTS), "matter": st.sampled_from(MATTERS),
    "status": st.sampled_from(TASK_STATUSES), "days": st.none() | st.integers(0, 15),
    "on_time": st.none() | st.booleans(), "promised": st.integers(0, 20),
    "supplements": st.integers(0, 2), "later": st.sampled_from((0, 0, 0, 30)),
    "rating": st.none() | st.integers(1, 5), "rated_after": st.integers(0, 24 * 40),
    "closed_after": st.none() | st.integers(1, 24 * 12)}), max_size=4)
cases = st.lists(st.fixed_dictionaries({
    "bundle": st.sampled_from(BUNDLES), "hours": st.integers(0, 24 * 75),
    "saved": st.none() | st.tuples(*[st.integers(0, 9)] * 5), "tasks": tasks,
    "case_rating": st.none() | st.integers(1, 5)}), min_size=1, max_size=6)
changes = st.lists(st.tuples(st.integers(0, 50), st.sampled_from(
    ("approve", "reject", "supplement", "rerate", "close"))), max_size=6)
queries = st.fixed_dictionaries({
    "by": st.sampled_from(statistics.BY), "start": st.integers(0, 80),
    "length": st.integers(0, 90), "bundle": st.none() | st.sampled_from(BUNDLES),
    "department": st.none() | st.sampled_from(DEPARTMENTS)})


def empty(app) -> None:
    """Every case, task, rating and summary row gone; the summary to start again."""
    from onething.storage.models import (
        RatingChange,
        StatsCaseDay,
        StatsRatingDay,
        StatsRectificationDay,
    )
    with Session(engine_of(app)) as session:
        for model in (Rectification, RatingChange, Rating, Task, Submission, Draft,
                      StatsTaskDay, StatsRatingDay, StatsRectificationDay, StatsCaseDay):
            session.exec(delete(model))
        session.commit()
    summary.forget(engine_of(app))


def seed(app, drawn: list[dict], first: int = 0) -> None:
    """The drawn cases with their tasks, ratings and rectifications."""
    with Session(engine_of(app)) as session:
        versions = {code: version_of(session, code) for code in BUNDLES}
        for number, drawn_case in enumerate(drawn, start=first):
            when = moment(drawn_case["hours"])
            draft = Draft(public_id=f"random-{number}", token_hash="0" * 64,
                          bundle_version_id=versions[drawn_case["bundle"]], data={},
                          created_at=when, submitted_at=when)
            session.add(draft)
            session.flush()
            saved = drawn_case["saved"] or (None,) * 5
            case = Submission(
                tracking_number=f"RANDOM{number}", answers={}, data={}, materials={},
                submitted_at=when, draft_id=draft.id,
                bundle_version_id=versions[drawn_case["bundle"]],
                idempotency_key=f"random-{number}", token_hash="0" * 64,
                **dict(zip(("saved_forms", "saved_fields", "saved_materials", "saved_visits",
                            "saved_days"), saved, strict=True)))
            session.add(case)
            session.flush()
            for drawn_task in drawn_case["tasks"]:
                # Some tasks are created after their case (hours later: another day).
                task = Task(submission_id=case.id, department_code=drawn_task["department"],
                            matter_code=drawn_task["matter"], bundle_code=drawn_case["bundle"],
                            status=drawn_task["status"], slice_data={}, slice_materials=[],
                            promised_days=drawn_task["promised"], due_date=when.date(),
                            created_at=when + dt.timedelta(hours=drawn_task["later"]),
                            days_taken=drawn_task["days"], on_time=drawn_task["on_time"],
                            supplements=drawn_task["supplements"])
                session.add(task)
                session.flush()
                if drawn_task["rating"]:
                    rate(session, case, task, drawn_task["rating"],
                         when + dt.timedelta(hours=drawn_task["rated_after"]),
                         drawn_task["closed_after"])
            if drawn_case["case_rating"]:
                rate(session, case, None, drawn_case["case_rating"],
                     when + dt.timedelta(hours=30), None)
        session.commit()


def rate(session, case, task, level, when, closed_after) -> None:
    rating = Rating(submission_id=case.id, target=f"task:{task.id}" if task else "case",
                    task_id=task.id if task else None,
                    department_code=task.department_code if task else "sn-amr",
                    matter_code=task.matter_code if task else None,
                    bundle_code=task.bundle_code if task else "newborn", level=level,
                    created_at=when, updated_at=utc_now())
    session.add(rating)
    session.flush()
    if level <= 2:
        closed = when + dt.timedelta(hours=closed_after) if closed_after else None
        session.add(Rectification(
            rating_id=rating.id, submission_id=case.id, department_code=rating.department_code,
            matter_code=rating.matter_code, bundle_code=rating.bundle_code, level=level,
            status="closed" if closed else "open", opened_at=when, due_date=when.date(),
            closed_at=closed))


def change(app, drawn: list[tuple[int, str]]) -> None:
    """Decide, correct, rate again and close as the app does: each change moves updated_at."""
    with Session(engine_of(app)) as session:
        found = {
            "task": session.exec(select(Task).order_by(Task.id)).all(),
            "rating": session.exec(select(Rating).order_by(Rating.id)).all(),
            "fix": session.exec(select(Rectification).order_by(Rectification.id)).all()}
        for index, action in drawn:
            if action in ("approve", "reject", "supplement") and found["task"]:
                task = found["task"][index % len(found["task"])]
                values = ({"supplements": Task.supplements + 1} if action == "supplement"
                          else {"status": "approved" if action == "approve" else "rejected",
                                "days_taken": index % 9, "on_time": index % 2 == 0})
                session.exec(update(Task).where(Task.id == task.id).values(**values))
            elif action == "rerate" and found["rating"]:
                rating = found["rating"][index % len(found["rating"])]
                rating.level, rating.updated_at = 1 + index % 5, utc_now()
                session.add(rating)
            elif action == "close" and found["fix"]:
                fix = found["fix"][index % len(found["fix"])]
                fix.status, fix.closed_at = "closed", fix.opened_at + dt.timedelta(days=index)
                session.add(fix)
        session.commit()


# --- the figures computed directly from the rows, in Python ----------------------------------


def china_day(when: dt.datetime) -> dt.date:
    return when.astimezone(CHINA_TZ).date()


def direct(app, filters: statistics.Filters, by: str) -> dict:
    """Every figure of compute(), from the rows themselves."""
    low, high = filters.bounds()
    rows: dict[str, statistics.Row] = {}

    def row(key) -> statistics.Row:
        return rows.setdefault(key or "", statistics.Row(key or ""))

    def key_of(when, bundle, matter, department) -> str:
        return {"month": f"{china_day(when):%Y-%m}", "bundle": bundle, "matter": matter or "",
                "department": department}[by]

    def kept(when, bundle, department) -> bool:
        return (low <= when < high and filters.bundle in (None, bundle)
                and filters.department in (None, department))

    with Session(engine_of(app)) as session:
        calendar = holidays.overrides(session)
        timed: dict[str, list[int]] = defaultdict(list)
        for task in session.exec(select(Task)):
            if not kept(task.created_at, task.bundle_code, task.department_code):
                continue
            target = row(key_of(task.created_at, task.bundle_code, task.matter_code,
                                task.department_code))
            target.received += 1
            target.completed += task.status == "approved"
            target.refused += task.status == "rejected"
            target.in_progress += task.status not in TASK_DONE
            target.on_time += task.on_time is True
            target.corrected += task.supplements > 0
            if task.days_taken is not None:
                target.timed += 1
                target.days_sum += task.days_taken
                target.promised_sum += task.promised_days
                timed[target.key].append(task.days_taken)
        for rating in session.exec(select(Rating)):
            if kept(rating.created_at, rating.bundle_code, rating.department_code):
                target = row(key_of(rating.created_at, rating.bundle_code, rating.matter_code,
                                    rating.department_code))
                target.ratings += 1
                target.satisfied += rating.level >= statistics.SATISFIED
                target.bad += rating.level <= 2
        for fix in session.exec(select(Rectification)):
            if kept(fix.opened_at, fix.bundle_code, fix.department_code):
                target = row(key_of(fix.opened_at, fix.bundle_code, fix.matter_code,
                                    fix.department_code))
                target.rectifications += 1
                if fix.status == "closed":
                    target.rectified += 1
                    target.rectify_days_sum += days_paused(
                        china_day(fix.opened_at), china_day(fix.closed_at), WORKING_DAYS,
                        calendar)
        cases, saved = 0, dict.fromkeys(statistics.SAVED, 0)
        for case, bundle in session.exec(select(Submission, BundleVersion.bundle_code).join(
                BundleVersion, BundleVersion.id == Submission.bundle_version_id)):
            departments = {task.department_code for task in session.exec(
                select(Task).where(Task.submission_id == case.id))}
            if not (low <= case.submitted_at < high and filters.bundle in (None, bundle)
                    and filters.department in (None, *departments)):
                continue
            values = {name: getattr(case, f"saved_{name}") or 0 for name in statistics.SAVED}
            cases += 1
            for name in statistics.SAVED:
                saved[name] += values[name]
            if by in ("month", "bundle"):
                target = row(key_of(case.submitted_at, bundle, None, None))
                target.cases += 1
                for name in statistics.SAVED:
                    target.saved[name] += values[name]

    def p90(days: list[int]):
        return sorted(days)[math.ceil(0.9 * len(days)) - 1] if days else None

    for key, target in rows.items():
        target.p90_days = p90(timed[key])
    total = statistics.Row("")
    for target in rows.values():
        for name in ("received", "completed", "refused", "in_progress", "timed", "on_time",
                     "days_sum", "promised_sum", "corrected", "ratings", "satisfied", "bad",
                     "rectifications", "rectified", "rectify_days_sum"):
            setattr(total, name, getattr(total, name) + getattr(target, name))
    total.p90_days = p90([days for found in timed.values() for days in found])
    total.cases, total.saved = cases, saved
    return {"rows": [rows[key].as_dict() for key in sorted(rows)], "total": total.as_dict()}


def summarised(app, filters: statistics.Filters, by: str) -> dict:
    with Session(engine_of(app)) as session:
        found = statistics.compute(session, filters, by).as_dict()
    return {"rows": found["rows"], "total": found["total"]}


def filters_of(query: dict) -> statistics.Filters:
    start = START.date() + dt.timedelta(days=query["start"])
    return statistics.Filters(start, start + dt.timedelta(days=query["length"]),
                              query["bundle"], query["department"])


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow])
@given(drawn=cases, more=cases, drawn_changes=changes, query=queries)
def test_the_summary_gives_the_figures_a_direct_computation_gives(app, drawn, more,
                                                                  drawn_changes, query):
    empty(app)
    seed(app, drawn)
    filters = filters_of(query)
    # Every day summarised (the first refresh), then only the days that changed.
    assert summarised(app, filters, query["by"]) == direct(app, filters, query["by"])
    change(app, drawn_changes)
    seed(app, more, first=len(drawn))
    assert summarised(app, filters, query["by"]) == direct(app, filters, query["by"])
    # The whole range, every grouping, after the incremental refresh.
    everything = statistics.Filters(START.date(), START.date() + dt.timedelta(days=120))
    for by in statistics.BY:
        assert summarised(app, everything, by) == direct(app, everything, by)


def test_a_task_decided_today_changes_the_day_its_case_was_submitted(app):
    seed_fixture(app)
    filters, by = statistics.parse_filters({**SPRING, "by": "month"})
    march = summarised(app, filters, by)["rows"][0]
    assert (march["completed"], march["in_progress"]) == (3, 1)
    with Session(engine_of(app)) as session:
        task = session.exec(select(Task).where(Task.status == "accepted")).one()
        session.exec(update(Task).where(Task.id == task.id).values(
            status="approved", days_taken=7, on_time=True))
        session.commit()
    assert summary.refresh(engine_of(app)) == 1  # March the 20th only
    march = summarised(app, filters, by)["rows"][0]
    assert (march["completed"], march["in_progress"], march["p90_days"]) == (4, 0, 12)
    assert summarised(app, filters, by) == direct(app, filters, by)


def test_a_change_committed_after_a_refresh_that_began_later_is_still_counted(app):
    seed_fixture(app)
    filters, by = statistics.parse_filters({**SPRING, "by": "month"})
    summarised(app, filters, by)
    with Session(engine_of(app)) as session:
        refreshed = session.get(StatsSummaryState, summary.STATE_ID).refreshed_at
        task = session.exec(select(Task).where(Task.status == "pending")).one()
        # Its transaction set updated_at before that refresh began, and committed after.
        session.exec(update(Task).where(Task.id == task.id).values(
            status="approved", days_taken=2, on_time=True,
            updated_at=refreshed - dt.timedelta(seconds=5)))
        session.commit()
    assert summarised(app, filters, by)["rows"][1]["completed"] == 2
    assert summarised(app, filters, by) == direct(app, filters, by)
    assert summary.refresh(engine_of(app)) == 0  # counted once, then nothing to do


def test_two_refreshes_at_once_neither_fail_nor_count_twice(app):
    seed_fixture(app)
    filters, by = statistics.parse_filters({**SPRING, "by": "department"})
    expected = direct(app, filters, by)
    engine = engine_of(app)
    for everything in (True, True, False):
        if not everything:
            change(app, [(3, "approve"), (1, "rerate"), (0, "close")])
            expected = direct(app, filters, by)
        barrier = threading.Barrier(2)
        failures: list[BaseException] = []

        def refresh(everything=everything, barrier=barrier, failures=failures) -> None:
            try:
                barrier.wait()
                summary.refresh(engine, everything=everything)
            except BaseException as error:  # reported below, in the test's thread
                failures.append(error)

        threads = [threading.Thread(target=refresh) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert summarised(app, filters, by) == expected
        with Session(engine) as session:
            # Seven tasks, each in one bucket once.
            assert sum(session.exec(select(StatsTaskDay.received)).all()) == 7


def test_two_workers_due_the_daily_pass_at_once_make_it_once(app):
    seed_fixture(app)
    engine = engine_of(app)
    summary.refresh(engine)
    with Session(engine) as session:
        state = session.get(StatsSummaryState, summary.STATE_ID)
        state.summarised_all_at = utc_now() - dt.timedelta(hours=25)
        session.add(state)
        session.commit()
    barrier = threading.Barrier(2)
    results: list = []

    def refresh() -> None:
        try:
            barrier.wait()
            results.append(summary.refresh(engine, full_every=dt.timedelta(days=1)))
        except BaseException as error:  # reported below, in the test's thread
            results.append(error)

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Decided under the watermark's lock: the second finds the pass made, nothing to do.
    assert sorted(results) == [-1, 0]


def test_the_worker_refreshes_the_summary_so_that_a_read_finds_nothing_to_do(app):
    from onething.departments.worker import run_worker

    seed_fixture(app)
    engine = engine_of(app)
    run_worker(engine, threading.Event(), interval=1, reminder_interval=1, threads=1,
               timeout=1, once=True)
    with Session(engine) as session:
        assert session.get(StatsSummaryState, summary.STATE_ID).refreshed_at is not None
        assert sum(session.exec(select(StatsTaskDay.received)).all()) == 7
    assert summary.refresh(engine) == 0


def test_the_worker_summarises_every_day_again_once_a_day_even_when_restarted(app):
    from onething.departments.worker import run_worker

    seed_fixture(app)
    engine = engine_of(app)

    def a_restarted_workers_round() -> None:
        # once=True is a worker's first round: what a worker restarted hourly only ever runs.
        run_worker(engine, threading.Event(), interval=1, reminder_interval=1, threads=1,
                   timeout=1, once=True)

    def refused() -> int:
        with Session(engine) as session:
            return sum(session.exec(select(StatsTaskDay.refused)).all())

    def last_full_pass(ago: dt.timedelta | None = None) -> dt.datetime:
        with Session(engine) as session:
            state = session.get(StatsSummaryState, summary.STATE_ID)
            if ago is not None:
                state.summarised_all_at = utc_now() - ago
                session.add(state)
                session.commit()
            return state.summarised_all_at

    a_restarted_workers_round()  # the first: every day, the watermark being empty
    first = last_full_pass()
    assert first is not None
    before = refused()

    def a_late_commit() -> None:
        with Session(engine) as session:
            # A change that committed long after it was stamped: beyond the look-back.
            task = session.exec(select(Task).where(Task.status == "approved")).first()
            session.execute(update(Task).where(Task.id == task.id).values(
                status="rejected", updated_at=task.updated_at))
            session.commit()

    a_late_commit()
    a_restarted_workers_round()
    # Within the day: missed, as documented, and the pass not repeated.
    assert (refused(), last_full_pass()) == (before, first)
    last_full_pass(ago=dt.timedelta(hours=25))
    a_restarted_workers_round()
    assert refused() == before + 1
    assert last_full_pass() > first
