"""Benchmark the departments' inbox and API at a city's volume: 100,000 cases, 500,000 tasks.

Seeds a year of submissions of the demo catalog's bundles, five tasks each, in bulk
(COPY on PostgreSQL, one executemany on SQLite) into a database the app created and
migrated, then starts `onething serve` on it as benchmarks/submit.py does and measures,
one request at a time, the inbox of the department with the most tasks (the market
regulator, about 100,000) and its API: the first page, a deep page reached by its
cursor, filters, a search by tracking number, the exact counts. Each figure is the
p50 and p99 after warming requests, beside the target (p99 under 100 ms) and as a
ratio to the same server's /healthz in the same run, with the server's CPU per request
and how long its threads waited for a core (on a shared machine the slow requests are
those that waited: issue 16). A failed request prints INVALID and the run exits 1.

The database is SQLite in a temporary folder, or --database-url (an empty PostgreSQL
database, say); a database that holds tasks already is measured as it is, so a second
run skips the seeding.

    python benchmarks/volume.py [--database-url URL] [--submissions 100000] [--repeat 100]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import line as machine_line
from machine import percentile
from submit import DATA

REPO = Path(__file__).resolve().parents[1]
TASKS_PER_SUBMISSION = 5
TARGET_MS = 100
# The share of submissions per bundle, and the five matters each case is routed to.
BUNDLES = {
    "open-restaurant": (40, ["business-registration", "food-business-licence",
                             "fire-safety-check", "outdoor-signboard", "tobacco-retail-licence"]),
    "newborn": (25, ["birth-medical-certificate", "birth-household-registration",
                     "newborn-medical-insurance", "social-security-card",
                     "birth-household-registration"]),
    "renovation-approval": (15, ["construction-permit", "fire-design-review", "planning-permit",
                                 "construction-drawing-review", "construction-waste-disposal"]),
    "open-care-home": (10, ["private-non-enterprise-registration", "care-home-filing",
                            "fire-safety-check", "food-business-licence", "care-home-filing"]),
    "restaurant-from-fit-out": (5, ["construction-permit", "business-registration",
                                    "food-business-licence", "fire-safety-check",
                                    "outdoor-signboard"]),
    "sea-area-rights": (5, ["sea-area-use-approval", "sea-area-first-registration",
                            "sea-area-use-approval", "sea-area-first-registration",
                            "sea-area-use-approval"]),
}
DEPARTMENT = "sn-amr"  # the department with the most tasks: its inbox and API are measured
SLICE = {"entity_name": "青岛海风餐饮有限公司", "contact_name": "李青",
         "contact_mobile": "13905321111",
         "premises_address": {"division_code": "370202", "detail": "香港中路10号"},
         "legal_representative": {"name": "王海风", "id_number": "11010519491231002X",
                                  "mobile": "13805320000"}}
# Who the cases are for: companies of a brand and trade, and people, drawn from these.
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐"
            "许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁")
GIVEN = ("海风青山明华建国丽娟伟强秀英志勇静敏军杰涛磊燕芳玉兰"
         "桂霞鹏飞宇轩子涵浩然思雨欣怡晨阳文博雅琪")
TRADES = ("餐饮", "商贸", "建筑装饰", "养老服务", "海洋渔业", "食品", "物业管理", "科技")
SLICE_MATERIALS = [{"id": "id-card", "state": "uploaded", "file": "0" * 64,
                    "filename": "a.pdf", "size": 1, "content_type": "application/pdf"}]


def departments_of_matters() -> dict[str, str]:
    """matter code -> its department, from the demo catalog."""
    found = {}
    for path in (REPO / "schemas" / "catalog" / "matters").glob("*.json"):
        data = orjson.loads(path.read_bytes())
        found[data["code"]] = data["department"]
    return found


def party_of(bundle: str, rng: random.Random) -> tuple[str, str | None]:
    """A case's party: a company (name, credit code) or, for a newborn, a person (no code)."""
    person = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
    if bundle == "newborn":
        return person, None
    brand = "".join(rng.choices(GIVEN, k=2))
    code = "91370202" + "".join(rng.choices("0123456789ABCDEFGHJKLMNPQRTUWXY", k=10))
    return f"青岛{brand}{rng.choice(TRADES)}有限公司", code


def status_of(age_days: float, rng: random.Random) -> str:
    """A task's status as cases of that age have: decided when old, open when recent."""
    roll = rng.random()
    if age_days > 30:
        return ("approved" if roll < 0.88 else "rejected" if roll < 0.92
                else "stopped" if roll < 0.96 else rng.choice(("pending", "accepted")))
    return ("pending" if roll < 0.35 else "accepted" if roll < 0.65 else "waiting"
            if roll < 0.80 else "supplement" if roll < 0.85 else "approved")


def seed(engine, submissions: int, now: dt.datetime) -> float:
    """Bulk-insert drafts, submissions and their tasks over the year before now; seconds."""
    from sqlalchemy import text

    started = time.perf_counter()
    departments = departments_of_matters()
    rng = random.Random(16)
    with engine.begin() as connection:
        versions = dict(connection.execute(text(
            "SELECT bundle_code, MAX(id) FROM bundle_version WHERE kind = 'bundle' "
            "GROUP BY bundle_code")).all())
    leads = {code: orjson.loads((REPO / "schemas" / "catalog" / "bundles" / f"{code}.json")
                                .read_bytes())["lead_department"] for code in BUNDLES}
    codes = list(BUNDLES)
    weights = [BUNDLES[code][0] for code in codes]
    answers = orjson.dumps({"seeded": True}).decode()
    data = orjson.dumps(DATA).decode()
    materials = orjson.dumps({m["id"]: m for m in SLICE_MATERIALS}).decode()
    slice_data = orjson.dumps(SLICE).decode()
    slice_materials = orjson.dumps(SLICE_MATERIALS).decode()
    empty = "[]"
    drafts, cases, tasks = [], [], []
    year = dt.timedelta(days=365)
    moments = sorted(now - year * rng.random() for _ in range(submissions))
    task_id = 0
    for number, moment in enumerate(moments, start=1):
        bundle = rng.choices(codes, weights)[0]
        version = versions[bundle]
        day = (moment + dt.timedelta(hours=8)).date()
        tracking = f"OT{day:%Y%m%d}-{number:06X}"
        token = f"{number:064x}"
        drafts.append((number, f"seeded-{number}", token, version, answers, data, materials,
                       moment, moment, moment, None))
        cases.append((number, tracking, answers, data, materials, "in_progress", moment,
                      leads[bundle], number, version, f"seeded-{number}",
                      token))
        age = (now - moment).total_seconds() / 86400
        party_name, party_code = party_of(bundle, rng)
        for matter in BUNDLES[bundle][1]:
            task_id += 1
            status = status_of(age, rng)
            decided = status in ("approved", "rejected", "stopped")
            changed = moment + dt.timedelta(hours=rng.uniform(0.1, min(age * 24, 24 * 20)))
            tasks.append((
                task_id, number, departments[matter], matter, bundle, status,
                empty, slice_data, slice_materials, 5, day + dt.timedelta(days=rng.randint(3, 20)),
                False, moment, changed if status != "pending" else moment,
                changed if decided else None,
                f"CERT-{task_id}" if status == "approved" else None,
                "seeded refusal" if status in ("rejected", "stopped") else None,
                None, None, None, party_name, party_code,
                # As routing starts it: the overdue and due-soon filters read running clocks.
                None if status == "waiting" else day,
                changed.date() if status == "supplement" else None))
    columns = {
        "draft": ("id", "public_id", "token_hash", "bundle_version_id", "answers", "data",
                  "materials", "created_at", "updated_at", "submitted_at", "created_by"),
        "submission": ("id", "tracking_number", "answers", "data", "materials", "status",
                       "submitted_at", "lead_department", "draft_id", "bundle_version_id",
                       "idempotency_key", "token_hash"),
        "task": ("id", "submission_id", "department_code", "matter_code", "bundle_code",
                 "status", "waits_for", "slice_data", "slice_materials", "promised_days",
                 "due_date", "due_estimated", "created_at", "updated_at", "decided_at",
                 "certificate_number", "reason", "certificate_file", "supplement", "handover",
                 "party_name", "party_code", "clock_started_on", "paused_since"),
    }
    with engine.begin() as connection:
        for table, rows in (("draft", drafts), ("submission", cases), ("task", tasks)):
            bulk_insert(connection, table, columns[table], rows)
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            for table in ("draft", "submission", "task"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))")
            connection.commit()
            # What autovacuum does after a load, done now: statistics for the planner and the
            # visibility map that lets counts read the indexes alone.
            connection.connection.driver_connection.autocommit = True
            connection.exec_driver_sql("VACUUM ANALYZE draft, submission, task")
    return time.perf_counter() - started


def bulk_insert(connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Rows into a table the fastest way each database has: COPY, or one executemany."""
    raw = connection.connection.driver_connection
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    # SQLite stores timestamps as SQLAlchemy writes them (UTC text), dates as ISO text.
    def stored(value):
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    cursor = raw.cursor()
    cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})",
                       (tuple(stored(value) for value in row) for row in rows))
    cursor.close()


def prepare(database_url: str, instance: Path, submissions: int) -> dict:
    """Create and migrate the database (publishing the demo catalog), seed it if it holds no
    task, and add the measured department's staff account and API token."""
    from sqlalchemy import func, text
    from sqlmodel import Session, col, select

    from onething.accounts.service import create_account
    from onething.departments.api import encode_cursor, new_token
    from onething.storage.models import Account, AccountCreate, Submission, Task, utc_now
    from onething.web.app import create_app

    app = create_app({"DATABASE_URL": database_url}, instance_path=instance)
    engine = app.extensions["onething.engine"]
    with engine.connect() as connection:
        tasks = connection.execute(text("SELECT COUNT(*) FROM task")).scalar_one()
    if tasks:
        print(f"the database holds {tasks:,} tasks already: measured as it is")
    else:
        seconds = seed(engine, submissions, utc_now())
        print(f"seeded {submissions:,} submissions and {submissions * TASKS_PER_SUBMISSION:,} "
              f"tasks in {seconds:.0f} s")
    with Session(engine) as session:
        if session.exec(select(Account).where(Account.username == "volume")).first() is None:
            create_account(session, AccountCreate(
                username="volume", display_name="volume", role="department_staff",
                department_code=DEPARTMENT, password=PASSWORD))
        token = new_token(session, DEPARTMENT, "volume benchmark", days=1)
    mine = Task.department_code == DEPARTMENT
    with Session(engine) as session:
        total = session.exec(select(func.count()).select_from(Task).where(mine)).one()
        everything = session.exec(select(func.count()).select_from(Task)).one()
        cases = session.exec(select(func.count()).select_from(Submission)).one()
        middle = total // 2
        # Positions for the deep pages, found once here (with OFFSET, which no page uses).
        due = session.exec(select(Task.due_date, Task.id).where(mine).order_by(
            Task.due_date, Task.id).offset(middle).limit(1)).one()
        changed = session.exec(select(Task.updated_at, Task.id).where(mine).order_by(
            Task.updated_at, Task.id).offset(middle).limit(1)).one()
        recent = session.exec(select(Task.updated_at, Task.id).where(mine).order_by(
            col(Task.updated_at).desc(), col(Task.id).desc()).offset(min(50, middle))
            .limit(1)).one()
        number = session.exec(select(Submission.tracking_number).join(
            Task, col(Task.submission_id) == col(Submission.id)).where(mine).order_by(
            col(Task.id).desc()).offset(min(500, middle)).limit(1)).one()
        name = session.exec(select(Task.party_name).where(
            mine, col(Task.party_name).is_not(None)).order_by(Task.id).offset(middle)
            .limit(1)).one()
    return {
        "name": name, "brand": name[2:4],
        "total": total, "tasks": everything, "cases": cases,
        "deep_due": f"{due[0].isoformat()}.{due[1]}", "deep_cursor": encode_cursor(*changed),
        "recent_cursor": encode_cursor(*recent), "number": number, "token": token,
        "engine": engine,
        "yesterday": (utc_now() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


PASSWORD = "volume-benchmark-1"


def run(label: str, database_url: str, args) -> list[str]:
    """Prepare the database, serve it, measure every page; the failures."""
    from city import Browser
    from submit import server

    instance = Path(tempfile.mkdtemp(prefix="onething-volume-"))
    failures: list[str] = []
    try:
        where = prepare(database_url, instance, args.submissions)
        engine = where.pop("engine")
        counts = measure_counts(engine, args.repeat)
        engine.dispose()
        with server(database_url, instance) as (port, pid):
            browser = Browser(port)
            _, login, _ = browser.request("GET", "/login")
            csrf = re.search(rb'name="csrf_token" value="([^"]+)"', login).group(1).decode()
            status, _, _ = browser.request("POST", "/login", {
                "username": "volume", "password": PASSWORD, "csrf_token": csrf})
            if status != 302:
                failures.append(f"sign-in answered {status}")
            api = {"Authorization": f"Bearer {where['token']}"}
            htmx = {"HX-Request": "true"}
            day = where["number"].split("-")[0]
            pages = [
                ("inbox: first page (open tasks, by due date)", "/inbox/", {}),
                ("inbox: first page, htmx swap (rows, pager)", "/inbox/", htmx),
                ("inbox: every status, first page", "/inbox/?status=all", {}),
                ("inbox: every status, deep page by its link",
                 f"/inbox/?status=all&after={where['deep_due']}", {}),
                ("inbox: every status, deep page, htmx swap",
                 f"/inbox/?status=all&after={where['deep_due']}", htmx),
                ("inbox: newest first", "/inbox/?sort=new", {}),
                ("inbox: status pending", "/inbox/?status=pending", {}),
                ("inbox: status approved, newest (largest count)",
                 "/inbox/?status=approved&sort=new", htmx),
                ("inbox: status rejected, newest (a rare status)",
                 "/inbox/?status=rejected&sort=new", htmx),
                ("inbox: overdue", "/inbox/?due=overdue", htmx),
                ("inbox: service open-care-home", "/inbox/?bundle=open-care-home", htmx),
                ("inbox: search, whole tracking number", f"/inbox/?q={where['number']}", htmx),
                ("inbox: search, a day's prefix", f"/inbox/?q={day}", htmx),
                ("inbox: search, a number's last 6 characters",
                 f"/inbox/?q={where['number'][-6:].lower()}", htmx),
                ("inbox: search, a party's whole name", f"/inbox/?q={quote(where['name'])}",
                 htmx),
                ("inbox: search, 2 characters of a name", f"/inbox/?q={quote(where['brand'])}",
                 htmx),
                ("inbox: search, a trade (many match)", f"/inbox/?q={quote('餐饮')}", htmx),
                ("inbox: search, a name, full page", f"/inbox/?q={quote(where['brand'])}", {}),
                ("api: first page (100)", "/api/v1/tasks", api),
                ("api: first page (500)", "/api/v1/tasks?limit=500", api),
                ("api: deep page by cursor (the middle)",
                 f"/api/v1/tasks?cursor={where['deep_cursor']}", api),
                ("api: caught up, the last page", f"/api/v1/tasks?cursor={where['recent_cursor']}",
                 api),
                ("api: status pending", "/api/v1/tasks?status=pending", api),
                ("api: updated_after a day ago",
                 f"/api/v1/tasks?updated_after={where['yesterday']}", api),
            ]
            baseline = timings(browser, "/healthz", args.repeat * 3, failures)
            figures = [(name, timings(browser, path, args.repeat, failures, headers, pid))
                       for name, path, headers in pages]
            # The first page again, last: the machine may have changed meanwhile.
            again = timings(browser, "/healthz", args.repeat * 3, failures)
            first = browser.request("GET", "/inbox/?status=all&lang=en")[1].decode()
        shown = re.search(r'id="inbox-position">([^<]*)<', first)
        if shown is None or not shown.group(1).endswith(f"of {where['total']:,}"):
            failures.append(f"the inbox does not count {where['total']:,} tasks: "
                            f"{shown.group(1) if shown else 'no count shown'}")
        base50, base99 = (min(baseline[0], again[0]), min(baseline[1], again[1]))
        print(f"[{label}] {where['tasks']:,} tasks of {where['cases']:,} cases, {DEPARTMENT} "
              f"holds {where['total']:,}; one request at a time, {args.repeat} per figure "
              f"after {WARM} warming")
        print(f"[{label}] {'/healthz (baseline, before / after)':<48} p50 {baseline[0]:6.1f} / "
              f"{again[0]:.1f} ms  p99 {baseline[1]:6.1f} / {again[1]:.1f} ms (ratios: the "
              f"faster)")
        for name, (p50, p99, cpu, waited) in figures:
            verdict = "ok" if p99 < TARGET_MS else "MISSED"
            print(f"[{label}] {name:<48} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
                  f"{p50 / base50:5.0f}× / {p99 / base99:4.0f}× /healthz  "
                  f"p99 < {TARGET_MS} ms: {verdict:<6}  "
                  + (f"server CPU p50 {cpu[0]:5.1f} p99 {cpu[1]:5.1f} ms, waited for a core "
                     f"p50 {waited[0]:5.1f} p99 {waited[1]:5.1f} ms" if cpu and waited
                     else "server CPU not measured (no schedstat)"))
        p50, p99 = counts
        print(f"[{label}] {'counts by status (the query alone)':<48} p50 {p50:6.1f} ms  "
              f"p99 {p99:6.1f} ms")
        print(machine_line(label))
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    return failures


WARM = 3


def timings(browser, path: str, repeat: int, failures: list, headers: dict | None = None,
            pid: int | None = None) -> tuple:
    """p50 and p99 in milliseconds of `repeat` GETs, after a few that warm caches up; and,
    given the server's pid, its CPU and its threads' wait for a core during them, each as
    (p50, p99), or None where Linux keeps no schedstat."""
    times, cpu, waited = [], [], []
    for number in range(WARM + repeat):
        before = scheduled(pid) if pid else None
        status, _, elapsed = browser.request("GET", path, headers=headers or {})
        after = scheduled(pid) if before else None
        if status != 200:
            failures.append(f"GET {path} answered {status}")
            break
        if number >= WARM:
            times.append(elapsed * 1000)
            if before and after:
                cpu.append((after[0] - before[0]) / 1e6)
                waited.append((after[1] - before[1]) / 1e6)
    if not times:
        return 0.0, 0.0, None, None
    return (*spread(times), spread(cpu) if cpu else None, spread(waited) if waited else None)


def spread(values: list[float]) -> tuple[float, float]:
    """p50 and p99."""
    values = sorted(values)
    return statistics.median(values), percentile(values, 0.99)


def scheduled(pid: int) -> tuple[int, int] | None:
    """Nanoseconds a process's threads have run, and waited runnable for a core (Linux
    schedstat): a slow request that mostly waited was slowed by the machine, not the app.
    None where the kernel keeps no schedstat."""
    ran = waited = 0
    read = False
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "schedstat").read_text().split()
        except OSError:  # a thread that ended meanwhile, or no schedstat at all
            continue
        ran, waited, read = ran + int(fields[0]), waited + int(fields[1]), True
    return (ran, waited) if read else None


def measure_counts(engine, repeat: int) -> tuple[float, float]:
    """The inbox's count by status, timed as the database answers it: p50 and p99 in ms."""
    from sqlalchemy import func, select

    from onething.storage.models import Task

    statement = (select(Task.status, func.count()).where(Task.department_code == DEPARTMENT)
                 .group_by(Task.status))
    times = []
    with engine.connect() as connection:
        for number in range(WARM + repeat):
            started = time.perf_counter()
            connection.execute(statement).all()
            if number >= WARM:
                times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), percentile(times, 0.99)


def main() -> None:
    """Seed (unless seeded), serve, measure; exit 1 if any request failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None,
                        help="an empty PostgreSQL database, say (default: SQLite in a "
                             "temporary folder)")
    parser.add_argument("--submissions", type=int, default=100_000,
                        help=f"cases to seed, {TASKS_PER_SUBMISSION} tasks each")
    parser.add_argument("--repeat", type=int, default=200, help="requests per figure")
    args = parser.parse_args()
    if args.database_url:
        label = args.database_url.split(":", 1)[0].split("+", 1)[0]
        failures = run(label, args.database_url, args)
    else:
        with tempfile.TemporaryDirectory() as folder:
            failures = run("sqlite", f"sqlite:///{folder}/volume.sqlite3", args)
    for failure in failures:
        print("INVALID:", failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
