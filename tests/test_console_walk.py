"""What the phone and desktop walk of the staff side found: the console's version diff in
plain words, the audit viewer's labels, a holiday notice that would replace a year, the
decision error next to its button, one sign-out in the staff nav."""

from __future__ import annotations

import json
import re

from sqlmodel import Session, select

from onething.catalog.loader import read_meta
from onething.publishing.working_catalog import find_entry, save_definition
from test_admin import admin, versions  # noqa: F401  (fixture and helper)
from test_decisions import post_decision, tasks_by_matter
from test_inbox import routed, staff  # noqa: F401  (fixture and helper)

from conftest import NEW_ENTITY_USCC, SCHEMAS

# Keys of the definitions and of the diff's JSON: none is shown outside the JSON view.
RAW_KEYS = ("promised_days", "legal_days", "critical_path_days", "serial_days", "maxLength",
            "maximum", "required", "needed_by", "waits_for", "time limits", "business-registration",
            "name_declaration_number", "shareholder_count")


def _edit_matter(app, code: str, change) -> None:
    with Session(app.extensions["onething.engine"]) as session:
        entry = find_entry(session, "matter", code)
        data = json.loads(entry.text)
        change(data)
        save_definition(session, "matter", data, based_on=entry.revision, saved_by="tester",
                        metas=read_meta(SCHEMAS))


def _outside_details(page: str) -> str:
    """The diff section's text, without its JSON view and without tags."""
    section = re.search(r'<section id="diff">(.*?)</section>', page, re.S).group(1)
    section = re.sub(r"<details.*?</details>", "", section, flags=re.S)
    return re.sub(r"<[^>]+>", " ", section)


def _change_registration(data: dict) -> None:
    data["time_limit"]["promised_days"] = 2
    data["form"]["properties"]["name_declaration_number"]["maxLength"] = 30
    data["form"]["properties"]["shareholder_count"]["maximum"] = 50


def test_a_version_diff_is_worded_in_the_page_language_with_the_json_behind_details(
        app, admin):  # noqa: F811
    client, token = admin
    _edit_matter(app, "business-registration", _change_registration)
    published = client.post("/admin/bundles/open-restaurant/publish",
                            data={"csrf_token": token})
    assert published.status_code == 200, published.text[:300]
    assert sorted(versions(app, "open-restaurant")) == [1, 2]
    page = client.get("/admin/bundles/open-restaurant/history?from=1&to=2").text
    shown = _outside_details(page)
    # Matter and field by their Chinese names, days in words, the page's own language.
    assert "市场主体设立登记" in shown
    assert "名称自主申报告知书编号" in shown and "股东（投资人）人数" in shown
    assert "1 个工作日" in shown and "2 个工作日" in shown
    assert 'data-change="time limits:changed"' in page
    assert 'data-change="fields:changed"' in page
    for key in RAW_KEYS:
        assert key not in shown, key
    assert "{" not in shown and "→" in shown
    # The JSON is still there for experts, inside its <details>.
    raw = re.search(r'<details class="raw" id="diff-json">(.*?)</details>', page, re.S).group(1)
    assert "promised_days" in raw and "maxLength" in raw
    english = _outside_details(client.get(
        "/admin/bundles/open-restaurant/history?from=1&to=2&lang=en").text)
    assert "Promised time limit" in english and "Longest length" in english
    assert "40 → " not in english  # del/ins, not a raw arrow between values
    assert re.search(r"<del>40</del>\s*→\s*<ins>30</ins>", client.get(
        "/admin/bundles/open-restaurant/history?from=1&to=2&lang=en").text)
    for key in RAW_KEYS:
        assert key not in english, key
    # The rollback's confirmation step words it the same way.
    asked = _outside_details(client.get(
        "/admin/bundles/open-restaurant/rollback?number=1&lang=zh-Hans").text)
    assert "市场主体设立登记" in asked and "promised_days" not in asked


def test_a_refused_decision_says_why_next_to_its_button_and_in_the_summary(
        app, routed):  # noqa: F811
    amr = staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    assert post_decision(amr, registration.id, action="accept").status_code == 200
    refused = post_decision(amr, registration.id, action="approve", certificate_number=" ",
                            **{"produced.entity_uscc": NEW_ENTITY_USCC})
    assert refused.status_code == 422
    page = refused.text
    assert 'id="decision-refused"' in page  # the summary stays
    form = next(f for f in re.findall(r"<form .*?</form>", page, re.S)
                if 'name="action" value="approve"' in f)
    here = re.search(r'<p class="error here" id="decision-refused-here">(.*?)</p>', form,
                     re.S)
    assert here is not None and here.group(1).strip()
    # Right above the button it refused, not in another decision's form.
    assert form.index("decision-refused-here") < form.index('<button type="submit"')
    assert page.count("decision-refused-here") == 1
    assert f'value="{NEW_ENTITY_USCC}"' in form  # what was typed is kept
    # A full page (no JavaScript) shows the same.
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      amr.get(f"/inbox/tasks/{registration.id}").text).group(1)
    plain = amr.post(f"/inbox/tasks/{registration.id}/decide",
                     data={"csrf_token": token, "action": "reject", "reason": ""})
    assert plain.status_code == 422 and plain.text.count("decision-refused-here") == 1


def test_the_staff_and_console_pages_sign_out_once(app, routed, admin):  # noqa: F811
    amr = staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    for page in (amr.get("/inbox/").text, amr.get(f"/inbox/tasks/{registration.id}").text,
                 amr.get("/inbox/cases").text):
        assert page.count('action="/logout"') == 1
    client, _token = admin
    for path in ("/admin/", "/admin/users", "/admin/audit", "/admin/calendar/"):
        assert client.get(path).text.count('action="/logout"') == 1, path


def test_the_audit_viewer_names_keys_states_and_departments_in_the_page_language(
        app, routed, admin):  # noqa: F811
    amr = staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    post_decision(amr, registration.id, action="accept")
    assert post_decision(amr, registration.id, action="approve",
                         certificate_number="91370202MA",
                         **{"produced.entity_uscc": NEW_ENTITY_USCC}).status_code == 200
    client, _token = admin
    with Session(app.extensions["onething.engine"]) as session:
        from onething.departments.api import new_token, revoke_token
        from onething.storage.models import ApiToken, AuditEntry

        new_token(session, "sn-amr", "对接系统")
        revoke_token(session, session.exec(select(ApiToken.id)).one(), "admin")
        # What creating an account records (accounts.service.snapshot).
        session.add(AuditEntry(actor="admin", action="account_create", subject="account:li",
                               after={"display_name": "李敏", "role": "department_staff",
                                      "department_code": "sn-amr", "disabled": False}))
        session.commit()
    english = client.get("/admin/audit?lang=en").text
    rows = re.findall(r'<tr data-entry="\d+">.*?</tr>', english, re.S)
    approve = next(row for row in rows if "Approved</td>" in row)
    assert "Certificate number" in approve and "91370202MA" in approve
    assert "Status" in approve and "Accepted, being examined" in approve
    revoked = next(row for row in rows if "API token revoked" in row)
    assert "Revoked: <del>no</del> → <ins>yes</ins>" in revoked
    created = next(row for row in rows if "Account created" in row)
    assert "Department: <ins>Shinan District" in created
    assert "Role: <ins>Department staff" in created
    chinese = client.get("/admin/audit?lang=zh-Hans").text
    for raw in ("certificate_number", "status:", "department_code", "accepted", "approved"):
        assert raw not in re.sub(r"<[^>]+>", " ", chinese.split("<tbody>")[1]), raw
    assert "市南区市场监" in chinese.split("<tbody>")[1]  # the department by its name


FULL_2027 = {"year": 2027, "holidays": [
    {"date": "2027-01-01", "name": "元旦"},
    *({"date": f"2027-02-{day:02d}", "name": "春节"} for day in range(5, 12)),
    {"date": "2027-04-05", "name": "清明节"},
    *({"date": f"2027-05-{day:02d}", "name": "劳动节"} for day in range(1, 6)),
    {"date": "2027-06-09", "name": "端午节"},
    {"date": "2027-09-15", "name": "中秋节"},
    *({"date": f"2027-10-{day:02d}", "name": "国庆节"} for day in range(1, 8))],
    "workdays": ["2027-02-14"]}
ONLY_NEW_YEAR = {"year": 2027, "holidays": [{"date": "2027-01-01", "name": "元旦"}],
                 "workdays": []}


def _stored_days(app) -> int:
    from onething.storage.models import HolidayDay

    with Session(app.extensions["onething.engine"]) as session:
        return len(session.exec(select(HolidayDay)).all())


def test_a_notice_replacing_a_year_or_lacking_festivals_is_confirmed_first(
        app, admin):  # noqa: F811
    client, token = admin
    full = client.post("/admin/calendar/?lang=en", data={"csrf_token": token,
                                                         "notice": json.dumps(FULL_2027)})
    assert full.status_code == 302  # complete and new: entered at once
    stored = _stored_days(app)
    # Only 元旦, over the entered year: nothing stored, the changes shown, then confirmed.
    asked = client.post("/admin/calendar/?lang=en", data={
        "csrf_token": token, "notice": json.dumps(ONLY_NEW_YEAR)},
        headers={"HX-Request": "true"})
    assert asked.status_code == 200 and 'id="calendar-confirm"' in asked.text
    assert "2027 is already entered" in asked.text
    assert "Spring Festival (春节)" in asked.text and "National Day (国庆节)" in asked.text
    missing = re.search(r"<p>This notice names no day off for (.*?)\.", asked.text).group(1)
    assert "New Year" not in missing and missing.count("、") == 5
    assert "<del>春节 2027-02-05 – 2027-02-11</del>" in asked.text
    assert _stored_days(app) == stored
    form = re.search(r'<form method="post" action="/admin/calendar/"\s+hx-post.*?</form>',
                     asked.text, re.S).group(0)
    assert 'name="confirmed" value="yes"' in form
    notice = re.search(r'name="notice" value="([^"]*)"', form).group(1)
    import html

    confirmed = client.post("/admin/calendar/", data={
        "csrf_token": token, "notice": html.unescape(notice), "confirmed": "yes"})
    assert confirmed.status_code == 302 and _stored_days(app) == 1


def test_a_first_incomplete_notice_is_confirmed_too_and_the_cli_needs_replace(
        app, admin, tmp_path, monkeypatch):  # noqa: F811
    from click.testing import CliRunner

    from onething.cli import EXIT_DEFINITIONS, main

    client, token = admin
    asked = client.post("/admin/calendar/", data={"csrf_token": token,
                                                  "notice": json.dumps(ONLY_NEW_YEAR)})
    assert asked.status_code == 200 and 'id="calendar-confirm"' in asked.text
    assert "already entered" not in asked.text and _stored_days(app) == 0
    monkeypatch.setenv("ONETHING_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ONETHING_INSTANCE_PATH", str(tmp_path / "instance"))
    full, partial = tmp_path / "full.json", tmp_path / "partial.json"
    full.write_text(json.dumps(FULL_2027, ensure_ascii=False), encoding="utf-8")
    partial.write_text(json.dumps(ONLY_NEW_YEAR, ensure_ascii=False), encoding="utf-8")
    assert CliRunner().invoke(main, ["calendar", "import", str(full)]).exit_code == 0
    refused = CliRunner().invoke(main, ["calendar", "import", str(partial)])
    assert refused.exit_code == EXIT_DEFINITIONS
    assert "--replace" in refused.output and "- 2027-02-05 春节" in refused.output
    shown = CliRunner().invoke(main, ["calendar", "show", "2027"])
    assert len(json.loads(shown.output)["holidays"]) == len(FULL_2027["holidays"])
    replaced = CliRunner().invoke(main, ["calendar", "import", str(partial), "--replace"])
    assert replaced.exit_code == 0, replaced.output
    shown = CliRunner().invoke(main, ["calendar", "show", "2027"])
    assert json.loads(shown.output) == ONLY_NEW_YEAR


def test_entering_a_year_counts_the_open_tasks_due_dates_again(app, routed, admin):  # noqa: F811
    import datetime as dt

    from onething.storage.models import AuditEntry, Task
    from test_deadlines import started

    task = started(app, "business-registration", dt.date(2026, 12, 31))
    assert task.promised_days == 1 and task.due_date == dt.date(2027, 1, 1)
    assert task.due_estimated  # 2027 is not in the installed calendar
    client, token = admin
    entered = client.post("/admin/calendar/", data={"csrf_token": token,
                                                    "notice": json.dumps(FULL_2027)})
    assert entered.status_code == 302
    with Session(app.extensions["onething.engine"]) as session:
        task = session.get(Task, task.id)
        assert task.due_date == dt.date(2027, 1, 4) and not task.due_estimated
        moved = session.exec(select(AuditEntry).where(
            AuditEntry.subject == f"task:{task.id}", AuditEntry.action == "due_date")
            .order_by(AuditEntry.id.desc())).first()
        assert (moved.actor, moved.after["why"]) == ("admin", "holiday_calendar")
    english = client.get("/admin/audit?lang=en&action=due_date").text
    assert "the year&#39;s holiday calendar was entered" in english


def test_a_disabled_accounts_next_request_goes_to_sign_in_saying_why(app, admin):  # noqa: F811
    from test_admin import add_account, sign_in

    add_account(app, "staff-sn-amr", "department_staff", "sn-amr")
    amr = app.test_client()
    sign_in(amr, "staff-sn-amr")
    assert amr.get("/inbox/").status_code == 200
    client, token = admin
    client.post("/admin/users/staff-sn-amr/disabled", data={"disabled": "1",
                                                             "csrf_token": token})
    # With htmx the whole page goes to the sign-in, not a partial into the inbox.
    partial = amr.get("/inbox/", headers={"HX-Request": "true"})
    assert partial.status_code == 401
    assert partial.headers["HX-Redirect"].startswith("/login?next=/inbox/")
    assert "ended=1" in partial.headers["HX-Redirect"]
    # The browser's sign-in is forgotten: the next page is a plain redirect to sign in.
    plain = amr.get("/inbox/")
    assert plain.status_code == 302 and "ended=1" not in plain.headers["Location"]
    told = amr.get(partial.headers["HX-Redirect"] + "&lang=en").text
    assert 'id="signed-out"' in told and "You were signed out" in told
    # Someone who never signed in is not told anything of the kind.
    stranger = app.test_client().get("/admin/", follow_redirects=True).text
    assert 'id="signed-out"' not in stranger
