"""A 一类事 nesting bundles (its stages): their own `after` edges and their own questions,
asked only when the stage applies (the demo's restaurant-from-fit-out)."""

from __future__ import annotations

import re

import pytest

from onething.catalog.definitions import Document
from onething.composer.compose import AnswersError, compose
from onething.publishing.check import check_documents, read_meta

from conftest import SCHEMAS

CLASS = "restaurant-from-fit-out"
FIT_OUT = {"stages": ["fit_out"], "building_status": "existing",
           "existing_work": ["load_bearing_change"], "special_fire_project": True}
OPENING = {"has_business_licence": False, "public_gathering_place": True,
           "fire_route": "commitment", "outdoor_signboard": False, "sells_tobacco": False}


def test_nested_bundles_keep_their_after_edges(demo_catalog):
    plan = compose(demo_catalog.bundle(CLASS)).plan
    renovation = compose(demo_catalog.bundle("renovation-approval")).plan
    restaurant = compose(demo_catalog.bundle("open-restaurant")).plan
    # Every edge of each stage is in the 一类事's plan...
    for stage in (renovation, restaurant):
        for step in stage.steps:
            assert set(step.waits_for) <= set(plan.step(step.matter).waits_for), step.matter
    # ... with the 一类事's own edge to a whole stage: the inspection before opening waits
    # for every fit-out approval.
    assert set(plan.step("fire-safety-check").waits_for) >= {
        step.matter for step in renovation.steps}
    assert plan.critical_path_days > max(renovation.critical_path_days,
                                         restaurant.critical_path_days)
    assert plan.critical_path[-1] == "fire-safety-check"


def test_a_stage_left_out_asks_nothing(demo_catalog):
    bundle = demo_catalog.bundle(CLASS)
    only = compose(bundle, FIT_OUT)
    assert {m.code for m in only.matters} == {step.matter for step in compose(
        demo_catalog.bundle("renovation-approval"), FIT_OUT).plan.steps}
    with pytest.raises(AnswersError) as refused:
        compose(bundle, {"stages": ["fit_out"]})
    missing = {error.message for error in refused.value.errors}
    # The fit-out stage's own questions, and none of the opening stage's.
    assert missing == {"'building_status' is a required property",
                       "'special_fire_project' is a required property"}
    both = compose(bundle, {**FIT_OUT, **OPENING, "stages": ["fit_out", "opening"]})
    assert "food-business-licence" in {m.code for m in both.matters}
    with pytest.raises(AnswersError):
        compose(bundle, {**FIT_OUT, "stages": ["fit_out", "opening"]})


def edited(catalog, changes: dict) -> list:
    """The problems check finds once the 一类事 has these changes."""
    documents = [Document(d.kind, d.path, {**d.data, **changes} if d.code == CLASS else d.data)
                 for d in catalog.documents()]
    return check_documents(documents, read_meta(SCHEMAS), expected_names=False)


@pytest.mark.parametrize(("after", "pointer", "message"), [
    ({"fire-safety-check": ["open-restaurant"]}, "/after/fire-safety-check/0",
     "a matter cannot wait for itself"),
    ({"open-restaurant": ["open-restaurant"]}, "/after/open-restaurant/0",
     "a matter cannot wait for itself"),
    ({"fire-safety-check": ["newborn"]}, "/after/fire-safety-check/0",
     "'newborn' is not a matter of this bundle, nor a bundle nested in it"),
    ({"open-restaurant": ["renovation-approval"]}, None, None),  # a stage after a stage
])
def test_an_after_edge_may_name_a_nested_bundle(demo_catalog, after, pointer, message):
    problems = [p for p in edited(demo_catalog, {"after": after}) if CLASS in p.file]
    if pointer is None:
        assert problems == []
    else:
        assert [(p.pointer, p.message) for p in problems] == [(pointer, message)]


def stage_ids(page: str) -> list[str]:
    return re.findall(r'<fieldset class="stage" id="([^"]+)"', page)


def test_the_start_page_asks_a_stages_questions_only_when_it_applies(client):
    first = client.get(f"/b/{CLASS}").text
    assert stage_ids(first) == [] and 'name="stages"' in first
    assert 'name="building_status"' not in first and 'name="sells_tobacco"' not in first
    chosen = client.get(f"/b/{CLASS}", query_string={"stages": "fit_out"},
                        headers={"HX-Request": "true"})
    assert "<html" not in chosen.text
    assert stage_ids(chosen.text) == ["stage-renovation-approval"]
    assert "<legend>建筑装饰装修审批</legend>" in chosen.text
    assert 'name="building_status"' in chosen.text and 'name="sells_tobacco"' not in chosen.text
    both = client.get(f"/b/{CLASS}", query_string={"stages": ["fit_out", "opening"]}).text
    assert stage_ids(both) == ["stage-renovation-approval", "stage-open-restaurant"]
    # Without JavaScript: the stage chosen, its questions come back asked, nothing lost.
    refused = client.post(f"/b/{CLASS}", data={"stages": "fit_out"})
    assert refused.status_code == 422
    assert stage_ids(refused.text) == ["stage-renovation-approval"]
    assert re.search(r'value="fit_out"[^>]*checked', refused.text)
    started = client.post(f"/b/{CLASS}", data={
        "stages": "fit_out", "building_status": "under_construction",
        "special_fire_project": "false"})
    assert started.status_code == 302, started.text[:300]


def test_every_unanswered_question_of_the_stages_chosen_is_named_at_once(client):
    refused = client.post(f"/b/{CLASS}", data={"stages": ["fit_out", "opening"]})
    assert refused.status_code == 422 and 'id="error-summary"' in refused.text
    flagged = set(re.findall(r'id="msg-([a-z_]+)"[^>]*>\s*<p class="error">', refused.text))
    assert flagged == {"building_status", "special_fire_project", "has_business_licence",
                       "public_gathering_place", "outdoor_signboard", "sells_tobacco"}


def test_a_one_class_bundle_is_called_what_it_is(client):
    found = client.get("/manual", query_string={"q": "餐饮店装修开业"},
                       headers={"HX-Request": "true", "HX-Target": "search-results"}).text
    first = found[found.index(f'href="/g/{CLASS}"'):]
    assert '<span class="tag">一类事</span>' in first[:first.index("</li>")]
    guide = client.get(f"/g/{CLASS}").text
    assert '<p class="kind">办事指南 · 一类事</p>' in guide
    assert '"serviceType": "一类事"' in guide or '"serviceType":"一类事"' in guide
