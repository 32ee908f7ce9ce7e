"""Materials conditioned on what is entered in the form (when_form): articles of association
only for a company or partnership, never for a sole proprietorship."""

from __future__ import annotations

import io
import re

from sqlmodel import Session, select

from onething.composer.compose import compose
from onething.storage.models import Submission
from test_web import FORM, PDF, start

SOLE = {key: value for key, value in FORM.items() if not key.startswith("shareholders.")}
SOLE["entity_type"] = "sole_proprietorship"
SOLE["matters.business-registration.shareholder_count"] = "1"
COMPANY_ANSWERS = {"has_business_licence": False, "public_gathering_place": False,
                   "outdoor_signboard": False, "sells_tobacco": False}


def test_a_material_is_needed_only_for_the_values_its_condition_names(demo_catalog):
    composition = compose(demo_catalog.bundles["open-restaurant"], COMPANY_ANSWERS)
    articles = next(m for m in composition.materials if m.id == "articles-of-association")
    assert articles.depends_on_form and articles.necessity == "required"
    for entity_type, needed in (("limited_company", True), ("partnership", True),
                                ("sole_proprietorship", False)):
        ids = {m.id for m in composition.materials_for({"entity_type": entity_type})}
        assert ("articles-of-association" in ids) is needed, entity_type
    # Nothing entered yet: a condition requiring the value does not hold.
    assert "articles-of-association" not in {m.id for m in composition.materials_for({})}
    # Materials without a condition on the form are always there.
    assert len(composition.materials_for({})) == len(composition.materials) - 1


def _materials_page(client, form):
    draft = start(client)
    saved = client.post(f"{draft}/form", data=form)
    assert saved.status_code == 302, re.findall(r'class="error">([^<]*)', saved.text)
    return draft, client.get(f"{draft}/materials").text


def _upload_all(client, draft, page):
    for material_id in re.findall(r'/materials/([a-z0-9-]+)"', page):
        client.post(f"{draft}/materials/{material_id}",
                    data={"action": "upload", "file": (io.BytesIO(PDF), "a.pdf")},
                    content_type="multipart/form-data")


def test_a_sole_proprietorship_is_not_asked_for_articles_and_can_submit_without(app, client):
    draft, page = _materials_page(client, SOLE)
    assert 'id="material-articles-of-association"' not in page
    assert 'id="materials-spared"' in page and "公司章程（合伙协议）" in page
    _upload_all(client, draft, page)
    review = client.get(f"{draft}/review").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review).group(1)
    response = client.post(f"{draft}/submit", data={"idempotency_key": key})
    assert response.status_code == 302, re.findall(r'class="error">([^<]*)', response.text)
    with Session(app.extensions["onething.engine"]) as session:
        submission = session.exec(select(Submission)).one()
    assert "articles-of-association" not in submission.materials


def test_a_company_must_hand_in_its_articles(app, client):
    draft, page = _materials_page(client, FORM)
    assert 'id="material-articles-of-association"' in page and 'id="materials-spared"' not in page
    assert "根据您在表单中填写的内容，需要提交此材料。" in page
    uploads = [m for m in re.findall(r'/materials/([a-z0-9-]+)"', page)
               if m != "articles-of-association"]
    _upload_all(client, draft, "".join(f'/materials/{m}"' for m in uploads))
    review = client.get(f"{draft}/review").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review).group(1)
    refused = client.post(f"{draft}/submit", data={"idempotency_key": key})
    assert refused.status_code == 422
    assert "#material-articles-of-association" in refused.text
    with Session(app.extensions["onething.engine"]) as session:
        assert session.exec(select(Submission)).first() is None
