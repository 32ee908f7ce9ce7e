"""Repeating groups (arrays of objects): shareholders of a company registration, one row
each, added and removed with or without JavaScript, checked row by row, sliced whole to
the department whose matter declared the group."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from onething.composer.compose import compose
from onething.composer.validation import field_errors
from onething.storage.models import Task
from test_web import ANSWERS, FORM, start, submit, upload_everything

SHAREHOLDERS = {"shareholders.0.name": "王海风", "shareholders.0.id_number": "11010519491231002X",
                "shareholders.0.contribution": "30",
                "shareholders.1.name": "赵安", "shareholders.1.id_number": "11010519491231002X",
                "shareholders.1.contribution": "20.5"}


def shown(page: str, path: str) -> str | None:
    found = re.search(rf'name="{re.escape(path)}"[^>]*value="([^"]*)"', page)
    return found.group(1) if found else None


def test_a_group_of_objects_is_laid_out_as_rows(demo_catalog):
    composition = compose(demo_catalog.bundles["open-restaurant"],
                          {key: value == "true" if value in ("true", "false") else value
                           for key, value in ANSWERS.items()})
    entry = next(f for s in composition.layout["sections"] for f in s["fields"]
                 if f["path"] == "shareholders")
    assert entry["widget"] == "rows" and (entry["min_rows"], entry["max_rows"]) == (1, 50)
    assert [child["key"] for child in entry["item"]] == ["name", "id_number", "contribution"]
    assert all(child["required"] == "always" for child in entry["item"])


def test_rows_are_added_and_removed_without_javascript_and_nothing_typed_is_lost(client):
    draft = start(client)
    page = client.get(f"{draft}/form").text
    assert shown(page, "shareholders.0.name") == "" and "shareholders.1.name" not in page
    added = client.post(f"{draft}/form", data={**FORM, "shareholders.0.name": "王海风",
                                                 "_add_row": "shareholders"})
    assert added.status_code == 200
    assert shown(added.text, "shareholders.0.name") == "王海风"
    assert shown(added.text, "shareholders.1.name") == ""
    assert shown(added.text, "entity_name") == FORM["entity_name"]  # the rest was saved too
    # The draft kept what was typed: a reload shows it.
    assert shown(client.get(f"{draft}/form").text, "shareholders.0.name") == "王海风"
    both = client.post(f"{draft}/form", data={**FORM, **SHAREHOLDERS,
                                                "_remove_row": "shareholders.0"})
    assert shown(both.text, "shareholders.0.name") == "赵安"
    assert "shareholders.1.name" not in both.text


def test_each_row_is_checked_with_its_messages_on_its_own_fields(client):
    draft = start(client)
    broken = {**SHAREHOLDERS, "shareholders.1.contribution": "二十万"}
    refused = client.post(f"{draft}/form", data={**FORM, **broken})
    assert refused.status_code == 422
    messages = dict(re.findall(r'id="msg-([^"]+)"[^>]*>\s*<p class="error">([^<]*)', refused.text))
    assert set(messages) == {"shareholders-1-contribution"}
    assert shown(refused.text, "shareholders.1.contribution") == "二十万"  # kept as typed
    check = client.get(f"{draft}/check", query_string={
        "field": "shareholders.0.id_number", "shareholders.0.id_number": "123"})
    assert check.status_code == 200 and 'id="msg-shareholders-0-id_number"' in check.text
    assert '<p class="error">' in check.text
    assert client.get(f"{draft}/check", query_string={"field": "shareholders.x.name"}
                      ).status_code == 404


def test_errors_inside_a_row_are_blamed_on_that_rows_field(demo_catalog):
    composition = compose(demo_catalog.bundles["open-restaurant"], {
        "has_business_licence": False, "public_gathering_place": False,
        "outdoor_signboard": False, "sells_tobacco": False})
    data = {"shareholders": [{"name": "王海风", "id_number": "11010519491231002X",
                              "contribution": 30},
                             {"name": "赵安", "id_number": "1101", "contribution": -1}]}
    errors = field_errors(composition, data)
    assert {"shareholders.1.id_number", "shareholders.1.contribution"} <= set(errors)
    assert not any(path.startswith("shareholders.0") for path in errors)
    assert errors["shareholders.1.contribution"][0].matters == ("business-registration",)


def test_the_group_goes_whole_to_the_department_that_declared_it_only(app, client):
    draft = start(client)
    response = client.post(f"{draft}/form", data={**FORM, **SHAREHOLDERS})
    assert response.status_code == 302, re.findall(r'class="error">([^<]*)', response.text)
    upload_everything(client, draft)
    review = client.get(f"{draft}/review").text
    assert "1. 姓名 王海风" in review and "2. 姓名 赵安" in review
    submit(client, draft)
    with Session(app.extensions["onething.engine"]) as session:
        tasks = session.exec(select(Task)).all()
    holding = {t.matter_code for t in tasks if "shareholders" in t.slice_data}
    assert holding == {"business-registration"}
    task = next(t for t in tasks if t.matter_code == "business-registration")
    assert task.slice_data["shareholders"] == [
        {"name": "王海风", "id_number": "11010519491231002X", "contribution": 30},
        {"name": "赵安", "id_number": "11010519491231002X", "contribution": 20.5}]
