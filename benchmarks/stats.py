"""Benchmark the statistics at a city's volume: 100,000 cases, 400,000 tasks, 150,000 ratings.

Seeds six months of cases of the demo catalog's bundles in bulk (COPY on PostgreSQL,
one executemany per table on SQLite; not the submit path): four tasks each, decided
as cases of that age are, with their days taken, corrections and realised savings,
150,000 ratings and the rectifications of the bad ones. Then starts `onething serve` on
it as benchmarks/submit.py does and measures, one request at a time, the public
statistics page (the last six months by month, by department, one month by service,
its CSV), and the figures of `onething stats --month` (the aggregates the command
prints, timed in-process: a command's interpreter start is not the database's work).
Each figure is the p50 and p99 after warming requests, beside the target (p99 under
300 ms) and as a ratio to the same server's /healthz in the same run. A failed request
prints INVALID and the run exits 1.

The database is SQLite in a temporary folder, --database-url (an empty PostgreSQL
database, say), or --postgres for $ONETHING_TEST_DATABASE_URL; one that holds tasks
already is measured as it is, so a second run skips the seeding.

    python benchmarks/stats.py [--cases 100000] [--ratings 150000] [--repeat 50]
                               [--database-url URL | --postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import line as machine_line
from volume import BUNDLES, WARM, bulk_insert, departments_of_matters, percentile, timings

REPO = Path(__file__).resolve().parents[1]
TASKS_PER_CASE = 4
TARGET_MS = 300


def seed(engine, cases: int, ratings: int, now: dt.datetime) -> float:
    """Bulk-insert the cases, tasks, ratings and rectifications of six months; seconds."""
    from sqlalchemy import text

    from onething.catalog.workdays import CHINA_TZ

    started = time.perf_counter()
    departments = departments_of_matters()
    rng = random.Random(21)
    with engine.begin() as connection:
        versions = dict(connection.execute(text(
            "SELECT bundle_code, MAX(id) FROM bundle_version WHERE kind = 'bundle' "
            "GROUP BY bundle_code")).all())
    codes = [code for code in BUNDLES if code in versions]
    weights = [BUNDLES[code][0] for code in codes]
    drafts, submissions, tasks, rated, fixes = [], [], [], [], []
    span = dt.timedelta(days=180)
    decided_tasks = []
    task_id = 0
    for number in range(1, cases + 1):
        bundle = rng.choices(codes, weights)[0]
        moment = now - span * rng.random()
        day = moment.astimezone(CHINA_TZ).date()
        age = (now - moment).days
        drafts.append((number, f"stats-{number}", "0" * 64, versions[bundle], "{}", "{}", "{}",
                       "{}", moment, moment, moment))
        submissions.append((number, f"ST{day:%Y%m%d}-{number:06X}", "{}", "{}", "{}",
                            "in_progress", moment, number, versions[bundle], f"stats-{number}",
                            "0" * 64, rng.randint(1, 4), rng.randint(10, 80), rng.randint(2, 9),
                            rng.randint(1, 4), rng.randint(5, 40)))
        for matter in BUNDLES[bundle][1][:TASKS_PER_CASE]:
            task_id += 1
            roll = rng.random()
            status = (("approved" if roll < 0.9 else "rejected" if roll < 0.95 else "accepted")
                      if age > 25 else ("pending" if roll < 0.4 else "approved"))
            decided = status in ("approved", "rejected")
            promised = rng.choice((0, 3, 5, 10, 20))
            taken = max(0, round(rng.gauss(promised * 0.6, promised * 0.3 + 0.3)))
            if decided:
                decided_tasks.append((task_id, number, departments[matter], matter, bundle,
                                      moment + dt.timedelta(days=taken * 1.4)))
            tasks.append((task_id, number, departments[matter], matter, bundle, status, "[]",
                          "{}", "[]", promised, day + dt.timedelta(days=promised), False,
                          "working_days", day, 0, moment, moment,
                          moment + dt.timedelta(days=taken * 1.4) if decided else None,
                          taken if decided else None, (taken <= promised) if decided else None,
                          int(rng.random() < 0.1)))
    levels, level_weights = [5, 4, 3, 2, 1], [70, 18, 7, 3, 2]
    for rating_id, (task, case, department, matter, bundle, when) in enumerate(
            rng.sample(decided_tasks, min(ratings, len(decided_tasks))), start=1):
        level = rng.choices(levels, level_weights)[0]
        when = min(when + dt.timedelta(hours=rng.uniform(1, 48)), now)
        rated.append((rating_id, case, f"task:{task}", task, department, matter, bundle, level,
                      "[]", "online", when, when))
        if level <= 2:
            closed = rng.random() < 0.8
            closing = when + dt.timedelta(days=rng.uniform(1, 8)) if closed else None
            fixes.append((len(fixes) + 1, rating_id, case, department, matter, bundle, level,
                          "closed" if closed else "open", when,
                          when.astimezone(CHINA_TZ).date() + dt.timedelta(days=7), False,
                          closing, closing or when))
    columns = {
        "draft": ("id", "public_id", "token_hash", "bundle_version_id", "answers", "data",
                  "materials", "prefill", "created_at", "updated_at", "submitted_at"),
        "submission": ("id", "tracking_number", "answers", "data", "materials", "status",
                       "submitted_at", "draft_id", "bundle_version_id", "idempotency_key",
                       "token_hash", "saved_forms", "saved_fields", "saved_materials",
                       "saved_visits", "saved_days"),
        "task": ("id", "submission_id", "department_code", "matter_code", "bundle_code",
                 "status", "waits_for", "slice_data", "slice_materials", "promised_days",
                 "due_date", "due_estimated", "counting", "clock_started_on", "paused_days",
                 "created_at", "updated_at", "decided_at", "days_taken", "on_time",
                 "supplements"),
        "rating": ("id", "submission_id", "target", "task_id", "department_code", "matter_code",
                   "bundle_code", "level", "tags", "channel", "created_at", "updated_at"),
        "rectification": ("id", "rating_id", "submission_id", "department_code", "matter_code",
                          "bundle_code", "level", "status", "opened_at", "due_date",
                          "due_estimated", "closed_at", "updated_at"),
    }
    tables = (("draft", drafts), ("submission", submissions), ("task", tasks),
              ("rating", rated), ("rectification", fixes))
    with engine.begin() as connection:
        for table, rows in tables:
            bulk_insert(connection, table, columns[table], rows)
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            for table, _ in tables:
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))")
            connection.commit()
            # What autovacuum does after a load, done now.
            connection.connection.driver_connection.autocommit = True
            connection.exec_driver_sql("VACUUM ANALYZE draft, submission, task, rating, "
                                       "rectification")
    return time.perf_counter() - started


def measure_command(engine, month: str, repeat: int) -> tuple[float, float]:
    """The aggregates `onething stats --month` prints, timed as the database answers them."""
    from sqlmodel import Session

    from onething.cases import statistics as figures

    filters, by = figures.parse_filters({"month": month})
    times = []
    with Session(engine) as session:
        for number in range(WARM + repeat):
            started = time.perf_counter()
            figures.compute(session, filters, by).as_dict()
            if number >= WARM:
                times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), percentile(times, 0.99)


def run(label: str, database_url: str, args) -> list[str]:
    """Prepare the database, serve it, measure the pages and the command; the failures."""
    from sqlalchemy import text

    from city import Browser
    from onething.cases import summary
    from onething.catalog.workdays import china_today
    from onething.storage.models import utc_now
    from onething.web.app import create_app
    from submit import server

    instance = Path(tempfile.mkdtemp(prefix="onething-stats-"))
    failures: list[str] = []
    previous = f"{china_today().replace(day=1) - dt.timedelta(days=1):%Y-%m}"
    try:
        app = create_app({"DATABASE_URL": database_url, "DEMO_CASES": 0},
                         instance_path=instance)
        engine = app.extensions["onething.engine"]
        with engine.connect() as connection:
            held = connection.execute(text("SELECT COUNT(*) FROM task")).scalar_one()
        if held:
            print(f"[{label}] the database holds {held:,} tasks already: measured as it is")
        else:
            seconds = seed(engine, args.cases, args.ratings, utc_now())
            print(f"[{label}] seeded {args.cases:,} cases, {args.cases * TASKS_PER_CASE:,} "
                  f"tasks and {args.ratings:,} ratings in {seconds:.0f} s")
            # Written behind the app's back: the summary starts again from every day.
            summary.forget(engine)
        started = time.perf_counter()
        summarised = summary.refresh(engine)
        print(f"[{label}] the statistics' summary refreshed in "
              f"{time.perf_counter() - started:.1f} s "
              f"({'every day' if summarised < 0 else f'{summarised} days'})")
        command = measure_command(engine, previous, args.repeat)
        engine.dispose()
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "onething.cli", "stats", "--month", previous],
            env=dict(os.environ, ONETHING_DATABASE_URL=database_url,
                     ONETHING_INSTANCE_PATH=str(instance), ONETHING_DEMO_CASES="0"),
            capture_output=True, text=True)
        whole_command = (time.perf_counter() - started) * 1000
        if result.returncode != 0:
            failures.append(f"onething stats --month exited {result.returncode}: "
                            f"{result.stderr[-500:]}")
        with server(database_url, instance) as (port, _pid):
            browser = Browser(port)
            pages = [
                ("statistics: six months, by month", "/statistics"),
                ("statistics: six months, by department", "/statistics?by=department"),
                ("statistics: six months, by matter", "/statistics?by=matter"),
                (f"statistics: {previous}, by service",
                 f"/statistics?month={previous}&by=bundle"),
                ("statistics: one service, by month", "/statistics?bundle=open-restaurant"),
                ("statistics: six months as CSV", "/statistics?format=csv"),
            ]
            baseline = timings(browser, "/healthz", args.repeat * 3, failures)[:2]
            measured = [(name, timings(browser, path, args.repeat, failures)[:2])
                        for name, path in pages]
            again = timings(browser, "/healthz", args.repeat * 3, failures)[:2]
        base50, base99 = min(baseline[0], again[0]), min(baseline[1], again[1])
        print(f"[{label}] one request at a time, {args.repeat} per figure after {WARM} warming")
        print(f"[{label}] {'/healthz (baseline, before / after)':<44} p50 {baseline[0]:6.1f} / "
              f"{again[0]:.1f} ms  p99 {baseline[1]:6.1f} / {again[1]:.1f} ms")
        for name, (p50, p99) in [*measured,
                                 (f"onething stats --month {previous} (queries)", command)]:
            verdict = "ok" if p99 < TARGET_MS else "MISSED"
            print(f"[{label}] {name:<44} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
                  f"{p50 / base50:5.0f}× / {p99 / base99:4.0f}× /healthz  "
                  f"p99 < {TARGET_MS} ms: {verdict}")
        print(f"[{label}] {'onething stats --month, the whole process':<44} {whole_command:.0f} ms "
              f"once (interpreter, app start, queries)")
        print(machine_line(label))
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    return failures


def main() -> None:
    """Seed (unless seeded), serve, measure; exit 1 if any request failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database-url", default=None,
                       help="an empty PostgreSQL database, say (default: SQLite in a "
                            "temporary folder)")
    where.add_argument("--postgres", action="store_true",
                       help="the database of $ONETHING_TEST_DATABASE_URL")
    parser.add_argument("--cases", type=int, default=100_000,
                        help=f"cases to seed, {TASKS_PER_CASE} tasks each")
    parser.add_argument("--ratings", type=int, default=150_000)
    parser.add_argument("--repeat", type=int, default=50, help="requests per figure")
    args = parser.parse_args()
    url = args.database_url
    if args.postgres:
        url = os.environ.get("ONETHING_TEST_DATABASE_URL")
        if not url:
            parser.error("--postgres needs ONETHING_TEST_DATABASE_URL")
    if url:
        failures = run(url.split(":", 1)[0].split("+", 1)[0], url, args)
    else:
        with tempfile.TemporaryDirectory() as folder:
            failures = run("sqlite", f"sqlite:///{folder}/stats.sqlite3", args)
    for failure in failures:
        print("INVALID:", failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
