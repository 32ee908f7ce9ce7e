"""Repeating groups (arrays of objects): shareholders of a company registration, one row
each, added and removed with or without JavaScript, checked row by row, sliced whole to
the department whose matter declared the group."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator
from sqlmodel import Session, select

from onething.catalog.formats import FORMAT_CHECKER
from onething.composer.compose import compose
from onething.composer.routing import Slice
from onething.composer.validation import field_errors
from onething.publishing.check import load_catalog
from onething.storage.models import Task
from test_web import ANSWERS, FORM, start, submit, upload_everything

from conftest import apply_edits
from strategies import CUSTOM_FORMATS, cache_regex_strategies

cache_regex_strategies()
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


# A second matter that takes some columns of the shareholders: the tobacco licence wants
# each shareholder's name and share (a column the library adds), with names of at most 20
# characters; only when the applicant sells tobacco. The registration names its columns.
COLUMN_EDITS = [
    {"file": "catalog/matters/business-registration.json",
     "pointer": "/form/properties/shareholders/items",
     "value": {"properties": {"name": {}, "id_number": {}, "contribution": {}}}},
    {"file": "fields/shareholders.json", "pointer": "/items/properties/share_percent",
     "value": {"type": "number", "title": "持股比例（%）", "exclusiveMinimum": 0,
               "maximum": 100}},
    {"file": "catalog/matters/tobacco-retail-licence.json",
     "pointer": "/form/properties/shareholders",
     "value": {"$ref": "https://onething.example/fields/shareholders",
               "items": {"properties": {"name": {"maxLength": 20}, "share_percent": {}},
                         "required": ["share_percent"]}}},
]
COMPANY = {"has_business_licence": False, "public_gathering_place": False,
           "outdoor_signboard": False, "sells_tobacco": True}
ROWS = [{"name": "王海风", "id_number": "11010519491231002X", "contribution": 30,
         "share_percent": 60},
        {"name": "赵安", "id_number": "11010519491231002X", "contribution": 20,
         "share_percent": 40}]


@pytest.fixture
def columns_catalog(demo_root):
    apply_edits(demo_root, COLUMN_EDITS)
    return load_catalog(demo_root)


def test_the_one_form_asks_the_union_of_the_columns_with_the_strictest_constraints(
        columns_catalog):
    composition = compose(columns_catalog.bundles["open-restaurant"], COMPANY)
    group = composition.schema["properties"]["shareholders"]
    assert list(group["items"]["properties"]) == ["name", "id_number", "contribution",
                                                  "share_percent"]
    assert group["items"]["properties"]["name"]["maxLength"] == 20
    assert set(group["items"]["required"]) == {"name", "id_number", "contribution",
                                               "share_percent"}
    assert (group["minItems"], group["maxItems"]) == (1, 50)
    assert field_errors(composition, {"shareholders": [{**ROWS[0], "name": "王" * 21}]})[
        "shareholders.0.name"][0].matters == ("business-registration", "tobacco-retail-licence")
    entry = next(f for s in composition.layout["sections"] for f in s["fields"]
                 if f["path"] == "shareholders")
    assert [(c["key"], c["required"]) for c in entry["item"]] == [
        ("name", "always"), ("id_number", "always"), ("contribution", "always"),
        ("share_percent", "always")]


def test_each_department_receives_only_its_matters_columns_of_each_row(columns_catalog):
    composition = compose(columns_catalog.bundles["open-restaurant"], COMPANY)
    data = {"shareholders": ROWS}
    tobacco = composition.plan.step("tobacco-retail-licence").slice
    registration = composition.plan.step("business-registration").slice
    assert tobacco.project(data)["shareholders"] == [
        {"name": "王海风", "share_percent": 60}, {"name": "赵安", "share_percent": 40}]
    assert registration.project(data)["shareholders"] == [
        {k: v for k, v in row.items() if k != "share_percent"} for row in ROWS]
    assert tobacco.as_dict()["columns"] == {"shareholders": ["name", "share_percent"]}
    # Each slice's rows validate against its matter's own group, and fail with another
    # department's column in them.
    for code, cut in (("tobacco-retail-licence", tobacco), ("business-registration",
                                                            registration)):
        group = columns_catalog.matters[code].own_form()["properties"]["shareholders"]
        own = Draft202012Validator(group, registry=columns_catalog.registry)
        view = composition.matter_view(cut.project(data), code)
        assert own.is_valid(view["shareholders"]), list(own.iter_errors(view["shareholders"]))
    own = Draft202012Validator(columns_catalog.matters["tobacco-retail-licence"].own_form()[
        "properties"]["shareholders"], registry=columns_catalog.registry)
    assert not own.is_valid(ROWS)
    # A department handling both matters would get both matters' columns.
    both = Slice(fields=["shareholders"], columns={"shareholders": ["name"]})
    both.add(Slice(fields=["shareholders"], columns={"shareholders": ["share_percent"]}))
    assert both.columns == {"shareholders": ["name", "share_percent"]}
    both.add(Slice(fields=["shareholders"]))  # one taking every column: all of them
    assert both.columns == {}


def test_a_conditional_matters_columns_are_asked_only_when_it_applies(columns_catalog):
    bundle = columns_catalog.bundles["open-restaurant"]
    no_tobacco = compose(bundle, {**COMPANY, "sells_tobacco": False})
    assert "share_percent" not in no_tobacco.schema["properties"]["shareholders"]["items"][
        "properties"]
    general = compose(bundle)  # the schema for every answer, with the scenario logic in it
    validator = Draft202012Validator(general.schema, format_checker=FORMAT_CHECKER)
    without_share = [{k: v for k, v in row.items() if k != "share_percent"} for row in ROWS]
    base = {"shareholders": without_share}
    errors = {e.message for e in validator.iter_errors(
        {**base, "answers": COMPANY})}
    assert "'share_percent' is a required property" in errors
    errors = {e.message for e in validator.iter_errors(
        {**base, "answers": {**COMPANY, "sells_tobacco": False}})}
    assert "'share_percent' is a required property" not in errors


def test_every_departments_rows_are_sound_for_generated_groups(columns_catalog):
    composition = compose(columns_catalog.bundles["open-restaurant"], COMPANY)
    schema = composition.schema
    groups = {"$defs": schema["$defs"], "type": "object", "required": ["shareholders"],
              "properties": {"shareholders": schema["properties"]["shareholders"]}}
    owners = {code: Draft202012Validator(
        columns_catalog.matters[code].own_form()["properties"]["shareholders"],
        registry=columns_catalog.registry, format_checker=FORMAT_CHECKER)
        for code in ("business-registration", "tobacco-retail-licence")}

    @settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(from_schema(groups, custom_formats=CUSTOM_FORMATS))
    def check(data):
        for code, own in owners.items():
            rows = composition.plan.step(code).slice.project(data)["shareholders"]
            assert [e.message for e in own.iter_errors(rows)] == [], code
            taken = columns_catalog.matters[code].form["properties"]["shareholders"][
                "items"]["properties"]
            assert all(set(row) <= set(taken) for row in rows), code

    check()
