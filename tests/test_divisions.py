"""Administrative divisions (行政区划): full names, suggestions by name, and the form's picker."""

from __future__ import annotations

import json
import re

import pytest

from onething.catalog.divisions import full_name, search
from test_web import fill, start

from conftest import SCHEMAS

FIELD = "premises_address.division_code"


@pytest.mark.parametrize("code, name", [
    ("370202", "山东省青岛市市南区"),  # a district under a prefecture-level city
    ("110101", "北京市东城区"),        # a municipality's district: no prefecture level
    ("429004", "湖北省仙桃市"),        # a county-level city the province governs directly
    ("370200", "山东省青岛市"),
    ("370000", "山东省"),
    ("999999", None),
    (None, None),
])
def test_a_code_has_its_full_name(code, name):
    assert full_name(code) == name


def test_a_zh_hant_reader_gets_the_name_in_traditional_characters():
    assert full_name("370202", "zh-Hant") == "山東省青島市市南區"
    assert search("市南區", locale="zh-Hant")[0] == ("370202", "山東省青島市市南區")


def test_the_table_holds_six_digit_codes_under_known_provinces():
    divisions = json.loads((SCHEMAS / "divisions.json").read_text(encoding="utf-8"))["divisions"]
    assert len(divisions) > 3000
    assert all(re.fullmatch(r"[1-9]\d{5}", code) for code in divisions)
    assert all(code[:2] + "0000" in divisions for code in divisions)


@pytest.mark.parametrize("query, first", [
    ("市南", "370202"),        # its own name, before 天津市南开区 that holds 市南 across two names
    ("3702", "370202"),        # the first digits of a code, counties before their city
    ("青岛 市南", "370202"),   # words anywhere in the full name
    ("東城", "110101"),        # typed in traditional characters
    ("", None), ("   ", None),
])
def test_suggestions_put_the_named_division_first(query, first):
    found = search(query)
    assert (found[0][0] if found else None) == first
    assert len(found) <= 12


@pytest.mark.parametrize("query", [
    "Shinan", "shinan", "SHINAN", "Shi Nan", "shí nán", "shi2nan2", "Shinan District",
    "Shinanqu", "Qingdao Shinan", "Ｓｈｉｎａｎ",
])
def test_pinyin_finds_the_division_in_any_case_spacing_or_tone(query):
    assert search(query)[0] == ("370202", "山东省青岛市市南区")


def test_pinyin_offers_every_division_of_that_reading_counties_first():
    found = [code for code, _ in search("chaoyang")]
    assert {"110105", "220104"} <= set(found)  # 北京市朝阳区, 长春市朝阳区
    assert search("Lüshunkou")[0][0] == "210212"  # 旅顺口区: ü typed as itself
    assert search("lvshunkou")[0][0] == "210212"
    assert search("xyzzy") == [] and search("district") == []


def test_an_english_reader_finds_a_district_by_its_pinyin(client):
    offered = client.get("/divisions", query_string={
        "field": FIELD, FIELD: "Shinan", "lang": "en"}).text
    assert offered.strip().startswith('<option value="370202">')


def test_the_field_offers_divisions_as_the_applicant_types(client):
    draft_url = start(client)
    form = client.get(f"{draft_url}/form").text
    field_id = "f-" + FIELD.replace(".", "-")
    assert f'list="{field_id}-divisions"' in form
    datalist = re.search(rf'<datalist id="{field_id}-divisions"[^>]*>', form).group(0)
    assert 'hx-get="/divisions"' in datalist and f"from:#{field_id}" in datalist
    offered = client.get("/divisions", query_string={"field": FIELD, FIELD: "市南"}).text
    assert offered.strip().startswith('<option value="370202">山东省青岛市市南区</option>')
    assert "<html" not in offered
    hant = client.get("/divisions",
                      query_string={"field": FIELD, FIELD: "市南區", "lang": "zh-Hant"})
    assert hant.text.strip() == '<option value="370202">山東省青島市市南區</option>'


def test_a_checked_code_says_which_place_it_names(client):
    draft_url = start(client)
    known = client.get(f"{draft_url}/check", query_string={"field": FIELD, FIELD: "370202"}).text
    assert '<p class="note">山东省青岛市市南区</p>' in known and 'class="error"' not in known
    unknown = client.get(f"{draft_url}/check", query_string={"field": FIELD, FIELD: "999999"})
    assert "平台的行政区划表中没有这个代码，请核对。" in unknown.text
    malformed = client.get(f"{draft_url}/check", query_string={"field": FIELD, FIELD: "市南"})
    assert 'class="error"' in malformed.text and 'class="note"' not in malformed.text


def test_the_review_shows_the_place_not_its_code(client):
    draft_url = start(client)
    fill(client, draft_url)
    review = client.get(f"{draft_url}/review").text
    assert "所在地区 山东省青岛市市南区；详细地址 香港中路10号" in review
    assert "370202" not in review.split('id="review-materials"')[0].split("<main", 1)[1]
    assert "所在地區 山東省青島市市南區；" in client.get(f"{draft_url}/review?lang=zh-Hant").text


def test_the_pdf_and_the_departments_task_show_the_place_not_its_code(app, client):
    from test_admin import add_account
    from test_inbox import staff
    from test_receipt import pdf_text
    from test_web import submit, upload_everything

    draft_url = start(client)
    fill(client, draft_url)
    upload_everything(client, draft_url)
    receipt = submit(client, draft_url)
    text = pdf_text(client.get(f"{receipt}/application.pdf").data)
    assert "山东省青岛市市南区" in text and "370202" not in text
    add_account(app, "staff-sn-amr", "department_staff", "sn-amr")
    browser = staff(app, "sn-amr")
    task = re.search(r'/inbox/tasks/(\d+)', browser.get("/inbox/").text).group(1)
    page = browser.get(f"/inbox/tasks/{task}").text
    assert "山东省青岛市市南区；详细地址" in page and "370202" not in page


def test_a_schemas_folder_without_the_table_shows_codes_as_they_are(client, tmp_path,
                                                                     monkeypatch):
    import shutil

    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, schemas, ignore=shutil.ignore_patterns("divisions.json"))
    monkeypatch.setenv("ONETHING_SCHEMAS", str(schemas))
    assert full_name("370202") is None and search("市南") == []
    draft_url = start(client)
    checked = client.get(f"{draft_url}/check", query_string={"field": FIELD, FIELD: "370202"})
    assert checked.status_code == 200
    assert 'class="note"' not in checked.text and 'class="error"' not in checked.text
    fill(client, draft_url)
    assert client.get(f"{draft_url}/form").status_code == 200
    review = client.get(f"{draft_url}/review")
    assert review.status_code == 200
    assert "所在地区 370202；详细地址 香港中路10号" in review.text
    assert client.get("/divisions", query_string={"field": FIELD, FIELD: "市南"}).text.strip() == ""


@pytest.mark.parametrize("typed", ["市南区", "青岛市市南区", " 山东省青岛市市南区 ", "市南區"])
def test_the_name_of_one_division_typed_without_picking_it_is_its_code(client, typed):
    # The hint says to type 市南区; with no JavaScript no list is offered to pick from.
    draft_url = start(client)
    check = client.get(f"{draft_url}/check", query_string={"field": FIELD, FIELD: typed})
    assert '<p class="note">山东省青岛市市南区</p>' in check.text
    assert 'class="error"' not in check.text
    assert json.loads(check.headers["HX-Trigger"]) == {"onething:folded": {"value": "370202"}}


def test_a_name_several_divisions_share_is_not_guessed(client):
    draft_url = start(client)
    check = client.get(f"{draft_url}/check", query_string={"field": FIELD, FIELD: "朝阳区"})
    assert 'class="error"' in check.text and "HX-Trigger" not in check.headers
