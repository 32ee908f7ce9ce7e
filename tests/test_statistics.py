"""The hall's numbers: SQL aggregates checked against a hand-computed fixture, the public page
without personal data, the department's and the console's pages, CSV, bad filters, the CLI,
the realised savings stored at submit, and the demo's seeded cases."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from onething.cases import demo_cases, statistics
from onething.cases.decisions import decide
from onething.catalog.workdays import CHINA_TZ
from onething.cli import main
from onething.composer.compose import compose
from onething.publishing.versions import bundle_of, get_version
from onething.storage.models import (
    BundleVersion,
    Draft,
    Rating,
    Rectification,
    Submission,
    Task,
    utc_now,
)
from test_admin import add_account, sign_in
from test_inbox import routed, staff  # noqa: F401  (fixture and helper)

from conftest import uploaded_material

NAME, ID_NUMBER, MOBILE = "张三丰", "110105194912310029", "13912345678"
COMMENT = "窗口人员张三丰态度差"


def china(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), CHINA_TZ)


def version_of(session, code: str) -> int:
    return session.exec(select(BundleVersion.id).where(
        BundleVersion.bundle_code == code, BundleVersion.kind == "bundle")).first()


def seed_fixture(app) -> None:
    """Three cases, seven tasks, five ratings, two rectifications, with known figures."""
    personal = {"applicant_name": NAME, "applicant_id_number": ID_NUMBER,
                "applicant_mobile": MOBILE}
    with Session(app.extensions["onething.engine"]) as session:
        versions = {code: version_of(session, code) for code in ("open-restaurant", "newborn")}
        cases = [("S1", "open-restaurant", "2026-03-02", (4, 30, 5, 4, 20)),
                 ("S2", "open-restaurant", "2026-03-20", (2, 10, 3, 1, 5)),
                 ("S3", "newborn", "2026-04-05", (3, 20, 4, 2, 10))]
        ids = {}
        for number, (name, bundle, day, saved) in enumerate(cases, start=1):
            draft = Draft(public_id=f"fixture-{number}", token_hash="0" * 64,
                          bundle_version_id=versions[bundle], data=personal,
                          created_at=china(day), submitted_at=china(day))
            session.add(draft)
            session.flush()
            case = Submission(
                tracking_number=f"OT2026FIX{number}", answers={}, data=personal,
                materials={}, status="in_progress", submitted_at=china(day), draft_id=draft.id,
                bundle_version_id=versions[bundle], idempotency_key=f"fixture-{number}",
                token_hash="0" * 64, **dict(zip(("saved_forms", "saved_fields",
                                                 "saved_materials", "saved_visits",
                                                 "saved_days"), saved, strict=True)))
            session.add(case)
            session.flush()
            ids[name] = (case.id, bundle, day)
        tasks = [  # case, department, matter, status, promised, taken, on time, corrections
            ("T1", "S1", "sn-amr", "business-registration", "approved", 5, 3, True, 1),
            ("T2", "S1", "sn-fire", "fire-safety-check", "approved", 10, 12, False, 0),
            ("T3", "S1", "sn-amr", "food-business-licence", "rejected", 10, 4, True, 0),
            ("T4", "S2", "sn-amr", "business-registration", "approved", 5, 5, True, 2),
            ("T5", "S2", "sn-fire", "fire-safety-check", "accepted", 10, None, None, 0),
            ("T6", "S3", "qd-health", "birth-medical-certificate", "approved", 3, 1, True, 0),
            ("T7", "S3", "qd-police", "birth-household-registration", "pending", 3, None,
             None, 0),
        ]
        task_ids = {}
        for name, case, department, matter, status, promised, taken, on_time, fixes in tasks:
            case_id, bundle, day = ids[case]
            task = Task(submission_id=case_id, department_code=department, matter_code=matter,
                        bundle_code=bundle, status=status, slice_data=personal,
                        slice_materials=[], promised_days=promised,
                        due_date=dt.date.fromisoformat(day) + dt.timedelta(days=promised),
                        created_at=china(day), days_taken=taken, on_time=on_time,
                        supplements=fixes, party_name=NAME, party_code=ID_NUMBER,
                        decided_at=china(day) if taken is not None else None)
            session.add(task)
            session.flush()
            task_ids[name] = task
        ratings = [  # target task (None: the case), case, level, when
            ("T1", "S1", 5, "2026-03-10"), ("T2", "S1", 1, "2026-03-25"),
            ("T4", "S2", 4, "2026-04-02"), (None, "S1", 3, "2026-04-03"),
            ("T6", "S3", 2, "2026-04-20")]
        for target, case, level, day in ratings:
            task = task_ids.get(target)
            rating = Rating(submission_id=ids[case][0],
                            target=f"task:{task.id}" if task else "case",
                            task_id=task.id if task else None,
                            department_code=task.department_code if task else "sn-amr",
                            matter_code=task.matter_code if task else None,
                            bundle_code=ids[case][1], level=level, comment=COMMENT,
                            created_at=china(day), updated_at=china(day))
            session.add(rating)
            session.flush()
            if level <= 2:
                closed = day == "2026-03-25"
                session.add(Rectification(
                    rating_id=rating.id, submission_id=ids[case][0],
                    department_code=rating.department_code, matter_code=rating.matter_code,
                    bundle_code=rating.bundle_code, level=level,
                    status="closed" if closed else "open", opened_at=china(day),
                    due_date=dt.date.fromisoformat(day) + dt.timedelta(days=7),
                    verified=f"{NAME} {ID_NUMBER}", reply=f"{NAME}您好",
                    closed_at=china("2026-03-29") if closed else None))
        session.commit()


SPRING = {"from": "2026-03-01", "to": "2026-04-30"}


def report(app, by: str, **extra) -> statistics.Report:
    with Session(app.extensions["onething.engine"]) as session:
        filters, by = statistics.parse_filters({**SPRING, "by": by, **extra},
                                               extra.pop("department", None))
        return statistics.compute(session, filters, by)


def test_the_figures_by_month_are_the_hand_computed_ones(app):
    seed_fixture(app)
    found = report(app, "month")
    assert [row.key for row in found.rows] == ["2026-03", "2026-04"]
    march, april = (row.as_dict() for row in found.rows)
    # March: T1–T5. Decided with their days: 3, 12, 4, 5 (on time but T2).
    assert (march["received"], march["completed"], march["refused"],
            march["in_progress"]) == (5, 3, 1, 1)
    assert march["on_time_rate"] == 75.0 and march["average_days"] == 6.0
    # Nearest rank: ⌈0.9 × 4⌉ = 4th of 3, 4, 5, 12.
    assert march["p90_days"] == 12 and march["average_promised_days"] == 7.5
    assert march["correction_rate"] == 40.0  # T1 and T4 of five
    # Ratings given in March: 5 and 1; the bad one's rectification, opened on Wednesday
    # 25 March and closed on Sunday the 29th, took 2 working days (Thursday and Friday).
    assert (march["ratings"], march["satisfaction_rate"], march["bad_ratings"]) == (2, 50.0, 1)
    assert (march["rectification_rate"], march["rectification_days"]) == (100.0, 2.0)
    assert march["cases"] == 2
    assert march["saved"] == {"forms": 6, "fields": 40, "materials": 8, "visits": 5, "days": 25}
    assert (april["received"], april["completed"], april["in_progress"]) == (2, 1, 1)
    assert (april["on_time_rate"], april["p90_days"], april["correction_rate"]) == (
        100.0, 1, 0.0)
    # April's ratings: 4, 3 (the whole case) and 2.
    assert (april["ratings"], april["satisfaction_rate"], april["bad_ratings"]) == (3, 33.3, 1)
    assert (april["rectification_rate"], april["rectification_days"]) == (0.0, None)
    assert april["saved"] == {"forms": 3, "fields": 20, "materials": 4, "visits": 2, "days": 10}
    total = found.total.as_dict()
    assert (total["received"], total["completed"], total["refused"],
            total["in_progress"]) == (7, 4, 1, 2)
    # Days 1, 3, 4, 5, 12: ⌈4.5⌉ = 5th.
    assert (total["on_time_rate"], total["average_days"], total["p90_days"]) == (80.0, 5.0, 12)
    assert total["correction_rate"] == 28.6
    assert (total["satisfaction_rate"], total["bad_ratings"], total["rectification_rate"]) == (
        40.0, 2, 50.0)
    assert total["saved"] == {"forms": 9, "fields": 60, "materials": 12, "visits": 7,
                              "days": 35}


def test_the_figures_by_department_matter_and_service(app):
    seed_fixture(app)
    departments = {row.key: row.as_dict() for row in report(app, "department").rows}
    amr, fire = departments["sn-amr"], departments["sn-fire"]
    assert (amr["received"], amr["completed"], amr["refused"], amr["on_time_rate"]) == (
        3, 2, 1, 100.0)
    assert amr["p90_days"] == 5  # ⌈2.7⌉ = 3rd of 3, 4, 5
    # The case's window rating (3) is the lead department's.
    assert (amr["ratings"], amr["satisfaction_rate"], amr["bad_ratings"]) == (3, 66.7, 0)
    assert (fire["received"], fire["in_progress"], fire["on_time_rate"], fire["p90_days"]) == (
        2, 1, 0.0, 12)
    assert (fire["bad_ratings"], fire["rectification_rate"]) == (1, 100.0)
    matters = {row.key: row.as_dict() for row in report(app, "matter").rows}
    assert matters[""]["ratings"] == 1 and matters[""]["received"] == 0  # the whole case
    assert matters["business-registration"]["correction_rate"] == 100.0
    # By matter, savings are the total's only (they belong to cases).
    assert report(app, "matter").total.saved["visits"] == 7
    services = {row.key: row.as_dict() for row in report(app, "bundle").rows}
    assert services["open-restaurant"]["cases"] == 2
    assert services["newborn"]["saved"]["days"] == 10
    # One service, one department: the filters hold in every query.
    only = report(app, "month", bundle="newborn").total.as_dict()
    assert (only["received"], only["ratings"], only["cases"]) == (2, 1, 1)
    fire_only = report(app, "month", department="sn-fire").total.as_dict()
    assert (fire_only["received"], fire_only["bad_ratings"], fire_only["cases"]) == (2, 1, 2)


def test_the_public_page_and_its_csv_hold_no_personal_data(app, client):
    seed_fixture(app)
    pages = [client.get("/statistics", query_string={**SPRING, "by": by})
             for by in statistics.BY]
    exports = [client.get("/statistics", query_string={**SPRING, "by": by, "format": "csv"})
               for by in statistics.BY]
    assert all(page.status_code == 200 for page in pages + exports)
    text = "\n".join(response.text for response in pages + exports)
    for secret in (NAME, ID_NUMBER, MOBILE, COMMENT, "OT2026FIX1", "您好"):
        assert secret not in text
    page = pages[0].text
    assert 'id="stats-cases"' in page and 'id="statistics-data"' in page
    assert "echarts.min.js" in page  # the charts' script, on this page only
    assert "echarts.min.js" not in client.get("/").text
    # Each chart has its table: the figure readable without JavaScript.
    for section in ("cases", "time", "ratings", "savings"):
        assert f'data-chart="{section}"' in page and f'id="stats-{section}"' in page
    rows = list(csv.reader(io.StringIO(exports[0].text.lstrip("\ufeff"))))
    assert [row[0] for row in rows[1:]] == ["2026-03", "2026-04", rows[-1][0]]
    assert len(rows[1]) == len(rows[0])
    assert exports[0].headers["Content-Type"].startswith("text/csv")


@pytest.mark.parametrize("query, code", [
    ({"from": "2026-02-30"}, "date"), ({"from": "yesterday"}, "date"),
    ({"to": "2026-1-5"}, "date"), ({"from": "2026-05-01", "to": "2026-04-01"}, "order"),
    ({"from": "2020-01-01", "to": "2026-01-01"}, "span"), ({"month": "2026-13"}, "month"),
    ({"by": "person"}, "by"), ({"bundle": "<script>"}, "bundle")])
def test_bad_filters_answer_400_with_the_form_and_what_to_correct(client, query, code):
    response = client.get("/statistics", query_string={**query, "lang": "en"})
    assert response.status_code == 400
    assert 'id="statistics-problem"' in response.text
    assert str(statistics.PROBLEMS[code]) in response.text
    assert 'id="statistics-filters"' in response.text  # the form, to correct it
    assert "<script>" not in response.text.split("<main>")[1]
    assert client.get("/statistics", query_string={**query, "format": "csv"}).status_code == 400


def test_staff_see_their_own_department_and_administrators_every_one(app, client):
    seed_fixture(app)
    add_account(app, "staff-sn-fire", "department_staff", "sn-fire")
    fire = staff(app, "sn-fire")
    page = fire.get("/inbox/statistics/", query_string={**SPRING, "by": "matter",
                                                        "department": "sn-amr"})
    assert page.status_code == 200
    # Only the fire brigade's matters, whatever the query says.
    assert 'data-key="fire-safety-check"' in page.text
    assert 'data-key="business-registration"' not in page.text
    assert 'id="statistics-bad">1<' in page.text
    assert client.get("/inbox/statistics/").status_code == 302  # signed out: to sign in
    add_account(app, "admin", "administrator")
    sign_in(client)
    console = client.get("/admin/statistics/", query_string=SPRING)
    assert console.status_code == 200
    assert 'data-key="sn-amr"' in console.text and 'data-key="sn-fire"' in console.text
    one = client.get("/admin/statistics/", query_string={**SPRING, "department": "sn-amr"})
    assert 'data-key="sn-fire"' not in one.text
    assert fire.get("/admin/statistics/").status_code == 403


def test_the_command_line_prints_the_same_figures(app, monkeypatch):
    seed_fixture(app)
    url = app.extensions["onething.engine"].url.render_as_string(hide_password=False)
    monkeypatch.setenv("ONETHING_DATABASE_URL", url)
    monkeypatch.setenv("ONETHING_INSTANCE_PATH", app.instance_path)
    result = CliRunner().invoke(main, ["stats", "--month", "2026-03", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["total"]["p90_days"] == 12 and printed["total"]["on_time_rate"] == 75.0
    assert printed["total"]["saved"]["visits"] == 5
    table = CliRunner().invoke(main, ["stats", "--month", "2026-03", "--by", "department"])
    assert table.exit_code == 0 and "sn-fire" not in table.output.split("\n")[0]
    refused = CliRunner().invoke(main, ["stats", "--month", "March"])
    assert refused.exit_code == 2 and "YYYY-MM" in refused.output


def test_a_submission_stores_the_savings_its_answers_realised_and_decisions_their_days(
        app, routed):  # noqa: F811
    with Session(app.extensions["onething.engine"]) as session:
        case = session.exec(select(Submission)).one()
        expected = compose(bundle_of(get_version(session, case.bundle_version_id)),
                           case.answers).savings
        saved = (case.saved_forms, case.saved_fields, case.saved_materials,
                 case.saved_visits, case.saved_days)
        assert saved == tuple(getattr(expected, name).saved
                              for name in ("forms", "fields", "materials", "visits", "days"))
        assert case.saved_forms > 0 and case.saved_visits > 0
        task = session.exec(select(Task).where(Task.matter_code == "fire-safety-check")).one()
        decide(session, task, "accept", "fire")
        decide(session, task, "approve", "fire", certificate_number="消检-001")
        session.refresh(task)
        # Decided the day it started: no day taken, on time.
        assert (task.days_taken, task.on_time, task.supplements) == (0, True, 0)
        # A correction asked for is counted on the task (the 补正 rate).
        other = next(t for t in session.exec(select(Task).where(Task.status == "pending"))
                     if t.slice_materials)
        decide(session, other, "supplement", "staff", reason="补正",
               materials=[uploaded_material(other)["id"]])
        session.refresh(other)
        assert other.supplements == 1 and other.days_taken is None


def test_the_demo_seeds_plausible_cases_that_the_pages_count(app, client):
    with Session(app.extensions["onething.engine"]) as session:
        assert demo_cases.is_empty(session)
        made = demo_cases.seed_cases(session, 200, seed=7)
        assert made["cases"] == 200 and made["tasks"] >= 200 and made["ratings"] > 0
        assert not demo_cases.is_empty(session)
        filters, by = statistics.parse_filters({})
        total = statistics.compute(session, filters, by).total
    # Every seeded case lies in the default range (the last six months).
    assert total.cases == 200 and total.received == made["tasks"]
    assert total.ratings == made["ratings"] and total.bad == made["rectifications"]
    assert 0 < total.on_time_rate <= 100 and total.p90_days is not None
    assert client.get("/statistics").status_code == 200
    with Session(app.extensions["onething.engine"]) as session:
        parties = {bundle: name for bundle, name in session.exec(
            select(Task.bundle_code, Task.party_name))}
    # Someone applied: a company for a business, a person for a newborn.
    assert parties["open-restaurant"].startswith("青岛")
    assert parties["open-restaurant"].endswith(demo_cases.KINDS)
    assert not parties["newborn"].startswith("青岛") and len(parties["newborn"]) == 3
    # Nothing happened after now, and ids follow time, as real cases' do.
    with Session(app.extensions["onething.engine"]) as session:
        rows = session.exec(select(Task.id, Task.created_at, Task.updated_at, Task.decided_at)
                            .order_by(Task.id)).all()
    now = utc_now()
    assert all(max(t for t in row[1:] if t is not None) <= now for row in rows)
    created = [row[1] for row in rows]
    assert created == sorted(created)
    # Refusals of both kinds, each with its words: 不予受理 before acceptance, else 不予许可.
    with Session(app.extensions["onething.engine"]) as session:
        refused = set(session.exec(select(Task.not_accepted, Task.reason).where(
            Task.status == "rejected")).all())
    assert refused == {(True, "示例：不符合受理条件"), (False, "示例：经审查不符合许可条件")}


def test_every_seeded_demo_case_opens_for_its_departments(app):
    # The demo's cases hold no answers: their pages still open, the department's own matter
    # among every matter of the bundle, and the slice's PDF draws.
    with Session(app.extensions["onething.engine"]) as session:
        demo_cases.seed_cases(session, 120, seed=3)
        tasks = session.exec(select(Task.id, Task.department_code, Task.bundle_code)).all()
    first = {}
    for task_id, department, bundle in tasks:
        first.setdefault((department, bundle), task_id)
    assert len({bundle for _, bundle in first}) >= 4
    browsers = {}
    for (department, bundle), task_id in sorted(first.items()):
        if department not in browsers:
            add_account(app, f"staff-{department}", "department_staff", department)
            browsers[department] = app.test_client()
            sign_in(browsers[department], f"staff-{department}")
        browser = browsers[department]
        page = browser.get(f"/inbox/tasks/{task_id}")
        assert page.status_code == 200, (department, bundle, page.text[:300])
        pdf = browser.get(f"/inbox/tasks/{task_id}/application.pdf")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF"), (department, bundle)
        # Numbered as real cases are: the inbox's search by tracking number finds it.
        number = re.search(r"OT\d{8}-[0-9A-Z]{6}", page.text).group(0)
        found = browser.get("/inbox/", query_string={"q": number.lower(), "status": ""})
        assert f"/inbox/tasks/{task_id}" in found.text, (department, number)
