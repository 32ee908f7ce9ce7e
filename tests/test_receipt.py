"""After the form: the one commitment letter (一书承诺), review, the receipt and finding a case
again, the status page and the application form PDF (申请表), for applicants and departments."""

from __future__ import annotations

import io
import re

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlmodel import Session, select

from onething.storage.models import Draft, Submission, Task
from test_admin import add_account
from test_inbox import DEPARTMENTS, PRIVATE, staff
from test_web import FORM, PDF, fill, sign_commitments, start, submit, upload_everything

# A request read in English. Pages no longer follow Accept-Language (zh-Hans unless the
# applicant chooses): the client below turns this header into the applicant's choice, the
# lang cookie, for that one request.
EN = {"Accept-Language": "en"}


class ChoosingClient(FlaskClient):
    """A browser that chooses English for the requests that send EN, and only those."""

    def open(self, *args, **kwargs):
        if dict(kwargs.get("headers") or {}).get("Accept-Language") != "en":
            return super().open(*args, **kwargs)
        kept = self.get_cookie("lang")
        self.set_cookie("lang", "en")
        try:
            return super().open(*args, **kwargs)
        finally:
            if kept is None:
                self.delete_cookie("lang")
            else:
                self.set_cookie("lang", kept.value)


@pytest.fixture
def client(app):
    """The test client, choosing English where a request sends EN."""
    app.test_client_class = ChoosingClient
    return app.test_client()


def letter_digest(page: str) -> str:
    return re.search(r'name="letter" value="([0-9a-f]+)"', page).group(1)


def draft_row(app) -> Draft:
    with Session(app.extensions["onething.engine"]) as session:
        return session.exec(select(Draft)).one()


def upload_all_but_letters(client, draft_url: str):
    page = client.get(f"{draft_url}/materials").text
    for chunk in page.split('<li class="material" id="material-')[1:]:
        material_id = chunk.split('"', 1)[0]
        if 'class="paper-letter"' in chunk or f'/materials/{material_id}"' not in chunk:
            continue
        client.post(f"{draft_url}/materials/{material_id}",
                    data={"action": "upload", "file": (io.BytesIO(PDF), "a.pdf")},
                    content_type="multipart/form-data")


def pdf_text(data: bytes) -> str:
    """A PDF's text with no white space: a table cell wraps a long name onto two lines."""
    return re.sub(r"\s+", "", "".join(
        page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


# --- 告知承诺: the commitment route signs the letter online ---------------------------------


def test_the_commitment_route_signs_the_letter_instead_of_an_upload(app, client):
    draft_url = start(client)  # the restaurant, fire check on the commitment route
    fill(client, draft_url)
    page = client.get(f"{draft_url}/materials").text
    letter_item = page.split('id="material-fire-commitment-letter"')[1].split("</li>")[0]
    # No upload is demanded: the letter is shown in full, to be signed, on the same page.
    assert 'href="#commitment"' in letter_item and 'class="paper-letter"' in letter_item
    letter = page.split('id="commitment"')[1].split("</section>")[0]
    assert "消防救援" in letter and 'name="signer"' in letter and 'name="confirm"' in letter
    upload_all_but_letters(client, draft_url)
    # Not signed yet: the submit is refused, naming the letter.
    review = client.get(f"{draft_url}/review").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review).group(1)
    refused = client.post(f"{draft_url}/submit", data={"idempotency_key": key}, headers=EN)
    assert refused.status_code == 422 and "commitment letter is not signed yet" in refused.text
    sign_commitments(client, draft_url, signer="王海风")
    receipt = submit(client, draft_url)
    assert receipt.startswith("/s/")
    with Session(app.extensions["onething.engine"]) as session:
        submission = session.exec(select(Submission)).one()
        entry = submission.materials["fire-commitment-letter"]
        fire = session.exec(select(Task).where(Task.department_code == "sn-fire")).one()
    assert entry["state"] == "commitment" and entry["signer"] == "王海风" and entry["signed_at"]
    assert "消防" in entry["letter"]
    routed = next(m for m in fire.slice_materials if m["id"] == "fire-commitment-letter")
    assert routed["signer"] == "王海风"


@pytest.mark.parametrize(("form", "problem"), [
    ({"signer": "", "confirm": "yes"}, "Enter the name of the person signing."),
    ({"signer": "王海风"}, "Tick the box to confirm"),
    ({"signer": "王" * 51, "confirm": "yes"}, "too long"),
])
def test_signing_without_a_name_or_confirmation_is_refused_and_loses_nothing(
        app, client, form, problem):
    draft_url = start(client)
    fill(client, draft_url)
    upload_all_but_letters(client, draft_url)
    before = draft_row(app).materials
    page = client.get(f"{draft_url}/materials", headers=EN).text  # the letter as read
    refused = client.post(f"{draft_url}/commitment", headers=EN, data={
        "action": "sign", "letter": letter_digest(page), **form})
    assert refused.status_code == 422 and problem in refused.text
    assert draft_row(app).materials == before
    if form["signer"] and len(form["signer"]) <= 50:
        assert f'value="{form["signer"]}"' in refused.text  # what was typed is kept
    # With htmx, only the letter's section comes back, with the same message.
    partial = client.post(f"{draft_url}/commitment", headers={**EN, "HX-Request": "true"},
                          data={"action": "sign", "letter": letter_digest(page), **form})
    assert partial.status_code == 422 and partial.text.lstrip().startswith("<section")


def care_home(client) -> str:
    response = client.post("/b/open-care-home", data={"has_canteen": "false",
                                                       "fire_route": "commitment"})
    assert response.status_code == 302, response.text[:500]
    return response.headers["Location"].removesuffix("/form")


def test_a_letter_that_changed_since_it_was_shown_is_not_signed(app, client):
    draft_url = care_home(client)
    shown = letter_digest(client.get(f"{draft_url}/materials", headers=EN).text)
    # Another tab hands in the filing commitment signed on paper: the letter loses a part.
    client.post(f"{draft_url}/materials/care-home-commitment",
                data={"action": "upload", "file": (io.BytesIO(PDF), "signed.pdf")},
                content_type="multipart/form-data")
    refused = client.post(f"{draft_url}/commitment", headers=EN, data={
        "action": "sign", "signer": "刘院长", "confirm": "yes", "letter": shown})
    assert refused.status_code == 422 and "The letter changed" in refused.text
    assert "signer" not in str(draft_row(app).materials)


def test_one_letter_covers_every_commitment_of_the_bundle(app, client):
    draft_url = care_home(client)
    page = client.get(f"{draft_url}/materials").text
    letter = page.split('id="commitment"')[1].split("</section>")[0]
    # 一书承诺: the fire check's and the filing's commitments, each under its department.
    assert letter.count("<h3>") == 2 and "一书承诺" in page
    client.post(f"{draft_url}/commitment", data={
        "action": "sign", "signer": "刘院长", "confirm": "yes", "letter": letter_digest(page)})
    materials = draft_row(app).materials
    signed = {mid: e for mid, e in materials.items() if e.get("state") == "commitment"}
    assert set(signed) == {"fire-commitment-letter", "care-home-commitment"}
    assert len({(e["signer"], e["signed_at"], e["letter"]) for e in signed.values()}) == 1
    assert all(e["covers"] == sorted(signed) for e in signed.values())


def test_a_signature_is_stale_once_the_letter_changes_and_is_signed_again(app, client):
    draft_url = care_home(client)
    sign_commitments(client, draft_url, signer="刘院长")
    # The filing commitment handed in on paper after all: the signed letter no longer is
    # the letter of this application.
    client.post(f"{draft_url}/materials/care-home-commitment",
                data={"action": "upload", "file": (io.BytesIO(PDF), "signed.pdf")},
                content_type="multipart/form-data")
    page = client.get(f"{draft_url}/materials", headers=EN).text
    assert "The letter changed after you signed it" in page
    review = client.get(f"{draft_url}/review", headers=EN).text
    assert re.search(r'data-state="unsigned" data-material="[^"]+"><a href="[^"]*#commitment"',
                     review)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review).group(1)
    refused = client.post(f"{draft_url}/submit", data={"idempotency_key": key}, headers=EN)
    assert refused.status_code == 422 and "commitment letter is not signed yet" in refused.text
    sign_commitments(client, draft_url, signer="刘院长")
    entry = draft_row(app).materials["fire-commitment-letter"]
    assert entry["covers"] == ["fire-commitment-letter"] and entry["signer"] == "刘院长"
    assert 'data-state="unsigned"' not in client.get(f"{draft_url}/review").text


def test_uploads_deferrals_and_signatures_are_undone_until_submission(app, client):
    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    materials = draft_row(app).materials
    assert materials["premises-floor-plan"]["state"] == "uploaded"
    client.post(f"{draft_url}/materials/premises-floor-plan", data={"action": "clear"})
    assert "premises-floor-plan" not in draft_row(app).materials
    withdrawn = client.post(f"{draft_url}/commitment", data={"action": "withdraw"})
    assert withdrawn.status_code == 302
    assert "fire-commitment-letter" not in draft_row(app).materials
    upload_everything(client, draft_url)
    receipt = submit(client, draft_url)
    submitted = draft_row(app).materials
    for action in ("clear", "defer"):
        late = client.post(f"{draft_url}/materials/premises-floor-plan",
                           data={"action": action}, headers=EN)
        assert late.status_code == 409 and "it stays as the departments received it" in late.text
    late = client.post(f"{draft_url}/commitment", data={"action": "withdraw"}, headers=EN)
    assert late.status_code == 409
    assert draft_row(app).materials == submitted
    assert client.get(receipt).status_code == 200


# --- review and receipt ---------------------------------------------------------------------


def test_review_lists_the_materials_states_and_links_to_change_each_part(client):
    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    client.post(f"{draft_url}/materials/premises-floor-plan", data={"action": "clear"})
    review = client.get(f"{draft_url}/review", headers=EN).text
    states = dict(re.findall(
        r'<li data-state="(\w+)" data-material="[^"]+"><a href="[^"]*#([\w-]+)"', review))
    assert states["commitment"] == "commitment"  # the signed letter, linked to the letter
    assert re.search(r'data-state="missing" data-material="[^"]+">'
                     r'<a href="[^"]*#material-premises-floor-plan"', review)
    assert 'data-state="shared"' in review or 'data-state="uploaded"' in review
    assert "signed by 周签" in review
    # A change link per section of the form, to its first field, and to the materials.
    assert f'href="{draft_url}/form#f-entity_name-field"' in review
    assert f'href="{draft_url}/materials"' in review


def test_a_generated_application_form_is_neither_uploaded_nor_counted_and_reaches_its_department(
        app, client):
    # 一表申请: the food licence's application is drawn from the one form.
    draft_url = start(client)
    fill(client, draft_url)
    page = client.get(f"{draft_url}/materials", headers=EN).text
    chunk = page.split('id="material-food-licence-application"', 1)[1].split("</li>", 1)[0]
    assert 'data-state="generated"' in chunk and "Generated from your form" in chunk
    assert 'type="file"' not in chunk
    before = draft_row(app).materials
    refused = client.post(f"{draft_url}/materials/food-licence-application",
                          data={"action": "upload", "file": (io.BytesIO(PDF), "a.pdf")},
                          content_type="multipart/form-data")
    assert refused.status_code == 404
    assert draft_row(app).materials == before
    upload_everything(client, draft_url)
    review = client.get(f"{draft_url}/review", headers=EN).text
    assert 'data-state="generated" data-material="food-licence-application"' in review
    submit(client, draft_url)
    with Session(app.extensions["onething.engine"]) as session:
        submission = session.exec(select(Submission)).one()
        task = session.exec(select(Task).where(
            Task.matter_code == "food-business-licence")).one()
    assert submission.materials["food-licence-application"] == {"state": "generated"}
    assert {"id": "food-licence-application", "state": "generated"} in task.slice_materials
    add_account(app, "staff-sn-amr", "department_staff", "sn-amr")
    shown = staff(app, "sn-amr").get(f"/inbox/tasks/{task.id}?lang=en").text
    listed = shown.split('id="slice-materials"', 1)[1].split("</ul>", 1)[0]
    assert "generated from the one form" in listed
    assert f'href="/inbox/tasks/{task.id}/application.pdf"' in listed


def test_the_receipt_shows_the_query_code_the_link_what_is_owed_and_what_comes_next(app, client):
    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    receipt = submit(client, draft_url)
    page = client.get(receipt, headers=EN).text
    code = re.search(r'<code id="query-code">([^<]+)</code>', page).group(1)
    link = re.search(r'<a id="status-link" href="([^"]+)">', page).group(1)
    assert link.endswith(f"{receipt}?token={code}")
    assert f">{link}</a>" in page  # the link in full, as selectable text
    # Copy and share are buttons JavaScript reveals; printing needs none: the PDF link.
    assert 'data-copy="#query-code" hidden' in page and "data-share" in page
    assert 'id="application-pdf"' in page and "onclick" not in page
    nxt = page.split('id="next-steps"')[1].split("</section>")[0]
    assert "starts now, in parallel" in nxt and "starts after" in nxt
    assert "working days" in nxt and "139****1111" in nxt
    # Another browser finds the case with the tracking number and the query code.
    other = app.test_client()
    tracking = receipt.rsplit("/", 1)[1]
    found = other.get("/s/", query_string={"tracking_number": f" {tracking.lower()} ",
                                           "token": f" {code}\n"})
    assert found.status_code == 302  # to the case's own address, the code in it
    assert tracking in other.get(found.headers["Location"]).text
    # The number typed without its dash, or with a full-width one: the same case.
    for typed in (tracking.replace("-", ""), tracking.replace("-", "－"),
                  tracking.replace("-", " ")):
        again = other.get("/s/", query_string={"tracking_number": typed, "token": code})
        assert again.status_code == 302, typed
        assert tracking in again.headers["Location"]


def test_what_comes_next_lists_only_the_steps_still_ahead(app, client):
    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    receipt = submit(client, draft_url)

    def ahead() -> list[str]:
        page = client.get(receipt, headers=EN).text
        if 'id="next-steps"' not in page:
            return []
        return re.findall(r"<li><strong>", page.split('id="next-steps"')[1].split(
            "</section>")[0])

    assert len(ahead()) == 5
    engine = app.extensions["onething.engine"]
    with Session(engine) as session:
        tasks = session.exec(select(Task).order_by(Task.id)).all()
        tasks[0].status = "approved"
        session.add(tasks[0])
        session.commit()
    assert len(ahead()) == 4  # a matter decided is behind: under the progress only
    with Session(engine) as session:
        for task in session.exec(select(Task)).all():
            task.status = "approved"
            session.add(task)
        session.commit()
    page = client.get(receipt, headers=EN).text
    # Every department has decided: no "starts now" nor "the departments contact you".
    assert ahead() == [] and "starts now" not in page and "contact you" not in page


def test_a_deferred_material_is_owed_on_the_receipt_with_its_deadline(app, client):
    draft_url = start(client)
    fill(client, draft_url)
    page = client.get(f"{draft_url}/materials").text
    deferrable = re.findall(r'id="material-([a-z0-9-]+)"(?:(?!</li>).)*value="defer"', page,
                            re.S)
    assert deferrable
    upload_everything(client, draft_url)
    client.post(f"{draft_url}/materials/{deferrable[0]}", data={"action": "clear"})
    client.post(f"{draft_url}/materials/{deferrable[0]}", data={"action": "defer"})
    receipt_url = submit(client, draft_url)
    receipt = client.get(receipt_url, headers=EN).text
    owed = receipt.split('id="owed"')[1].split("</section>")[0]
    with Session(app.extensions["onething.engine"]) as session:
        submission = session.exec(select(Submission)).one()
        dues = [t.due_date for t in session.exec(select(Task)).all()]
    assert submission.materials[deferrable[0]]["state"] == "deferred"
    assert re.search(r"by (\d{4}-\d{2}-\d{2})", owed).group(1) in {d.isoformat() for d in dues}
    # Accepted without it (容缺受理), never approved without it: the department waits.
    from onething.cases.decisions import DecisionRefused, decide

    from conftest import yielded
    with Session(app.extensions["onething.engine"]) as session, app.test_request_context():
        tasks = {t.matter_code: t for t in session.exec(select(Task)).all()}
        registration = tasks["business-registration"]
        decide(session, registration, "accept", "tester")
        decide(session, registration, "approve", "tester", certificate_number="1",
               produced=yielded(registration))
        open_task = session.get(Task, tasks["food-business-licence"].id)
        assert any(m["id"] == deferrable[0] for m in open_task.slice_materials)
        decide(session, open_task, "accept", "tester")
        with pytest.raises(DecisionRefused) as refused:
            decide(session, open_task, "approve", "tester", certificate_number="1",
                   produced=yielded(open_task))
        assert refused.value.code == "material_owed"
        assert session.get(Task, open_task.id).status == "accepted"
    # Handed in from the receipt, without going to the hall: every department that needs
    # it gets it; a wrong file or a second time is refused and changes nothing.
    url = re.search(r'action="([^"]*/owed/' + deferrable[0] + r'[^"]*)"', owed).group(1)
    url = url.replace("&amp;", "&")
    wrong = client.post(url, data={"file": (io.BytesIO(b"MZ not a pdf"), "x.pdf")},
                        content_type="multipart/form-data", headers=EN)
    assert wrong.status_code == 422 and 'id="owed-problem"' in wrong.text
    handed = client.post(url, data={"file": (io.BytesIO(PDF), "培训证明.pdf")},
                         content_type="multipart/form-data")
    assert handed.status_code == 302 and handed.headers["Location"].startswith(
        receipt_url.split("?")[0])
    with Session(app.extensions["onething.engine"]) as session:
        submission = session.exec(select(Submission)).one()
        needing = [t for t in session.exec(select(Task)).all()
                   if any(m["id"] == deferrable[0] for m in t.slice_materials)]
    assert submission.materials[deferrable[0]]["state"] == "uploaded"
    assert needing and all(m["state"] == "uploaded" for t in needing
                           for m in t.slice_materials if m["id"] == deferrable[0])
    assert 'id="owed"' not in client.get(receipt_url).text
    with Session(app.extensions["onething.engine"]) as session, app.test_request_context():
        task = session.get(Task, open_task.id)
        assert decide(session, task, "approve", "tester", certificate_number="1",
                      produced=yielded(task)).status == "approved"
    again = client.post(url, data={"file": (io.BytesIO(PDF), "a.pdf")},
                        content_type="multipart/form-data")
    assert again.status_code == 409
    stranger = app.test_client().post(url.split("?")[0], data={
        "file": (io.BytesIO(PDF), "a.pdf")}, content_type="multipart/form-data")
    assert stranger.status_code == 404


def test_the_lookup_page_says_where_the_codes_are(client):
    page = client.get("/s/", headers=EN).text
    assert 'id="where-codes"' in page and "Find your case again" in page


def test_a_resume_link_opens_the_case_after_submission(app, client):
    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    resume = re.search(r'class="link" value="([^"]+)"',
                       client.get(f"{draft_url}/materials").text).group(1)
    receipt = submit(client, draft_url)
    phone = app.test_client()  # another device, holding only the resume link
    opened = phone.get(resume.replace("&amp;", "&"))
    assert opened.status_code == 302 and opened.headers["Location"] == receipt
    assert phone.get(receipt).status_code == 200
    assert phone.get(f"{draft_url}/review").headers["Location"] == receipt
    # A forged resume link opens nothing.
    forged = app.test_client().get(re.sub(r"token=[^&]+", "token=forged", resume))
    assert forged.status_code == 404


def test_a_wrong_token_is_a_404_that_leaks_nothing(app, client):
    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    receipt = submit(client, draft_url)
    stranger = app.test_client()
    for path in (receipt, f"{receipt}/application.pdf", f"{receipt}/qr.svg"):
        for query in ("", "?token=wrong"):
            response = stranger.get(path + query)
            assert response.status_code == 404
            assert "青岛海风" not in response.text and "王海风" not in response.text
    unknown = stranger.get("/s/OT20990101-ZZZZZZ/application.pdf?token=wrong")
    wrong = stranger.get(f"{receipt}/application.pdf?token=wrong")

    def message(page: str) -> str:
        return page.split('class="error page"')[1].split("</div>")[0]
    # The same answer whether the number exists or not: no hint which part is wrong.
    assert unknown.status_code == 404 and message(unknown.text) == message(wrong.text)


# --- the application form PDF ---------------------------------------------------------------


def test_the_application_pdf_holds_every_answer_material_and_signature(app, client):
    draft_url = start(client)
    assert client.post(f"{draft_url}/form", data={**FORM,  # a second shareholder row
        "shareholders.1.name": "孙二", "shareholders.1.id_number": "11010519491231002X",
        "shareholders.1.contribution": "20"}).status_code == 302
    upload_everything(client, draft_url)
    receipt = submit(client, draft_url)
    response = client.get(f"{receipt}/application.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    tracking = receipt.rsplit("/", 1)[1]
    for value in (tracking, "青岛海风餐饮有限公司", "王海风", "海风小馆", "赵安", "孙二",
                  "公众聚集场所投入使用、营业消防安全告知承诺书"):
        assert value in text, value
    assert "a.pdf" in text  # an upload, by its file name


@pytest.mark.parametrize("department", DEPARTMENTS)
def test_a_departments_pdf_holds_its_slice_and_nothing_else(app, client, department):
    draft_url = start(client)
    fill(client, draft_url)
    upload_all_but_letters(client, draft_url)
    # The fire check's commitment is the fire department's: its signer reaches it, no other.
    sign_commitments(client, draft_url, signer="周签")
    submit(client, draft_url)
    add_account(app, f"staff-{department}", "department_staff", department)
    browser = staff(app, department)
    with Session(app.extensions["onething.engine"]) as session:
        tasks = session.exec(select(Task).where(Task.department_code == department)).all()
        others = session.exec(select(Task).where(Task.department_code != department)).all()
    for task in tasks:
        assert f"/inbox/tasks/{task.id}/application.pdf" in browser.get(
            f"/inbox/tasks/{task.id}").text
        text = pdf_text(browser.get(f"/inbox/tasks/{task.id}/application.pdf").data)
        assert ("周签" in text) == (department == "sn-fire")
        for value, departments in PRIVATE.items():
            if department not in departments:
                assert value not in text, (value, department)
    assert any(value in pdf_text(browser.get(f"/inbox/tasks/{tasks[0].id}/application.pdf")
                                 .data) for value, deps in PRIVATE.items() if department in deps)
    # Another department's task is not found.
    assert browser.get(f"/inbox/tasks/{others[0].id}/application.pdf").status_code == 404


def test_the_api_gives_a_department_the_pdf_of_its_own_slice_only(app, client):
    from test_api import auth, token_for

    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    submit(client, draft_url)
    token = token_for(app, "sn-urban-mgmt")
    with Session(app.extensions["onething.engine"]) as session:
        mine = session.exec(select(Task).where(Task.department_code == "sn-urban-mgmt")).one()
        theirs = session.exec(select(Task).where(Task.department_code == "sn-amr")).first()
    response = client.get(f"/api/v1/tasks/{mine.id}/application.pdf", headers=auth(token))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "海风小馆" in text
    assert not [value for value, departments in PRIVATE.items()
                if "sn-urban-mgmt" not in departments and value in text]
    other = client.get(f"/api/v1/tasks/{theirs.id}/application.pdf", headers=auth(token))
    assert other.status_code == 404 and other.is_json
    assert client.get(f"/api/v1/tasks/{mine.id}/application.pdf").status_code == 401


def test_a_case_is_found_by_its_codes_and_a_wrong_code_shows_the_form_again(app, client):
    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    receipt = submit(client, draft_url)
    tracking = receipt.rsplit("/", 1)[1]
    token = re.search(r'id="query-code"[^>]*>([^<]+)<', client.get(receipt).text).group(1)
    phone = app.test_client()
    spaced = f" {tracking.lower()} "
    found = phone.get("/s/", query_string={"tracking_number": spaced, "token": f" {token} "})
    assert found.status_code == 302
    assert found.headers["Location"].endswith(f"{receipt}?token={token}")
    wrong = phone.get("/s/", query_string={"tracking_number": tracking, "token": token[:-1]})
    assert wrong.status_code == 404 and 'id="lookup-problem"' in wrong.text
    # What was typed is in the form again, to correct.
    assert f'value="{tracking}"' in wrong.text and f'value="{token[:-1]}"' in wrong.text
