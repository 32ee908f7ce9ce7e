"""The composer's rules, on the mini catalog whose every merge is known."""

from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator

from onething.catalog.formats import FORMAT_CHECKER
from onething.composer.compose import AnswersError, clear_cache, compose


def valid_submission(**overrides):
    data = {
        "answers": {"wants_sign": True, "lit_sign": False},
        "entity_name": "青岛海风餐饮有限公司",
        "premises_area": 80,
        "premises_ownership": "leased",
        "matters": {
            "alpha": {"note": "甲的备注"},
            "beta": {"note": 3},
            "gamma": {"sign_text": "海风小馆"},
        },
    }
    data.update(overrides)
    return data


def errors(composition, data):
    validator = Draft202012Validator(composition.schema, format_checker=FORMAT_CHECKER)
    return sorted((e.json_path, e.validator) for e in validator.iter_errors(data))


def test_merged_schema_is_standard_2020_12(mini_catalog):
    Draft202012Validator.check_schema(compose(mini_catalog.bundles["mini-bundle"]).schema)


def test_a_library_field_used_by_several_matters_appears_once(mini_catalog):
    composition = compose(mini_catalog.bundles["mini-bundle"])
    properties = composition.schema["properties"]
    assert properties["entity_name"] == {"$ref": "#/$defs/entity_name"}
    assert composition.provenance["entity_name"].matters == ["alpha", "beta"]
    assert composition.provenance["entity_name"].departments == ["city-office", "district-office"]


def test_local_fields_under_the_same_key_never_merge(mini_catalog):
    composition = compose(mini_catalog.bundles["mini-bundle"])
    namespaces = composition.schema["properties"]["matters"]["properties"]
    assert namespaces["alpha"]["properties"]["note"]["type"] == "string"
    assert namespaces["beta"]["properties"]["note"]["type"] == "integer"
    assert "note" not in composition.schema["properties"]


def test_a_borrowed_library_definition_stays_the_matters_own(mini_catalog):
    composition = compose(mini_catalog.bundles["mini-bundle"])
    beta = composition.schema["properties"]["matters"]["properties"]["beta"]
    assert beta["properties"]["manager_id"]["$ref"] == "#/$defs/resident_id"
    assert "manager_id" not in composition.schema["properties"]
    assert "resident_id" in composition.schema["$defs"]


def test_bounds_combine_to_the_strictest(mini_catalog):
    composition = compose(mini_catalog.bundles["mini-bundle"], {"wants_sign": True})
    area = composition.schema["properties"]["premises_area"]
    assert (area["minimum"], area["maximum"]) == (50, 500)  # gamma's minimum, beta's maximum
    assert errors(composition, valid_submission(premises_area=40)) == [
        ("$.premises_area", "minimum")]
    assert errors(composition, valid_submission(premises_area=501)) == [
        ("$.premises_area", "maximum")]


def test_enums_intersect(mini_catalog):
    composition = compose(mini_catalog.bundles["mini-bundle"], {"wants_sign": True})
    assert composition.schema["properties"]["premises_ownership"]["enum"] == ["owned", "leased"]
    assert errors(composition, valid_submission(premises_ownership="free_use")) == [
        ("$.premises_ownership", "enum")]


def test_required_if_any_matter_requires_it(mini_catalog):
    composition = compose(mini_catalog.bundles["mini-bundle"], {"wants_sign": False})
    required = composition.schema["required"]
    assert "premises_area" in required  # alpha requires it; beta does not
    data = valid_submission(answers={"wants_sign": False})
    del data["premises_area"], data["premises_ownership"], data["matters"]["gamma"]
    assert errors(composition, data) == [("$", "required")]
    # Fields of a matter that does not apply are refused, not silently routed anywhere.
    assert errors(composition, valid_submission(answers={"wants_sign": False})) == [
        ("$", "additionalProperties"), ("$.matters", "additionalProperties")]


def test_answers_keep_only_applicable_matters(mini_catalog):
    bundle = mini_catalog.bundles["mini-bundle"]
    without = compose(bundle, {"wants_sign": False})
    assert [m.code for m in without.matters] == ["alpha", "beta"]
    assert "premises_ownership" not in without.schema["properties"]
    assert without.schema["properties"]["premises_area"]["minimum"] == 10
    assert [m.id for m in without.materials] == ["licence", "floor-plan", "safety-rules"]


def test_without_answers_the_schema_carries_the_scenario_logic(mini_catalog):
    composition = compose(mini_catalog.bundles["mini-bundle"])
    assert composition.conditions["gamma"] is not None
    no_sign = valid_submission(answers={"wants_sign": False}, premises_area=20)
    del no_sign["premises_ownership"]
    del no_sign["matters"]["gamma"]
    assert errors(composition, no_sign) == []
    # The same data with a sign wanted needs gamma's fields and gamma's stricter minimum.
    with_sign = dict(no_sign, answers={"wants_sign": True})
    assert errors(composition, with_sign) == [
        ("$", "required"), ("$.matters", "required"), ("$.premises_area", "minimum")]


def test_materials_are_deduplicated_with_the_strictest_flags(mini_catalog):
    composition = compose(mini_catalog.bundles["mini-bundle"], {"wants_sign": True,
                                                                "lit_sign": True})
    by_id = {m.id: m for m in composition.materials}
    assert list(by_id) == ["licence", "floor-plan", "safety-rules", "sign-design", "lighting-plan"]
    plan = by_id["floor-plan"]
    assert plan.matters == ["alpha", "beta"]
    assert plan.necessity == "required"  # alpha requires what beta would defer
    assert plan.copies == 2
    assert plan.medium == "paper"  # paper for alpha, electronic for beta: the paper original
    assert by_id["licence"].shared_data and not by_id["licence"].upload
    assert by_id["safety-rules"].commitment and by_id["safety-rules"].necessity == "deferrable"


def test_a_material_condition_follows_the_answers(mini_catalog):
    bundle = mini_catalog.bundles["mini-bundle"]
    unlit = compose(bundle, {"wants_sign": True, "lit_sign": False})
    assert "lighting-plan" not in [m.id for m in unlit.materials]
    everything = compose(bundle)
    lighting = next(m for m in everything.materials if m.id == "lighting-plan")
    assert lighting.condition == {"allOf": [
        {"properties": {"wants_sign": {"const": True}}, "required": ["wants_sign"]},
        {"properties": {"lit_sign": {"const": True}}, "required": ["lit_sign"]},
    ]}


def test_routing_plan_slices_hold_exactly_the_declared_fields(mini_catalog):
    plan = compose(mini_catalog.bundles["mini-bundle"], {"wants_sign": True}).plan
    assert plan.departments == ["city-office", "district-office", "other-office"]
    assert plan.slices["city-office"].fields == ["entity_name", "premises_area",
                                                 "matters.alpha.note"]
    assert plan.slices["other-office"].fields == ["premises_area", "premises_ownership",
                                                  "matters.gamma.sign_text"]
    assert plan.slices["other-office"].materials == ["sign-design"]
    projected = plan.slices["other-office"].project(valid_submission())
    assert projected == {"premises_ownership": "leased", "premises_area": 80,
                         "matters": {"gamma": {"sign_text": "海风小馆"}}}


def test_critical_path_runs_through_the_after_edges(mini_catalog):
    plan = compose(mini_catalog.bundles["mini-bundle"], {"wants_sign": True}).plan
    assert plan.step("beta").waits_for == ["alpha"]
    assert plan.critical_path == ["alpha", "gamma"]
    assert (plan.critical_path_days, plan.serial_days) == (6, 9)
    assert plan.legal_critical_path_days == 30


def test_a_calendar_day_step_weighs_its_working_equivalent_and_keeps_its_counting(mini_root):
    from onething.publishing.check import load_catalog

    from conftest import CALENDAR_GAMMA, apply_edits

    apply_edits(mini_root, CALENDAR_GAMMA)
    composition = compose(load_catalog(mini_root).bundles["mini-bundle"], {"wants_sign": True})
    plan = composition.plan
    gamma = plan.step("gamma")
    assert (gamma.promised_days, gamma.legal_days, gamma.counting) == (14, 30, "calendar_days")
    assert (gamma.promised_working_days, gamma.legal_working_days) == (10, 22)  # ⌈n·5/7⌉
    assert gamma.as_dict()["counting"] == "calendar_days"
    assert plan.step("alpha").as_dict()["counting"] == "working_days"
    assert plan.critical_path == ["alpha", "gamma"]
    assert (plan.critical_path_days, plan.serial_days) == (2 + 10, 2 + 3 + 10)
    assert plan.legal_critical_path_days == 10 + 22
    assert gamma.finish_day == 12
    assert plan.critical_days({"alpha", "gamma"}) == 12
    savings = composition.savings
    assert (savings.days.before, savings.days.after) == (15, 12)


def test_savings(mini_catalog):
    savings = compose(mini_catalog.bundles["mini-bundle"], {"wants_sign": True}).savings
    assert (savings.forms.before, savings.forms.after) == (3, 1)
    assert (savings.fields.before, savings.fields.after) == (10, 7)
    # 6 materials separately (no lit sign, so no lighting plan); 3 to hand over after
    # deduplication, because shared data supplies the licence.
    assert (savings.materials.before, savings.materials.after) == (6, 3)
    assert (savings.visits.before, savings.visits.after) == (3, 1)
    assert (savings.days.before, savings.days.after) == (9, 6)


def test_answers_that_contradict_the_questionnaire_are_refused(mini_catalog):
    with pytest.raises(AnswersError) as caught:
        compose(mini_catalog.bundles["mini-bundle"], {"wants_sign": "maybe"})
    assert caught.value.errors[0].json_path == "$.wants_sign"


def test_compose_is_cached_by_version_and_answers(mini_catalog):
    bundle = mini_catalog.bundles["mini-bundle"]
    clear_cache()
    first = compose(bundle, {"wants_sign": True})
    assert compose(bundle, {"wants_sign": True}) is first
    assert compose(bundle, {"wants_sign": False}) is not first
    assert first.key.startswith(f"mini-bundle@{bundle.version}:")


def test_matter_view_restores_the_matters_own_shape(mini_catalog):
    composition = compose(mini_catalog.bundles["mini-bundle"], {"wants_sign": True})
    assert composition.matter_view(valid_submission(), "beta") == {
        "entity_name": "青岛海风餐饮有限公司", "premises_area": 80, "note": 3}


def test_a_change_to_the_lead_department_is_a_new_version(mini_root):
    from onething.publishing.check import load_catalog

    from conftest import apply_edits

    # A hall that leads the bundle but handles none of its matters (一窗受理 only).
    hall = ('{"code": "hall-office", "name": "政务服务大厅", "level": "district", '
            '"consult_phone": "12345", "address": "大厅路1号", "office_hours": "%s"}')
    apply_edits(mini_root, [
        {"file": "catalog/departments/hall-office.json", "raw": hall % "工作日 9:00-17:00"},
        {"file": "catalog/bundles/mini-bundle.json", "pointer": "/lead_department",
         "value": "hall-office"}])
    before = load_catalog(mini_root).bundles["mini-bundle"]
    assert "hall-office" in before.department_codes()
    apply_edits(mini_root, [
        {"file": "catalog/departments/hall-office.json", "raw": hall % "工作日 8:30-17:30"}])
    assert load_catalog(mini_root).bundles["mini-bundle"].version != before.version


def test_savings_never_add_alternatives_together(demo_catalog):
    # Registering a business and verifying a licence it already has are alternatives.
    savings = compose(demo_catalog.bundles["open-restaurant"]).savings
    assert (savings.forms.before_low, savings.forms.before) == (2, 5)
    assert savings.forms.before_text == "2–5" and savings.forms.after_text == "1"
    heaviest = {"has_business_licence": False, "public_gathering_place": True,
                "fire_route": "commitment", "outdoor_signboard": True, "sells_tobacco": True}
    exact = compose(demo_catalog.bundles["open-restaurant"], heaviest).savings
    # The heaviest situation is exactly the top of each range.
    assert exact.forms.before == savings.forms.before
    assert exact.days.before == savings.days.before
    assert exact.forms.before_text == "5"
    # Every situation's figures lie within the ranges.
    for licence in (True, False):
        for gathering in (True, False):
            one = compose(demo_catalog.bundles["open-restaurant"], {
                **heaviest, "has_business_licence": licence,
                "public_gathering_place": gathering}).savings
            for name in ("forms", "materials", "days", "visits", "fields"):
                general, case = getattr(savings, name), getattr(one, name)
                assert general.before_low <= case.before <= general.before, name
                assert general.after_low <= case.after <= general.after, name


def test_a_one_class_bundle_counts_only_the_stages_chosen(demo_catalog):
    savings = compose(demo_catalog.bundles["restaurant-from-fit-out"]).savings
    everything = len(compose(demo_catalog.bundles["restaurant-from-fit-out"]).matters)
    # Only fitting out, under construction, no special fire project: one permit.
    assert savings.forms.before_low == 1
    # Both stages, yet never the licence registration and its verification together.
    assert savings.forms.before == everything - 1


def test_the_same_savings_show_on_every_page(client, demo_catalog):
    savings = compose(demo_catalog.bundles["open-restaurant"]).savings
    home = client.get("/").text
    # The home page says the heaviest situation, as such.
    assert (f"最多 {savings.forms.before} 张表合为 1 张。办理时间最长由 {savings.days.before} "
            f"个工作日缩短为 {savings.days.after} 个。") in home
    # Nothing said about days that one-after-another would not have taken longer.
    newborn = home[home.index("新生儿出生一件事"):]
    newborn = newborn[:newborn.index("</li>")]
    assert "4 张表合为 1 张。" in newborn and "工作日" not in newborn
    guide = client.get("/g/open-restaurant").text
    table = guide[guide.index('class="savings-table"'):]
    assert f"<td>{savings.forms.before_text}</td><td>1</td>" in table
    assert f"<td>{savings.days.before_text}</td><td>{savings.days.after_text}</td>" in table
    from click.testing import CliRunner

    from onething.cli import main
    shown = CliRunner().invoke(main, ["compose", "open-restaurant"]).output
    assert re.search(rf"forms\s+{savings.forms.before_text} → 1", shown)


def test_the_original_goes_to_the_department_that_must_see_it(demo_catalog, client):
    composition = compose(demo_catalog.bundles["renovation-approval"])
    consent = next(m for m in composition.materials if m.id == "owner-consent")
    # Planning checks the paper original; the housing bureau takes either.
    assert consent.medium == "paper" and consent.mixed
    planning = demo_catalog.matters["planning-permit"].department
    assert consent.media[planning] == "paper"
    guide = client.get("/g/renovation-approval").text
    item = guide[guide.index("产权人（业主）同意改造的书面意见"):]
    item = item[:item.index("</li>")]
    assert "纸质原件 1 份" in item and "其他部门使用扫描件" in item
    assert "《民法典》第二百七十八条" in item  # the material's notes (填报须知)


def test_a_field_override_reaches_the_one_form_of_its_bundle_only(mini_root):
    from onething.publishing.check import load_catalog

    bundles = mini_root / "catalog" / "bundles"
    plain = json.loads((bundles / "mini-bundle.json").read_text(encoding="utf-8"))
    (bundles / "other-bundle.json").write_text(json.dumps(
        {**plain, "code": "other-bundle"}, ensure_ascii=False), encoding="utf-8")
    plain["overrides"] = {"alpha": {"note": {"title": {"zh-Hans": "门店备注", "en": "Shop note"},
                                             "description": "写明门店编号"}}}
    (bundles / "mini-bundle.json").write_text(json.dumps(plain, ensure_ascii=False),
                                              encoding="utf-8")
    catalog = load_catalog(mini_root)

    def note(code: str) -> dict:
        layout = compose(catalog.bundles[code]).layout
        return next(f for s in layout["sections"] for f in s["fields"]
                    if f["path"] == "matters.alpha.note")

    assert note("mini-bundle")["title"]["zh-Hans"] == "门店备注"
    assert note("mini-bundle")["title"]["en"] == "Shop note"
    assert note("mini-bundle")["description"]["zh-Hans"] == "写明门店编号"
    assert note("other-bundle")["title"]["zh-Hans"] == "甲备注"
    assert "description" not in note("other-bundle")
