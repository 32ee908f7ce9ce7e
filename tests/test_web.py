"""The applicants' pages, from the scenario questions to the receipt, without JavaScript."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask.sessions import SecureCookieSessionInterface
from sqlmodel import select

from onething.storage.models import Draft, StoredFile, Submission, Task
from onething.web.extensions import get_session

ANSWERS = {"has_business_licence": "false", "public_gathering_place": "true",
           "fire_route": "commitment", "outdoor_signboard": "true", "sells_tobacco": "true"}
FORM = {
    "entity_name": "青岛海风餐饮有限公司", "entity_type": "limited_company",
    "legal_representative.name": "王海风", "legal_representative.id_number": "11010519491231002X",
    "legal_representative.mobile": "13805320000", "business_scope": "餐饮服务；食品销售",
    "contact_name": "李青", "contact_mobile": "13905321111",
    "premises_address.division_code": "370202", "premises_address.detail": "香港中路10号",
    "premises_area": "120",
    "matters.business-registration.shareholder_count": "2",
    # A limited company lists its shareholders (one row shown; more are added by a button).
    "shareholders.0.name": "王海风", "shareholders.0.id_number": "11010519491231002X",
    "shareholders.0.contribution": "30",
    "matters.food-business-licence.main_business_format": "catering_operator",
    "matters.food-business-licence.food_business_items": ["hot_food", "cold_food"],
    "matters.food-business-licence.food_safety_manager_name": "赵安",
    "matters.food-business-licence.food_safety_manager_mobile": "13705322222",
    "matters.fire-safety-check.place_type": "restaurant",
    "matters.fire-safety-check.floors_used": "1-2",
    "matters.fire-safety-check.max_occupancy": "80",
    "matters.outdoor-signboard.signboard_text": "海风小馆",
    "matters.outdoor-signboard.signboard_width_m": "6",
    "matters.outdoor-signboard.signboard_height_m": "1.2",
    "matters.outdoor-signboard.signboard_position": "storefront",
    "matters.outdoor-signboard.lighting": "false",
    "matters.tobacco-retail-licence.retail_format": "restaurant",
    "matters.tobacco-retail-licence.business_hours": "10:00-22:00",
    "matters.tobacco-retail-licence.is_chain_store": "false",
}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def start(client) -> str:
    response = client.post("/b/open-restaurant", data=ANSWERS)
    assert response.status_code == 302, response.data.decode()[:500]
    return response.headers["Location"].removesuffix("/form")


def fill(client, draft_url: str):
    response = client.post(f"{draft_url}/form", data=FORM)
    assert response.status_code == 302, re.findall(r'class="error">([^<]*)', response.text)


def upload_everything(client, draft_url: str):
    page = client.get(f"{draft_url}/materials").text
    # Every material that offers an upload form gets a small PDF, but a commitment letter
    # (告知承诺书), which is signed online as the one letter.
    for chunk in page.split('<li class="material" id="material-')[1:]:
        material_id = chunk.split('"', 1)[0]
        if 'class="paper-letter"' in chunk or f'/materials/{material_id}"' not in chunk:
            continue
        client.post(f"{draft_url}/materials/{material_id}",
                        data={"action": "upload", "file": (io.BytesIO(PDF), "a.pdf")},
                        content_type="multipart/form-data")
    sign_commitments(client, draft_url)


def sign_commitments(client, draft_url: str, signer: str = "周签"):
    """Sign the one commitment letter, if the materials page has one to sign (by default as
    a person named nowhere in the form: the departments the letter is made to see the
    signer, and tests of what else reaches them look for the form's names)."""
    page = client.get(f"{draft_url}/materials").text
    digest = re.search(r'name="letter" value="([0-9a-f]+)"', page)
    if digest:
        signed = client.post(f"{draft_url}/commitment", data={
            "action": "sign", "signer": signer, "confirm": "yes", "letter": digest.group(1)})
        assert signed.status_code == 302, signed.text[:2000]


def submit(client, draft_url: str) -> str:
    review = client.get(f"{draft_url}/review").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review).group(1)
    response = client.post(f"{draft_url}/submit", data={"idempotency_key": key})
    assert response.status_code == 302, response.text[:2000]
    return response.headers["Location"]


def submitted_case(client) -> str:
    """A restaurant case started, filled, with every material, and submitted: its receipt."""
    draft = start(client)
    fill(client, draft)
    upload_everything(client, draft)
    return submit(client, draft)


def test_catalog_lists_published_bundles(client):
    page = client.get("/").text
    assert "开办餐饮店" in page and "/b/open-restaurant" in page


def test_start_page_serves_a_partial_to_htmx(client):
    full = client.get("/b/open-restaurant")
    assert "<html" in full.text and full.headers["Vary"].count("HX-Request") == 1
    partial = client.get("/b/open-restaurant", query_string={**ANSWERS},
                         headers={"HX-Request": "true"})
    assert "<html" not in partial.text
    assert "烟草专卖零售许可证核发" in partial.text
    assert re.search(r"5\s*个?工作日|5 working days", partial.text)


def test_answers_that_contradict_the_questionnaire_are_refused_next_to_the_question(client):
    response = client.post("/b/open-restaurant", data={**ANSWERS, "sells_tobacco": "maybe"})
    assert response.status_code == 422
    assert 'value="maybe"' not in response.text  # not an option: nothing is checked
    assert client.get("/").status_code == 200
    with client.application.app_context():
        assert get_session().exec(select(Draft)).all() == []


def test_an_unpublished_bundle_is_not_found(client):
    response = client.post("/b/open-bakery", data=ANSWERS)
    assert response.status_code == 404
    assert "<html" in response.text


def test_failed_validation_keeps_everything_typed(client):
    draft_url = start(client)
    typed = {**FORM, "premises_area": "一百二十", "contact_mobile": "12345"}
    response = client.post(f"{draft_url}/form", data=typed)
    assert response.status_code == 422
    assert 'value="一百二十"' in response.text and 'value="12345"' in response.text
    assert 'value="青岛海风餐饮有限公司"' in response.text
    # The draft kept it too: a reload shows the same values.
    again = client.get(f"{draft_url}/form").text
    assert 'value="一百二十"' in again and 'value="王海风"' in again


def test_a_field_check_returns_only_its_message(client):
    draft_url = start(client)
    field = "legal_representative.id_number"
    bad = client.get(f"{draft_url}/check",
                     query_string={"field": field, field: "110105194912310021"})
    assert "<html" not in bad.text and 'class="error"' in bad.text
    good = client.get(f"{draft_url}/check",
                      query_string={"field": field, field: "11010519491231002X"})
    assert 'class="error"' not in good.text


def test_resume_link_works_in_another_browser_and_a_forged_one_does_not(app, client):
    draft_url = start(client)
    fill(client, draft_url)
    link = re.search(r'class="link" value="([^"]+)"', client.get(f"{draft_url}/form").text).group(1)
    other = app.test_client()
    assert other.get(f"{draft_url}/form").status_code == 404  # no token: nothing shown
    restored = other.get(link.replace("http://localhost", ""))
    assert restored.status_code == 200 and 'value="海风小馆"' in restored.text
    forged = app.test_client().get(f"{draft_url}/form?token=forged-token")
    assert forged.status_code == 404
    assert "海风小馆" not in forged.text


def test_uploads_are_checked_while_streaming(app, client):
    draft_url = start(client)
    target = f"{draft_url}/materials/premises-floor-plan"
    too_big = client.post(target, data={"action": "upload",
                                        "file": (io.BytesIO(PDF + b"0" * 200_000), "big.pdf")},
                          content_type="multipart/form-data")
    assert too_big.status_code == 413 and 'class="error"' in too_big.text
    wrong = client.post(target, data={"action": "upload",
                                      "file": (io.BytesIO(b"MZ\x90\x00 not a pdf"), "x.pdf")},
                        content_type="multipart/form-data")
    assert wrong.status_code == 422
    ok = client.post(target, data={"action": "upload", "file": (io.BytesIO(PDF), "plan.pdf")},
                     content_type="multipart/form-data")
    assert ok.status_code == 302
    with app.app_context():
        stored = get_session().exec(select(StoredFile)).all()
    assert len(stored) == 1 and stored[0].size == len(PDF)
    files = list((Path(app.instance_path) / "files").rglob("*"))
    assert any(p.name == stored[0].sha256 for p in files)


def test_without_javascript_an_upload_lands_back_at_its_material(client):
    draft_url = start(client)
    target = f"{draft_url}/materials/premises-floor-plan"
    page = client.get(f"{draft_url}/materials").text
    # A refused upload's page opens at the material's message, not at the top of a page
    # many screens long: the form's address carries the material's anchor.
    assert f'action="{target}#material-premises-floor-plan"' in page
    assert 'id="material-premises-floor-plan"' in page
    # The limit is said before a file is chosen, not only once one is refused.
    assert "文件（PDF、JPEG 或 PNG，不超过 64\u00a0KB）" in page
    ok = client.post(target, data={"action": "upload", "file": (io.BytesIO(PDF), "plan.pdf")},
                     content_type="multipart/form-data")
    assert ok.headers["Location"].endswith("/materials#material-premises-floor-plan")
    # The refused page's address, reloaded or in another language, opens the materials
    # page there again, not a "method not allowed" page.
    for address, anchor in ((f"{target}?lang=en", "#material-premises-floor-plan"),
                            (f"{draft_url}/commitment", "#commitment")):
        again = client.get(address)
        assert again.status_code == 302 and again.headers["Location"].endswith(
            f"{draft_url}/materials{anchor}")


def test_the_whole_restaurant_case_routes_one_task_per_step(app, client):
    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    receipt_url = submit(client, draft_url)
    receipt = client.get(receipt_url)
    assert receipt.status_code == 200
    tracking = re.search(r"<strong>(OT[0-9]{8}-[0-9A-Z]{6})</strong>", receipt.text).group(1)
    assert "qr.svg" in receipt.text
    with app.app_context():
        session = get_session()
        submission = session.exec(select(Submission)).one()
        tasks = session.exec(select(Task)).all()
    assert submission.tracking_number == tracking
    assert {t.matter_code for t in tasks} == {
        "business-registration", "food-business-licence", "fire-safety-check",
        "outdoor-signboard", "tobacco-retail-licence"}
    states = {t.matter_code: t.status for t in tasks}
    assert states["food-business-licence"] == "waiting" and states["fire-safety-check"] == "pending"
    signboard = next(t for t in tasks if t.matter_code == "outdoor-signboard")
    assert "legal_representative" not in signboard.slice_data  # not declared by the sign permit
    assert "food_safety_manager_name" not in str(signboard.slice_data)
    qr = client.get(f"/s/{tracking}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"


def test_a_double_submit_creates_one_submission(app, client):
    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    review = client.get(f"{draft_url}/review").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review).group(1)
    first = client.post(f"{draft_url}/submit", data={"idempotency_key": key})
    second = client.post(f"{draft_url}/submit", data={"idempotency_key": key})
    assert first.headers["Location"] == second.headers["Location"]
    with app.app_context():
        assert len(get_session().exec(select(Submission)).all()) == 1


def test_a_missing_material_refuses_the_submit_and_loses_nothing(app, client):
    draft_url = start(client)
    fill(client, draft_url)
    review = client.get(f"{draft_url}/review").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review).group(1)
    response = client.post(f"{draft_url}/submit", data={"idempotency_key": key})
    assert response.status_code == 422
    assert "premises-floor-plan" in response.text
    assert 'value="海风小馆"' in client.get(f"{draft_url}/form").text
    with app.app_context():
        assert get_session().exec(select(Submission)).all() == []


def test_a_status_page_needs_its_token(app, client):
    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    receipt_url = submit(client, draft_url)
    tracking = receipt_url.rsplit("/", 1)[-1]
    bare = app.test_client().get(f"/s/{tracking}")
    guessed = app.test_client().get(f"/s/{tracking}?token=guess")
    unknown = app.test_client().get("/s/OT20260101-ZZZZZZ")
    assert bare.status_code == guessed.status_code == unknown.status_code == 404
    # Not a dead end: the lookup form, the number in it, asks for the query code (and a
    # wrong code is said to be wrong), and nothing of the case is shown.
    assert f'name="tracking_number" value="{tracking}"' in bare.text
    assert 'name="token" value=""' in bare.text and 'id="lookup-problem"' not in bare.text
    assert 'id="lookup-problem"' in guessed.text and 'value="guess"' in guessed.text
    for page in (bare, guessed):
        assert "青岛海风" not in page.text and "市场监管" not in page.text
    # An unknown number gets the very same page: it tells nobody which numbers exist.
    assert bare.text.replace(tracking, "N") == unknown.text.replace("OT20260101-ZZZZZZ", "N")


def test_the_receipt_tells_the_submission_time_in_beijing_time(app, client):
    import datetime as dt

    from sqlmodel import Session

    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    receipt = client.get(submit(client, draft_url)).text
    with Session(app.extensions["onething.engine"]) as session:
        submitted = session.exec(select(Submission)).one().submitted_at
    beijing = (submitted + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    assert f"提交时间：{beijing}（北京时间）" in receipt
    assert "UTC" not in receipt


def test_the_review_names_each_part_of_a_group(client):
    draft_url = start(client)
    fill(client, draft_url)
    review = client.get(f"{draft_url}/review").text
    assert "<dd>姓名 王海风；居民身份证号码 11010519491231002X；手机号码 13805320000</dd>" in review


def test_html_in_a_field_is_escaped_everywhere(client):
    draft_url = start(client)
    client.post(f"{draft_url}/form", data={**FORM, "entity_name": "<script>alert(1)</script>餐厅"})
    for page in ("form", "review"):
        text = client.get(f"{draft_url}/{page}").text
        assert "<script>alert(1)</script>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


@pytest.mark.parametrize("lang", ["zh-Hant", "en"])
def test_pages_switch_language(client, lang):
    page = client.get(f"/b/open-restaurant?lang={lang}").text
    assert f'<html lang="{lang}">' in page
    assert {"zh-Hant": "開辦餐飲店", "en": "restaurant"}[lang] in page


def test_a_commitment_letter_quotes_the_matters_conditions_and_is_kept(app, client):
    response = client.post("/b/renovation-approval", data={
        "building_status": "under_construction", "special_fire_project": "false"})
    draft_url = response.headers["Location"].removesuffix("/form")
    assert "site-readiness" in client.get(f"{draft_url}/materials").text
    # Choosing to commit instead of the proof puts its part into the one letter.
    assert client.post(f"{draft_url}/materials/site-readiness",
                       data={"action": "commit"}).status_code == 302
    page = client.get(f"{draft_url}/materials").text
    with app.app_context():
        from onething.composer.compose import compose
        from onething.publishing.versions import bundle_of, latest_version

        version = latest_version(get_session(), "renovation-approval")
        composition = compose(bundle_of(version), {"building_status": "under_construction",
                                                   "special_fire_project": False})
        material = next(m for m in composition.materials if m.id == "site-readiness")
        matter = composition.bundle.catalog.matters[material.matters[0]]
        condition = matter.data["conditions"][0]
        condition = condition["zh-Hans"] if isinstance(condition, dict) else condition
    assert condition in page  # the letter quotes the matter's own acceptance conditions
    sign_commitments(client, draft_url, signer="张工")
    with app.app_context():
        draft = get_session().exec(select(Draft)).one()
    entry = draft.materials["site-readiness"]
    assert entry["state"] == "commitment" and condition in entry["letter"]
    assert entry["signed_at"] and entry["signer"] == "张工"


def test_a_tampered_idempotency_key_is_refused_and_changes_nothing(app, client):
    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    response = client.post(f"{draft_url}/submit", data={"idempotency_key": "x"})
    assert response.status_code == 400 and "<html" in response.text
    with app.app_context():
        assert get_session().exec(select(Submission)).all() == []


def test_a_submitted_draft_is_frozen(app, client):
    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    receipt_url = submit(client, draft_url)
    late = client.post(f"{draft_url}/materials/premises-floor-plan",
                       data={"action": "upload", "file": (io.BytesIO(PDF), "late.pdf")},
                       content_type="multipart/form-data")
    assert late.status_code == 409 and 'role="alert"' in late.text
    assert client.get(f"{draft_url}/review").headers["Location"] == receipt_url
    changed = client.post(f"{draft_url}/form", data={**FORM, "entity_name": "改名"})
    assert changed.status_code == 302
    with app.app_context():
        assert get_session().exec(select(Submission)).one().data["entity_name"] != "改名"


def test_an_emptied_field_stays_empty(client):
    draft_url = start(client)
    client.post(f"{draft_url}/form", data={**FORM, "registered_capital": "50"})
    client.post(f"{draft_url}/form", data={**FORM, "registered_capital": "",
                                           "matters.business-registration.shareholder_count": ""})
    page = client.get(f"{draft_url}/form").text
    assert re.search(r'name="registered_capital"[^>]*value=""', page, re.S)
    assert re.search(r'name="matters.business-registration.shareholder_count"[^>]*value=""',
                     page, re.S)


def test_one_browser_keeps_its_latest_drafts_without_outgrowing_the_cookie(client):
    # A front desk starts dozens of applications in one browser; browsers drop a
    # session cookie over 4 KB whole, which would forget every token at once.
    drafts = [start(client) for _ in range(40)]
    cookie = client.get_cookie("session")
    assert len(cookie.value) < 3000
    assert client.get(f"{drafts[-1]}/form").status_code == 200
    assert client.get(f"{drafts[-12]}/form").status_code == 200
    # The oldest is forgotten by this browser, not lost: its resume link still opens it.
    assert client.get(f"{drafts[0]}/form").status_code == 404


def test_a_session_cookie_signed_before_plain_json_still_holds_its_tokens(app, client):
    # Cookies written with Flask's tagged JSON stay readable: a browser keeps its tokens
    # across the upgrade that made session cookies plain JSON.
    draft_url = start(client)
    public_id = draft_url.rsplit("/", 1)[-1]
    token = client.get_cookie("session")
    kept = app.session_interface.get_signing_serializer(app).loads(token.value)
    old = SecureCookieSessionInterface().get_signing_serializer(app).dumps(kept)
    other = app.test_client()
    other.set_cookie("session", old)
    assert other.get(f"{draft_url}/form").status_code == 200
    assert kept["draft_tokens"][-1][0] == public_id


def test_a_forged_session_cookie_holds_nothing(app, client):
    draft_url = start(client)
    cookie = client.get_cookie("session").value
    payload, signature = cookie.rsplit(".", 1)
    other = app.test_client()
    other.set_cookie("session", f"{payload}.{signature[::-1]}")
    assert other.get(f"{draft_url}/form").status_code == 404


def test_a_key_that_submitted_another_draft_is_a_409_not_a_500(client):
    first = start(client)
    fill(client, first)
    upload_everything(client, first)
    review = client.get(f"{first}/review").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review).group(1)
    assert client.post(f"{first}/submit", data={"idempotency_key": key}).status_code == 302
    second = start(client)
    fill(client, second)
    upload_everything(client, second)
    replayed = client.post(f"{second}/submit", data={"idempotency_key": key})
    assert replayed.status_code == 409
    assert client.get(f"{second}/review").status_code == 200  # the draft is still there


def test_asides_commas_and_colons_are_full_width_in_chinese(app):
    from onething.web.i18n import colon, comma, parenthesized, semicolon

    with app.test_request_context("/"):
        assert (parenthesized("甲<b>"), comma(), colon(), semicolon()) == (
            "（甲&lt;b&gt;）", "，", "：", "；")
    with app.test_request_context("/?lang=en"):
        assert (parenthesized("a"), comma(), colon(), semicolon()) == (" (a)", ", ", ": ", "; ")


def test_a_question_an_answer_makes_required_is_never_labelled_optional(client):
    # fire_route is required once the place is a public gathering place (if/then): marked
    # optional, then refused as required, it read as a contradiction.
    page = client.get("/b/open-restaurant").text
    fire = page.split('id="f-fire_route-hint"')[0].rsplit("<legend", 1)[1]
    assert "（选填）" not in fire and "消防安全检查办理方式" in fire
    from onething.cases.views.start import sometimes_required

    assert sometimes_required({"required": ["a"], "if": {"required": ["b"]},
                               "then": {"required": ["c"]}, "else": {"required": ["d"]},
                               "dependentRequired": {"e": ["f"]},
                               "allOf": [{"required": ["g"]}]}) == {"c", "d", "f"}


def test_an_answer_to_a_question_no_longer_asked_is_not_kept(app, client):
    # Answered the fire route, then said the place is not a public gathering place: the
    # question is hidden again, and its old answer is not the applicant's any more.
    from sqlmodel import Session, select

    from onething.storage.models import Draft

    response = client.post("/b/open-restaurant", data={
        **ANSWERS, "public_gathering_place": "false", "fire_route": "inspection"})
    assert response.status_code == 302
    with Session(app.extensions["onething.engine"]) as session:
        answers = session.exec(select(Draft.answers)).one()
    assert "fire_route" not in answers and answers["public_gathering_place"] is False
    # Asked, it is kept.
    client.post("/b/open-restaurant", data=ANSWERS)
    with Session(app.extensions["onething.engine"]) as session:
        kept = session.exec(select(Draft.answers).order_by(Draft.id.desc())).first()
    assert kept["fire_route"] == "commitment"


def test_a_groups_parts_are_joined_as_the_language_joins_clauses(client):
    draft = start(client)
    fill(client, draft)
    english = client.get(f"{draft}/review?lang=en").text
    chinese = client.get(f"{draft}/review?lang=zh-Hans").text
    assert re.search(r"; Detailed address ", english) and "；Detailed address" not in english
    assert re.search(r"；详细地址", chinese)
