"""Deadlines the way the law counts them: the clock, its pauses, the holiday calendar."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from onething.cases import clock
from onething.cases.clock import enter_notice
from onething.cases.decisions import resubmit
from onething.cases.holidays import NoticeRefused, overrides, parse_notice
from onething.catalog.workdays import add_working_days, due_date
from onething.cli import EXIT_DEFINITIONS, main
from onething.storage.models import AuditEntry, HolidayDay, Submission, Task
from test_admin import admin, token_of  # noqa: F401  (fixture and helper)
from test_decisions import post_decision, tasks_by_matter
from test_inbox import routed, staff  # noqa: F401  (fixture and helper)

from conftest import uploaded_material

D = dt.date
NOTICE_2027 = {"year": 2027,
               "holidays": [{"date": "2027-01-01", "name": "元旦"},
                            *({"date": f"2027-02-{day:02d}", "name": "春节"}
                              for day in range(5, 12))],
               "workdays": ["2027-02-14"]}


def on(monkeypatch, day: dt.date) -> None:
    """The hall's date, as the clock reads it."""
    monkeypatch.setattr(clock, "china_today", lambda: day)


def started(app, matter: str, day: dt.date) -> Task:
    """The task of a matter, its clock set to have started on `day`."""
    with Session(app.extensions["onething.engine"]) as session:
        task = session.exec(select(Task).where(Task.matter_code == matter)).one()
        task.clock_started_on = day
        clock.recount(session, task, "test")
        session.commit()
        session.refresh(task)
        return task


def due_entries(app, task: Task) -> list[dict]:
    with Session(app.extensions["onething.engine"]) as session:
        return [{"actor": e.actor, "before": e.before["due_date"], "after": e.after["due_date"],
                 "why": e.after["why"]} for e in session.exec(select(AuditEntry).where(
                     AuditEntry.subject == f"task:{task.id}", AuditEntry.action == "due_date")
                     .order_by(AuditEntry.id)).all() if e.after["why"] != "test"]


def test_a_correction_pause_moves_the_due_date_by_the_working_days_it_lasted(
        app, routed, monkeypatch):  # noqa: F811
    task = started(app, "business-registration", D(2026, 11, 2))  # a Monday
    before = task.due_date
    assert before == add_working_days(D(2026, 11, 2), task.promised_days).date
    on(monkeypatch, D(2026, 11, 4))  # asked on a Wednesday
    material = uploaded_material(task)["id"]
    asked = post_decision(staff(app, "sn-amr"), task.id, action="supplement",
                          materials=[material], reason="请补正")
    assert asked.status_code == 200 and "自 2026-11-04 起暂停计时" in asked.text
    assert tasks_by_matter(app)["business-registration"].due_date == before
    on(monkeypatch, D(2026, 11, 9))  # answered the next Monday: Thu, Fri and Mon are off
    with Session(app.extensions["onething.engine"]) as session:
        task = session.get(Task, task.id)
        submission = session.get(Submission, task.submission_id)
        resubmit(session, task, submission, {}, {material: uploaded_material(task)}, "applicant")
    task = tasks_by_matter(app)["business-registration"]
    assert task.paused_days == 3 and task.paused_since is None
    assert task.due_date == add_working_days(before, 3).date
    assert due_entries(app, task) == [{"actor": "applicant", "before": before.isoformat(),
                                       "after": task.due_date.isoformat(), "why": "resubmit"}]


def test_an_unlock_starts_the_clock(app, routed, monkeypatch):  # noqa: F811
    food = tasks_by_matter(app)["food-business-licence"]
    assert food.status == "waiting" and food.clock_started_on is None
    registration = tasks_by_matter(app)["business-registration"]
    amr = staff(app, "sn-amr")
    post_decision(amr, registration.id, action="accept")
    on(monkeypatch, D(2026, 12, 14))
    post_decision(amr, registration.id, action="approve", certificate_number="C-1",
                  **{"produced.entity_uscc": "91370202MA3C00011L"})
    food = tasks_by_matter(app)["food-business-licence"]
    assert food.status == "pending" and food.clock_started_on == D(2026, 12, 14)
    assert food.due_date == due_date(D(2026, 12, 14), food.promised_days, food.counting).date


def test_a_special_procedure_is_excluded_and_audited(
        app, routed, client, monkeypatch):  # noqa: F811
    task = started(app, "business-registration", D(2026, 11, 2))
    before = task.due_date
    amr = staff(app, "sn-amr")
    url = f"/inbox/tasks/{task.id}/special-procedure"
    page = amr.get(f"/inbox/tasks/{task.id}").text
    token = token_of(page)
    # Not before the application is accepted: nothing is examined yet.
    assert 'name="kind"' not in page
    early = amr.post(url, data={"csrf_token": token, "kind": "expert_review",
                                "reason": "组织专家评审"}, headers={"HX-Request": "true"})
    assert early.status_code == 409
    post_decision(amr, task.id, action="accept")
    page = amr.get(f"/inbox/tasks/{task.id}").text
    # Offered below the decisions it would hold up.
    assert page.index('name="kind"') > page.index('name="action" value="approve"')
    on(monkeypatch, D(2026, 11, 10))
    refused = amr.post(url, data={"csrf_token": token, "kind": "expert_review", "reason": " "},
                       headers={"HX-Request": "true"})
    assert refused.status_code == 422 and 'id="clock-refused"' in refused.text
    assert tasks_by_matter(app)["business-registration"].special_procedure is None
    declared = amr.post(url, data={"csrf_token": token, "kind": "expert_review",
                                   "reason": "组织专家评审"})
    assert declared.status_code == 302
    page = amr.get(f"/inbox/tasks/{task.id}").text
    assert "组织专家评审" in page
    # The applicant's receipt says the clock stopped for the department's procedure, not
    # for an answer the applicant owes.
    with Session(app.extensions["onething.engine"]) as session:
        number = session.get(Submission, task.submission_id).tracking_number
    receipt = client.get(f"/s/{number}").text
    paused = re.search(rf'id="paused-{task.id}">([^<]*)<', receipt).group(1)
    assert "特别程序（专家评审" in paused and "补正" not in paused
    # Nothing is offered that it would refuse: no decision, no correction.
    assert 'name="action"' not in page
    # Both would stop the clock: a correction waits for the procedure's end.
    asked = post_decision(amr, task.id, action="supplement", reason="请补正",
                          materials=[uploaded_material(task)["id"]])
    assert asked.status_code == 422
    assert tasks_by_matter(app)["business-registration"].status == "accepted"
    # Nor is it decided while the procedure runs: its days would never be counted.
    rejected = amr.post(f"/inbox/tasks/{task.id}/decide", headers={"HX-Request": "true"},
                        data={"csrf_token": token, "action": "reject", "reason": "专家意见不同意"})
    assert rejected.status_code == 409 and "结束特别程序" in rejected.text
    assert tasks_by_matter(app)["business-registration"].status == "accepted"
    on(monkeypatch, D(2026, 11, 17))  # a week later: 5 working days
    ended = amr.post(url, data={"csrf_token": token, "end": "1"}, headers={"HX-Request": "true"})
    assert ended.status_code == 200
    task = tasks_by_matter(app)["business-registration"]
    assert task.special_procedure is None and task.paused_days == 5
    assert task.due_date == add_working_days(before, 5).date
    assert f"{before.isoformat()} → {task.due_date.isoformat()}" in ended.text
    assert due_entries(app, task)[-1]["why"] == "special_procedure:expert_review"
    with Session(app.extensions["onething.engine"]) as session:
        actions = [e.action for e in session.exec(select(AuditEntry).where(
            AuditEntry.subject == f"task:{task.id}").order_by(AuditEntry.id)).all()]
    assert actions[-3:] == ["special_procedure", "due_date", "special_procedure_end"]
    again = amr.post(url, data={"csrf_token": token, "end": "1"}, headers={"HX-Request": "true"})
    assert again.status_code == 409


def test_an_entered_2027_holiday_moves_a_due_date(session):
    unknown = due_date(D(2026, 12, 31), 1, overrides=overrides(session))
    assert unknown.date == D(2027, 1, 1) and unknown.estimated
    enter_notice(session, parse_notice(json.dumps(NOTICE_2027)), "admin")
    known = overrides(session)
    assert due_date(D(2026, 12, 31), 1, overrides=known).date == D(2027, 1, 4)
    assert not due_date(D(2026, 12, 31), 1, overrides=known).estimated
    # The Spring Festival week is off, and the Sunday after it is worked (调休).
    assert add_working_days(D(2027, 2, 4), 1, known).date == D(2027, 2, 12)
    assert add_working_days(D(2027, 2, 12), 1, known).date == D(2027, 2, 14)
    # Entered again without the festival: the cache sees the change.
    enter_notice(session, parse_notice(json.dumps({**NOTICE_2027, "holidays": [
        {"date": "2027-01-01", "name": "元旦"}], "workdays": []})), "admin")
    assert add_working_days(D(2027, 2, 4), 1, overrides(session)).date == D(2027, 2, 5)
    assert len(session.exec(select(HolidayDay)).all()) == 1


@pytest.mark.parametrize(("notice", "where", "says"), [
    ("{", "$", "not JSON"),
    ({**NOTICE_2027, "year": "2027"}, "year", "whole number"),
    ({**NOTICE_2027, "holidays": [{"date": "2028-01-01", "name": "元旦"}]},
     "holidays[0].date", "not in 2027"),
    ({**NOTICE_2027, "workdays": ["2027-01-01"]}, "workdays[0]", "both a holiday"),
    ({**NOTICE_2027, "workdays": ["2027-02-30"]}, "workdays[0]", "YYYY-MM-DD"),
    ({**NOTICE_2027, "holidays": [{"date": "2027-01-01"}]}, "holidays[0].name", "name"),
    ({**NOTICE_2027, "extra": 1}, "extra", "Unknown key"),
    ({**NOTICE_2027, "workdays": ["2027-W05-7"]}, "workdays[0]", "YYYY-MM-DD"),
    ('{"year": 2027, "holidays": [{"date": "2027-01-01", "name": "元\\u0000旦"}]}', "$",
     "NUL"),
    ('{"year": 2027, "holidays": [{"date": "2027-01-01", "name": "\\ud800"}]}', "$", "surrogate"),
    ('{"year": 2027, "year": 2028, "holidays": []}', "$", "given twice"),
    ("[" * 5000 + "]" * 5000, "$", "nesting"),
])
def test_a_notice_with_a_problem_is_refused_saying_where(notice, where, says):
    with pytest.raises(NoticeRefused) as refused:
        parse_notice(notice if isinstance(notice, str) else json.dumps(notice))
    assert any(p.where == where and says in p.message() for p in refused.value.problems), \
        [str(p) for p in refused.value.problems]


def test_calendar_import_and_show(tmp_path, monkeypatch):
    monkeypatch.setenv("ONETHING_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ONETHING_INSTANCE_PATH", str(tmp_path / "instance"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**NOTICE_2027, "workdays": ["2027-01-01", "2026-02-01"]}))
    refused = CliRunner().invoke(main, ["calendar", "import", str(bad)])
    assert refused.exit_code == EXIT_DEFINITIONS
    assert "workdays[0]: This date is both a holiday and a working day." in refused.output
    assert "workdays[1]: This date is not in 2027." in refused.output
    assert CliRunner().invoke(main, ["calendar", "show", "2027"]).exit_code == EXIT_DEFINITIONS
    good = tmp_path / "2027.json"
    good.write_text(json.dumps(NOTICE_2027, ensure_ascii=False), encoding="utf-8")
    # Only 元旦 and 春节: entered once told so (--replace).
    entered = CliRunner().invoke(main, ["calendar", "import", str(good), "--replace"])
    assert entered.exit_code == 0, entered.output
    assert "2027: 8 holidays, 1 working day (调休) entered" in entered.output
    shown = CliRunner().invoke(main, ["calendar", "show", "2027"])
    assert json.loads(shown.output) == NOTICE_2027


def test_the_console_enters_a_year_and_refuses_a_bad_one(app, admin):  # noqa: F811
    admin, token = admin
    bad = admin.post("/admin/calendar/", data={"csrf_token": token, "notice": json.dumps(
        {**NOTICE_2027, "workdays": ["2027-01-01"]})}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "workdays[0]" in bad.text
    assert 'data-year="2027"' not in admin.get("/admin/calendar/").text
    good = admin.post("/admin/calendar/", data={"csrf_token": token, "confirmed": "yes",
                                                "notice": json.dumps(NOTICE_2027)})
    assert good.status_code == 302
    assert 'data-year="2027"' in admin.get(good.headers["Location"]).text
    year = admin.get("/admin/calendar/2027").text
    assert 'data-date="2027-02-14"' in year and "春节" in year


def test_the_task_page_flags_a_due_date_in_a_year_nobody_entered(app, routed):  # noqa: F811
    task = tasks_by_matter(app)["business-registration"]
    with Session(app.extensions["onething.engine"]) as session:
        row = session.get(Task, task.id)
        row.due_date = D(2027, 3, 1)
        session.add(row)
        session.commit()
        amr = staff(app, "sn-amr")
        assert 'id="calendar-unknown"' in amr.get(f"/inbox/tasks/{task.id}").text
        enter_notice(session, parse_notice(json.dumps(NOTICE_2027)), "admin")
    assert 'id="calendar-unknown"' not in amr.get(f"/inbox/tasks/{task.id}").text


def test_tasks_routed_before_the_clock_count_as_their_published_matter(app, routed):  # noqa: F811
    import sqlalchemy as sa
    from alembic import command

    from onething.storage.db import alembic_config, migrate

    engine = app.extensions["onething.engine"]
    engine.dispose()
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, "0017")
    # As if the fire check had been published counting calendar days (自然日).
    version = sa.table("bundle_version", sa.column("id", sa.Integer()),
                       sa.column("documents", sa.JSON()))
    with engine.begin() as connection:
        for version_id, documents in connection.execute(
                sa.select(version.c.id, version.c.documents)).all():
            for document in documents:
                if document["kind"] == "matter" and \
                        document["data"]["code"] == "fire-safety-check":
                    document["data"]["time_limit"]["counting"] = "calendar_days"
            connection.execute(sa.update(version).where(version.c.id == version_id)
                               .values(documents=documents))
    migrate(engine)
    with Session(engine) as session:
        counting = {t.matter_code: t.counting for t in session.exec(select(Task)).all()}
    assert counting["fire-safety-check"] == "calendar_days"
    assert {c for m, c in counting.items() if m != "fire-safety-check"} == {"working_days"}


@pytest.mark.parametrize(("days", "status", "overdue"), [
    (-1, "pending", True), (-1, "accepted", True), (0, "accepted", False),
    (-1, "approved", False), (-1, "rejected", False)])
def test_the_task_page_says_a_task_is_overdue_as_the_inbox_does(
        app, routed, days, status, overdue):  # noqa: F811
    from onething.catalog.workdays import china_today

    task = tasks_by_matter(app)["business-registration"]
    with Session(app.extensions["onething.engine"]) as session:
        row = session.get(Task, task.id)
        row.due_date, row.status = china_today() + dt.timedelta(days=days), status
        session.add(row)
        session.commit()
    page = staff(app, "sn-amr").get(f"/inbox/tasks/{task.id}").text
    assert ('id="overdue"' in page) is overdue
