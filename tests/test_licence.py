"""一业一证: published figures from the definitions, the comprehensive licence, revocation."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from sqlmodel import Session, select

from onething.cases.licences import format_number, state
from onething.composer.compose import compose
from onething.publishing.check import load_catalog
from onething.storage.models import AuditEntry, IndustryLicence, Task
from test_admin import add_account
from test_decisions import post_decision
from test_inbox import staff
from test_web import FORM, fill, submit, upload_everything

from conftest import NEW_ENTITY_USCC, SCHEMAS

STORE = {"has_business_licence": "false", "sells_tobacco": "true", "outdoor_signboard": "false"}


# --- published figures, asserted from the definitions ---------------------------------------

def test_restaurant_published_figures(demo_catalog):
    """Shinan's restaurant bundle: 4 visits → 1, 13 working days → 5."""
    savings = compose(demo_catalog.bundles["open-restaurant"]).savings
    assert (savings.visits.before, savings.visits.after) == (4, 1)
    assert (savings.days.before, savings.days.after) == (13, 5)


def test_sea_area_published_form_elements(demo_catalog):
    """Rongcheng's sea-area bundle: 40 form elements → 25."""
    savings = compose(demo_catalog.bundles["sea-area-rights"]).savings
    assert (savings.fields.before, savings.fields.after) == (40, 25)


def test_sea_area_published_days(demo_catalog):
    """Rongcheng's sea-area bundle: 22 working days → 8 (the bundle's committed limit)."""
    savings = compose(demo_catalog.bundles["sea-area-rights"]).savings
    assert (savings.days.before, savings.days.after) == (22, 8)
    assert demo_catalog.bundles["sea-area-rights"].data["sources"]


def test_a_joint_inspection_is_one_visit(demo_catalog):
    bundle = demo_catalog.bundles["convenience-store-licence"]
    separately = compose(bundle, {"has_business_licence": False, "sells_tobacco": True,
                                  "outdoor_signboard": True}).savings
    # Food, tobacco and signboard at their windows (registration is online), plus two
    # inspections; together one window and one inspection.
    assert sum(m.visits for m in compose(bundle, {"has_business_licence": False,
               "sells_tobacco": True, "outdoor_signboard": True}).matters) == 3
    assert (separately.visits.before, separately.visits.after) == (5, 2)
    assert separately.days.after == 4  # the bundle's committed limit


def _catalog_with(tmp_path, change):
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, root)
    path = root / "catalog" / "bundles" / "sea-area-rights.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False))
    return root


def test_check_refuses_a_promise_beyond_the_legal_limits(tmp_path):
    from onething.catalog.problems import DefinitionError

    root = _catalog_with(tmp_path, lambda data: data.update(promised_days=46))
    with pytest.raises(DefinitionError) as refused:
        load_catalog(root)
    text = str(refused.value)
    assert "sea-area-rights.json#/promised_days" in text and "45" in text


def test_check_refuses_a_licence_outside_one_industry_one_licence(tmp_path):
    from onething.catalog.problems import DefinitionError

    def change(data):
        data["licence"] = {"name": "证", "industry": "海", "issuer": "wh-approval",
                           "number_pattern": "海{year}{seq:4}", "division": "371082",
                           "validity_years": 5}
    with pytest.raises(DefinitionError):
        load_catalog(_catalog_with(tmp_path, change))


def test_check_refuses_an_inspection_of_a_matter_the_bundle_lacks(tmp_path):
    from onething.catalog.problems import DefinitionError

    def change(data):
        data["joint_inspection"] = {"matters": ["sea-area-use-approval", "fire-safety-check"]}
    with pytest.raises(DefinitionError) as refused:
        load_catalog(_catalog_with(tmp_path, change))
    assert "sea-area-rights.json#/joint_inspection/matters/1" in str(refused.value)


def test_licence_numbers_follow_the_pattern():
    assert format_number("便利{division}{year}{seq:5}", year=2026, division="370202",
                         seq=7) == "便利370202202600007"


# --- the licence, issued, verified, revoked ---------------------------------------------------

def _tasks(app) -> dict[str, Task]:
    with Session(app.extensions["onething.engine"]) as session:
        return {t.matter_code: t for t in session.exec(select(Task)).all()}


def approve_store(app, client) -> dict:
    """Submit a convenience store case and approve every matter; the tasks by matter."""
    response = client.post("/b/convenience-store-licence", data=STORE)
    assert response.status_code == 302, response.text[:500]
    draft = response.headers["Location"].removesuffix("/form")
    fill(client, draft)
    upload_everything(client, draft)
    submit(client, draft)
    for department in ("sn-amr", "sn-tobacco"):
        add_account(app, f"staff-{department}", "department_staff", department)
    amr, tobacco = staff(app, "sn-amr"), staff(app, "sn-tobacco")
    tasks = _tasks(app)
    registration = tasks["business-registration"]
    post_decision(amr, registration.id, action="accept")
    assert post_decision(amr, registration.id, action="approve",
                         certificate_number=NEW_ENTITY_USCC,
                         **{"produced.entity_uscc": NEW_ENTITY_USCC}).status_code == 200
    for matter, browser, number in (("food-business-licence", amr, "JY13702020012345"),
                                    ("tobacco-retail-licence", tobacco, "370202201234")):
        task = _tasks(app)[matter]
        assert post_decision(browser, task.id, action="accept").status_code == 200
        assert post_decision(browser, task.id, action="approve",
                             certificate_number=number).status_code == 200
    return {"amr": amr, "tobacco": tobacco, "tasks": _tasks(app)}


def _licence(app) -> IndustryLicence | None:
    with Session(app.extensions["onething.engine"]) as session:
        return session.exec(select(IndustryLicence)).first()


def test_the_last_approval_issues_one_licence_verified_anonymously(app, client):
    case = approve_store(app, client)
    licence = _licence(app)
    assert licence is not None and re.fullmatch(r"便利370202\d{4}00001", licence.number)
    assert licence.holder == FORM["entity_name"]
    anonymous = app.test_client()
    page = anonymous.get(f"/licences/{licence.token}")
    assert page.status_code == 200 and 'data-state="valid"' in page.text
    assert "JY13702020012345" in page.text and "370202201234" in page.text
    # Nothing personal beyond the holder's name.
    assert FORM["legal_representative.id_number"] not in page.text
    assert FORM["legal_representative.name"] not in page.text
    qr = anonymous.get(f"/licences/{licence.token}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    pdf = anonymous.get(f"/licences/{licence.token}/licence.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert case["tasks"]["food-business-licence"].certificate_number == "JY13702020012345"


def test_the_licence_enters_the_registry_with_trust_a_and_leaves_it_when_revoked(app, client):
    from onething.registry.providers import LocalRegistry
    from onething.registry.service import FOUND, lookup
    from onething.storage.models import Licence

    case = approve_store(app, client)
    licence = _licence(app)
    with Session(app.extensions["onething.engine"]) as session:
        found = lookup(LocalRegistry(session), NEW_ENTITY_USCC, "industry-licence",
                       licence.valid_until)
        assert found.state == FOUND
        record = found.record
        assert record.number == licence.number and record.trust == "A"
        assert record.source == "onething" and record.expires_on == licence.valid_until
        assert record.data["entity_name"] == FORM["entity_name"]
        assert record.data["industry"] == "便利店"
        assert set(record.data["permits"]) >= {"JY13702020012345", "370202201234"}
        submission_id = case["tasks"]["tobacco-retail-licence"].submission_id
        audit = session.exec(select(AuditEntry).where(
            AuditEntry.action == "licence_registered",
            AuditEntry.subject == f"submission:{submission_id}")).one()
        assert audit.after["number"] == licence.number
    tobacco = case["tasks"]["tobacco-retail-licence"]
    page = case["tobacco"].get(f"/inbox/tasks/{tobacco.id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert case["tobacco"].post(f"/inbox/tasks/{tobacco.id}/revoke", data={
        "csrf_token": token, "reason": "距学校不足50米", "confirm": "yes"}).status_code == 302
    with Session(app.extensions["onething.engine"]) as session:
        # No longer valid in full: not offered to the holder's next case.
        assert session.exec(select(Licence.revoked).where(
            Licence.type_code == "industry-licence")).one() is True
        assert LocalRegistry(session).licences(NEW_ENTITY_USCC, "industry-licence") == []


def test_a_revoked_permit_shows_on_the_licence(app, client):
    case = approve_store(app, client)
    licence = _licence(app)
    tobacco = case["tasks"]["tobacco-retail-licence"]
    page = case["tobacco"].get(f"/inbox/tasks/{tobacco.id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    refused = case["tobacco"].post(f"/inbox/tasks/{tobacco.id}/revoke",
                                   data={"csrf_token": token, "reason": "  "})
    assert refused.status_code == 422 and 'id="revoke-refused"' in refused.text
    assert 'data-state="valid"' in app.test_client().get(f"/licences/{licence.token}").text
    reason = "未成年人保护：距学校不足50米"
    # Not confirmed: refused, nothing revoked, and the reason typed is still in its box.
    unconfirmed = case["tobacco"].post(f"/inbox/tasks/{tobacco.id}/revoke",
                                       data={"csrf_token": token, "reason": reason})
    assert unconfirmed.status_code == 422 and 'id="revoke-refused"' in unconfirmed.text
    assert f">{reason}</textarea>" in unconfirmed.text
    assert 'data-state="valid"' in app.test_client().get(f"/licences/{licence.token}").text
    done = case["tobacco"].post(f"/inbox/tasks/{tobacco.id}/revoke",
                                data={"csrf_token": token, "reason": reason, "confirm": "yes"})
    assert done.status_code == 302
    page = app.test_client().get(f"/licences/{licence.token}").text
    assert 'data-state="partly_revoked"' in page
    assert 'data-matter="tobacco-retail-licence" data-revoked="yes"' in page
    again = case["tobacco"].post(f"/inbox/tasks/{tobacco.id}/revoke",
                                 data={"csrf_token": token, "reason": "再次", "confirm": "yes"})
    assert again.status_code == 409
    with Session(app.extensions["onething.engine"]) as session:
        audit = session.exec(select(AuditEntry).where(
            AuditEntry.subject == f"task:{tobacco.id}", AuditEntry.action == "revoke")).all()
    assert [entry.after["reason"] for entry in audit] == [reason]
    # Another department cannot revoke the tobacco permit.
    amr = case["amr"]
    food = case["tasks"]["food-business-licence"]
    own = re.search(r'name="csrf_token" value="([^"]+)"',
                    amr.get(f"/inbox/tasks/{food.id}").text).group(1)
    assert amr.post(f"/inbox/tasks/{tobacco.id}/revoke",
                    data={"csrf_token": own, "reason": "x", "confirm": "yes"}).status_code == 404


def test_an_unknown_licence_number_is_a_404_page(client):
    response = client.get("/licences/便利370202202699999")
    assert response.status_code == 404 and "<html" in response.text
    assert client.get("/licences/nope/licence.pdf").status_code == 404


def test_counting_through_licence_numbers_finds_nothing(app, client):
    approve_store(app, client)
    licence = _licence(app)
    anonymous = app.test_client()
    # The number is printed and runs in sequence: it opens nothing, as if there were none.
    for number in (licence.number, licence.number[:-1] + "2", str(licence.id)):
        for tail in ("", "/qr.svg", "/licence.pdf"):
            assert anonymous.get(f"/licences/{number}{tail}").status_code == 404
    other = ("A" if licence.token[0] != "A" else "B") + licence.token[1:]
    assert anonymous.get(f"/licences/{other}/licence.pdf").status_code == 404
    # The applicant's status page links to the token's pages.
    status = client.get(f"/s/{_tracking_number(app)}").text
    assert f"/licences/{licence.token}/licence.pdf" in status
    assert licence.number not in re.findall(r'href="([^"]+)"', status)


def test_a_licence_issued_before_the_token_keeps_its_printed_number_link(app, client):
    approve_store(app, client)
    licence = _licence(app)
    anonymous = app.test_client()
    # A new licence is not found by number: nothing to count through.
    assert anonymous.get(f"/licences/{licence.number}").status_code == 404
    # One issued before migration 0029 carries /licences/<number> on paper: it redirects.
    with Session(app.extensions["onething.engine"]) as session:
        row = session.get(IndustryLicence, licence.id)
        row.number_link = True
        session.add(row)
        session.commit()
    response = anonymous.get(f"/licences/{licence.number}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/licences/{licence.token}")
    assert anonymous.get(response.headers["Location"]).status_code == 200
    # Another number (the next in sequence, or unknown) still finds nothing.
    for number in (licence.number[:-1] + "2", "便利370202202699999", str(licence.id)):
        assert anonymous.get(f"/licences/{number}").status_code == 404


def test_the_licence_pdf_is_drawn_once_and_revalidated_by_its_etag(app, client):
    from onething.cases.views import licences as views

    case = approve_store(app, client)
    licence = _licence(app)
    url = f"/licences/{licence.token}/licence.pdf"
    views._drawn.cache_clear()
    anonymous = app.test_client()
    first = anonymous.get(url)
    assert first.status_code == 200 and first.data.startswith(b"%PDF") and first.get_etag()[0]
    assert "no-cache" in first.headers["Cache-Control"]
    # Asked again with its ETag: nothing is sent, nothing is drawn.
    again = anonymous.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert anonymous.get(url).data == first.data
    assert views._drawn.cache_info().misses == 1
    # Another language is another document.
    english = anonymous.get(url + "?lang=en", headers={"If-None-Match": first.headers["ETag"]})
    assert english.status_code == 200 and english.headers["ETag"] != first.headers["ETag"]
    # A revocation changes what the licence says: the old ETag no longer matches.
    tobacco = case["tasks"]["tobacco-retail-licence"]
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      case["tobacco"].get(f"/inbox/tasks/{tobacco.id}").text).group(1)
    assert case["tobacco"].post(f"/inbox/tasks/{tobacco.id}/revoke", data={
        "csrf_token": token, "reason": "距学校不足50米", "confirm": "yes"}).status_code == 302
    after = anonymous.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != first.headers["ETag"]
    assert views._drawn.cache_info().misses == 3


def _tracking_number(app) -> str:
    with Session(app.extensions["onething.engine"]) as session:
        from onething.storage.models import Submission

        return session.exec(select(Submission)).one().tracking_number


def test_state_reads_expiry(app, client):
    approve_store(app, client)
    licence = _licence(app)
    import datetime as dt

    assert state(licence, [], licence.valid_until + dt.timedelta(days=1)) == "expired"


# --- the joint inspection ---------------------------------------------------------------------

def _submit_store(app, client, answers=None) -> str:
    response = client.post("/b/convenience-store-licence", data=answers or STORE)
    draft = response.headers["Location"].removesuffix("/form")
    fill(client, draft)
    upload_everything(client, draft)
    status = submit(client, draft)
    for department in ("sn-amr", "sn-tobacco", "sn-approval", "sn-urban-mgmt"):
        add_account(app, f"staff-{department}", "department_staff", department)
    with Session(app.extensions["onething.engine"]) as session:
        from onething.storage.models import Submission

        return session.exec(select(Submission)).one().tracking_number, status


def _token(browser, url: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', browser.get(url).text).group(1)


def test_the_joint_inspection_is_scheduled_once_and_each_department_records(app, client):
    number, status_url = _submit_store(app, client, {**STORE, "outdoor_signboard": "true"})
    lead = staff(app, "sn-approval")
    case_url = f"/inbox/cases/{number}"
    page = lead.get(case_url).text
    assert 'id="schedule-inspection"' in page
    token = _token(lead, case_url)
    past = lead.post(f"{case_url}/inspection", data={"csrf_token": token,
                                                     "when": "2020-01-02T10:00", "place": "店内"})
    assert past.status_code == 422 and 'id="inspection-refused"' in past.text
    no_place = lead.post(f"{case_url}/inspection", data={"csrf_token": token,
                                                         "when": "2099-01-02T10:00", "place": " "})
    assert no_place.status_code == 422
    done = lead.post(f"{case_url}/inspection", data={
        "csrf_token": token, "when": "2099-01-05T09:30", "place": "青岛市市南区香港中路8号 门店"})
    assert done.status_code == 302
    # A department that is not the lead cannot schedule it.
    amr = staff(app, "sn-amr")
    assert amr.post(f"{case_url}/inspection", data={
        "csrf_token": _token(amr, "/inbox/"), "when": "2099-01-06T09:30",
        "place": "x"}).status_code == 404
    # The applicant sees one appointment.
    status = client.get(status_url).text
    assert status.count('id="inspection-appointment"') == 1 and "香港中路8号" in status
    tasks = _tasks(app)
    food, tobacco, sign = (tasks["food-business-licence"], tasks["tobacco-retail-licence"],
                           tasks["outdoor-signboard"])
    urban = staff(app, "sn-urban-mgmt")
    sign_url = f"/inbox/tasks/{sign.id}"
    refused = urban.post(f"{sign_url}/inspection", data={
        "csrf_token": _token(urban, sign_url), "outcome": "pass"})
    assert refused.status_code == 409 and 'id="inspection-refused"' in refused.text
    food_url = f"/inbox/tasks/{food.id}"
    assert amr.post(f"{food_url}/inspection", data={
        "csrf_token": _token(amr, food_url), "outcome": "maybe"}).status_code == 422
    assert amr.post(f"{food_url}/inspection", data={
        "csrf_token": _token(amr, food_url), "outcome": "pass",
        "notes": "冷藏柜温度记录齐全"}).status_code == 302
    assert amr.post(f"{food_url}/inspection", data={
        "csrf_token": _token(amr, food_url), "outcome": "fail"}).status_code == 409
    tobacco_browser = staff(app, "sn-tobacco")
    tobacco_url = f"/inbox/tasks/{tobacco.id}"
    assert tobacco_browser.post(f"{tobacco_url}/inspection", data={
        "csrf_token": _token(tobacco_browser, tobacco_url), "outcome": "fail",
        "notes": "距小学不足50米"}).status_code == 302
    page = lead.get(case_url).text
    assert 'data-department="sn-amr"' in page and "冷藏柜温度记录齐全" in page
    assert "距小学不足50米" in page
    # Findings recorded: the inspection no longer moves.
    assert lead.post(f"{case_url}/inspection", data={
        "csrf_token": _token(lead, case_url), "when": "2099-01-07T09:30",
        "place": "x"}).status_code == 409


def test_api_revocation(app, client):
    from test_api import auth, token_for

    case = approve_store(app, client)
    food = case["tasks"]["food-business-licence"]
    mine, theirs = token_for(app, "sn-amr"), token_for(app, "sn-tobacco")
    url = f"/api/v1/tasks/{food.id}/revocation"
    assert client.post(url, json={"reason": "x"}, headers=auth(theirs)).status_code == 404
    assert client.post(url, json={}, headers=auth(mine)).status_code == 422
    assert client.post(url, json={"reason": 5}, headers=auth(mine)).status_code == 422
    before = client.get(f"/api/v1/tasks/{food.id}", headers=auth(mine)).json
    assert before["revoked"] is None
    done = client.post(url, json={"reason": "经营场所发生变化，未重新申请"}, headers=auth(mine))
    assert done.status_code == 200 and done.json["task_id"] == food.id
    # Departments' systems syncing by updated_at see the revocation.
    after = client.get(f"/api/v1/tasks/{food.id}", headers=auth(mine)).json
    assert after["revoked"]["reason"] == "经营场所发生变化，未重新申请"
    assert after["updated_at"] > before["updated_at"]
    again = client.post(url, json={"reason": "again"}, headers=auth(mine))
    assert again.status_code == 409 and again.json["error"] == "revoked"
    page = client.get(f"/licences/{_licence(app).token}").text
    assert 'data-matter="food-business-licence" data-revoked="yes"' in page


def test_the_guide_says_the_bundles_committed_limit_where_it_is_shorter(client):
    page = client.get("/g/convenience-store-licence").text
    facts = page[page.index('id="h-facts"'):page.index('id="h-facts"') + 3000]
    assert 'id="committed-limit"' in facts and "4 个工作日" in facts
    # Bundles without one say their steps' own limits, as before.
    assert 'id="committed-limit"' not in client.get("/g/newborn").text
