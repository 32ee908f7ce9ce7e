"""Errors the GOV.UK way on the one form and the start page, with the test client (no
JavaScript): a summary of links, messages tied to their inputs, every question at once,
steps that save, and an autosave that says whether it saved."""

from __future__ import annotations

import json
import re

import pytest

from test_web import ANSWERS, FORM, start, upload_everything


def test_the_error_summary_links_every_error_to_its_field_in_page_order(client):
    draft = start(client)
    refused = client.post(f"{draft}/form", data={**FORM, "entity_name": "",
                                                 "legal_representative.mobile": "12345",
                                                 "premises_area": "abc"})
    assert refused.status_code == 422
    summary = re.search(r'<div class="error-summary" id="error-summary" role="alert" '
                        r'tabindex="-1".*?</div>', refused.text, re.S).group(0)
    links = re.findall(r'<a href="#([^"]+)">([^<]*)</a>', summary)
    assert [href for href, _ in links] == [
        "f-entity_name", "f-legal_representative-mobile", "f-premises_area"]
    assert "法定代表人 · " in links[1][1]  # whose mobile: the group says
    for href, _ in links:
        assert f'id="{href}"' in refused.text  # every link lands on an input


@pytest.mark.parametrize(("typed", "said"), [
    ("abc", "x-error"),                   # the wrong shape: what the field's note says
    ("110105194912310021", "check digit"),  # the right shape, a wrong last character
])
def test_a_mistyped_id_number_gets_one_message(client, typed, said):
    draft = start(client)
    page = client.post(f"{draft}/form",
                       data={**FORM, "legal_representative.id_number": typed}).text
    inline = re.search(r'id="msg-legal_representative-id_number"[^>]*>(.*?)</', page,
                       re.S).group(1)
    summary = re.search(r'id="error-summary".*?</div>', page, re.S).group(0)
    check_digit = "居民身份证号码不正确，请核对18位号码及最后一位校验码。"
    # One message, inline and in the summary: a check digit is not mentioned while the
    # shape is wrong.
    assert summary.count("<li") == 1
    assert (check_digit in inline) == (said == "check digit")
    assert (check_digit in summary) == (said == "check digit")
    # Submitted as it is, the review page's refusal says the same one message.
    upload_everything(client, draft)
    review = client.get(f"{draft}/review").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review).group(1)
    refused = client.post(f"{draft}/submit", data={"idempotency_key": key})
    assert refused.status_code == 422
    row = re.search(r'<li><a [^>]*#f-legal_representative-id_number-field">.*?</li>',
                    refused.text, re.S).group(0)
    assert (check_digit in row) == (said == "check digit")
    assert row.count("。") == 1  # one sentence: one message


def test_a_group_left_empty_is_refused_field_by_field(client):
    # 法定代表人 left wholly empty: each of its required fields is named and linked, each
    # message at its own input, not one "required" on the group that names none of them.
    draft = start(client)
    data = {name: value for name, value in FORM.items()
            if not name.startswith("legal_representative.")}
    page = client.post(f"{draft}/form", data=data).text
    summary = re.search(r'id="error-summary".*?</div>', page, re.S).group(0)
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary)
    assert [href for href, _ in links] == ["f-legal_representative-name",
                                           "f-legal_representative-id_number",
                                           "f-legal_representative-mobile"]
    assert all(text.startswith("法定代表人 · ") for _, text in links)
    for name in ("name", "id_number", "mobile"):
        inline = re.search(rf'id="msg-legal_representative-{name}"[^>]*>(.*?)</div>', page,
                           re.S).group(1)
        assert 'class="error"' in inline
    assert re.search(r'id="msg-legal_representative"[^>]*></div>', page)


def test_a_message_stands_above_its_input_and_is_read_with_it(client):
    draft = start(client)
    page = client.post(f"{draft}/form", data={**FORM, "premises_area": "abc"}).text
    begin = page.index('id="f-premises_area-field"')
    box = page[begin:page.index("</section>", begin)]
    assert 'class="field invalid' in page[begin - 40:begin]
    # The hint, then the message, then the input that names both.
    assert box.index('id="f-premises_area-hint"') < box.index('id="msg-premises_area"') \
        < box.index('<input id="f-premises_area"')
    described = re.search(r'<input id="f-premises_area"[^>]*aria-describedby="([^"]+)"', box,
                          re.S).group(1)
    assert described.split() == ["f-premises_area-hint", "msg-premises_area"]
    assert 'aria-invalid="true"' in box


def test_optional_fields_say_so_and_no_field_lists_its_departments(client):
    draft = start(client)
    page = client.get(f"{draft}/form").text
    optional = re.findall(r'<span class="optional">', page)
    assert optional  # 注册资本, 从业人数, …
    assert 'class="required"' not in page and "needed-by" not in page
    # Keyboards and autofill for a phone.
    assert re.search(r'<input id="f-legal_representative-mobile"[^>]*type="tel"', page, re.S)
    assert re.search(r'id="f-contact_name"[^>]*autocomplete="name"', page, re.S)
    assert re.search(r'id="f-premises_area"[^>]*inputmode="decimal"', page, re.S)
    assert 'enterkeyhint="next"' in page


def test_the_start_page_names_every_unanswered_question_at_once(client):
    refused = client.post("/b/open-restaurant", data={"has_business_licence": "false"})
    assert refused.status_code == 422
    summary = re.search(r'id="error-summary".*?</div>', refused.text, re.S).group(0)
    assert re.findall(r'href="#(f-[a-z_]+-1)"', summary) == [
        "f-public_gathering_place-1", "f-outdoor_signboard-1", "f-sells_tobacco-1"]
    assert re.search(r'value="false"[^>]*checked', refused.text)  # the answer is kept


def test_the_start_page_carries_its_live_summary_above_the_questions(client):
    page = client.get("/b/open-restaurant").text
    assert page.index('id="scenario-bar"') < page.index('name="has_business_licence"')
    live = client.get("/b/open-restaurant", query_string=ANSWERS, headers={"HX-Request": "true"})
    assert 'id="scenario-bar" hx-swap-oob="true"' in live.text


def test_a_step_saves_what_was_typed_and_goes_on_to_the_next_part(client):
    draft = start(client)
    moved = client.post(f"{draft}/form", data={"entity_name": FORM["entity_name"],
                                               "_step": "contact"})
    assert moved.status_code == 302
    assert moved.headers["Location"].endswith("/form#section-contact")
    assert FORM["entity_name"] in client.get(f"{draft}/form").text
    # A made-up step goes back to the form's top, not anywhere the request says.
    odd = client.post(f"{draft}/form", data={"_step": "//evil.example"})
    assert odd.headers["Location"].endswith("/form")


def test_a_step_says_what_was_typed_wrong_there_and_keeps_it(client, app):
    draft = start(client)
    page = client.get(f"{draft}/form").text
    sections = re.findall(r'<section class="form-section[^"]*" id="section-([^"]+)"', page)
    first = page[page.index(f'id="section-{sections[0]}"'):page.index(
        f'id="section-{sections[1]}"')]
    assert 'name="legal_representative.mobile"' in first
    stayed = client.post(f"{draft}/form?lang=en", data={
        "entity_name": FORM["entity_name"], "legal_representative.mobile": "138 0532",
        "_step": sections[1]})
    assert stayed.status_code == 422
    beside = stayed.text.split('id="msg-legal_representative-mobile"')[1][:400]
    assert 'class="error"' in beside
    # The part with the error is the one shown, not the next.
    assert f'class="form-section current" id="section-{sections[0]}"' in stayed.text
    # Nothing lost: both values are saved, the wrong one as typed (its spaces folded).
    again = client.get(f"{draft}/form").text
    assert FORM["entity_name"] in again and 'value="1380532"' in again
    assert 'class="error"' not in again.split('id="msg-legal_representative-mobile"')[1][:400]
    # The review's list of what to fix links to the form with each field's message.
    checked = client.get(f"{draft}/form?check=1").text
    assert 'class="error"' in checked.split('id="msg-legal_representative-mobile"')[1][:400]
    # What is only missing waits for the end: an empty required field does not hold a step.
    other = start(client)
    assert client.post(f"{other}/form", data={"_step": sections[1]}).status_code == 302


def test_the_form_marks_its_steps(client):
    draft = start(client)
    page = client.get(f"{draft}/form").text
    sections = re.findall(r'<section class="form-section[^"]*" id="section-([^"]+)"', page)
    assert len(sections) > 3
    assert re.findall(r'<a href="#section-([^"]+)" data-step', page) == sections


def test_autosave_says_saved_only_when_it_saved(client):
    draft = start(client)
    saved = client.post(f"{draft}/autosave", data={"legal_representative.id_number":
                                                   "11010519491231002x"},
                        headers={"HX-Request": "true"})
    assert saved.status_code == 200 and 'class="done"' in saved.text
    assert "11010519491231002X" in client.get(f"{draft}/form").text  # folded, then saved
    missing = client.post("/d/no-such-draft/autosave", headers={"HX-Request": "true"})
    assert missing.status_code == 404 and 'class="done"' not in missing.text


def test_the_blur_check_sends_the_folded_value_back(client):
    draft = start(client)
    check = client.get(f"{draft}/check", query_string={
        "field": "legal_representative.mobile", "legal_representative.mobile": "+86 138 0532 0000"})
    assert check.status_code == 200 and 'class="error"' not in check.text
    assert json.loads(check.headers["HX-Trigger"]) == {
        "onething:folded": {"value": "13805320000"}}
    wrong = client.get(f"{draft}/check", query_string={
        "field": "legal_representative.mobile", "legal_representative.mobile": "+8612345"})
    assert 'class="error"' in wrong.text and "HX-Trigger" not in wrong.headers
    same = client.get(f"{draft}/check", query_string={
        "field": "legal_representative.mobile", "legal_representative.mobile": "13805320000"})
    assert "HX-Trigger" not in same.headers


@pytest.mark.parametrize(("field", "typed", "kept"), [
    ("entity_name", "  青岛海味轩餐饮有限公司 ", "青岛海味轩餐饮有限公司"),
    ("legal_representative.name", " 张三 ", "张三"),
    ("premises_address.detail", "香港中路１０号", "香港中路10号"),
])
def test_a_folded_value_in_chinese_goes_back_in_a_header_a_server_can_send(
        client, field, typed, kept):
    # Headers are Latin-1 on the wire: waitress (the server `onething serve` runs) refused
    # a Chinese one with a 500, and the applicant saw "request refused" for a space typed.
    check = client.get(f"{start(client)}/check", query_string={"field": field, field: typed})
    assert check.status_code == 200
    header = check.headers["HX-Trigger"]
    header.encode("latin-1")
    assert json.loads(header) == {"onething:folded": {"value": kept}}


def test_enter_in_a_field_saves_and_stays_on_the_form(client):
    draft = start(client)
    page = client.get(f"{draft}/form").text
    form = page[page.index('class="one-form"'):]
    # Implicit submission (Enter, a phone's "Go") clicks the form's first submit button.
    first = re.search(r"<button type=\"submit\"[^>]*>", form).group(0)
    assert 'name="_step" value=""' in first
    saved = client.post(f"{draft}/form", data={"_step": "", "contact_name": "李青"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"{draft}/form")
    assert 'value="李青"' in client.get(f"{draft}/form").text


def test_a_questions_mark_gives_way_to_the_colon_in_the_summary(client):
    refused = client.post("/b/open-restaurant", data={})
    assert refused.status_code == 422
    assert "是否已取得营业执照：此项为必填项。" in refused.text
    assert "？：" not in refused.text
