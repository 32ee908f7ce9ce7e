"""Rules between a matter's fields, in standard JSON Schema (if/then/else, allOf, anyOf,
oneOf, not, dependentRequired): lifted onto the one form, holding only when the matter
applies, their errors on the fields they name."""

from __future__ import annotations

import pytest

from onething.composer.compose import compose
from onething.composer.validation import field_errors
from onething.publishing.check import load_catalog

from conftest import apply_edits

RESTAURANT = {"has_business_licence": False, "public_gathering_place": False,
              "outdoor_signboard": False, "sells_tobacco": False}


def test_a_company_lists_its_shareholders_an_individual_business_does_not(demo_catalog):
    composition = compose(demo_catalog.bundles["open-restaurant"], RESTAURANT)
    company = field_errors(composition, {"entity_type": "limited_company"})
    assert company["shareholders"][0].keyword == "required"
    assert company["shareholders"][0].matters == ("business-registration",)
    assert "shareholders" not in field_errors(composition, {"entity_type": "individual_business"})
    layout = {f["path"]: f for s in composition.layout["sections"] for f in s["fields"]}
    assert layout["shareholders"]["required"] == "conditional"
    # Without the registration (the licence is held already), no rule of it holds.
    verified = compose(demo_catalog.bundles["open-restaurant"],
                       {**RESTAURANT, "has_business_licence": True})
    assert "shareholders" not in field_errors(verified, {"entity_type": "limited_company"})


@pytest.fixture
def gamma_rules(mini_root):
    def build(rules: dict):
        apply_edits(mini_root, [{"file": "catalog/matters/gamma.json",
                                 "pointer": f"/form/{keyword}", "value": value}
                                for keyword, value in rules.items()])
        return load_catalog(mini_root).bundles["mini-bundle"]
    return build


def test_a_rule_reaches_a_matters_own_field_under_its_namespace(gamma_rules):
    bundle = gamma_rules({
        "required": ["premises_ownership", "premises_area"],  # sign_text only by the rule
        "if": {"properties": {"premises_ownership": {"const": "leased"}},
               "required": ["premises_ownership"]},
        "then": {"required": ["sign_text"]}})
    composition = compose(bundle, {"wants_sign": True})
    leased = field_errors(composition, {"premises_ownership": "leased", "matters": {"gamma": {}}})
    owned = field_errors(composition, {"premises_ownership": "owned", "matters": {"gamma": {}}})
    assert "matters.gamma.sign_text" in leased
    assert leased["matters.gamma.sign_text"][0].matters == ("gamma",)
    assert "matters.gamma.sign_text" not in owned


def test_dependent_required_across_shared_and_own_fields(gamma_rules):
    bundle = gamma_rules({"required": ["premises_area"],
                          "dependentRequired": {"sign_text": ["premises_ownership"]}})
    composition = compose(bundle, {"wants_sign": True})
    given = field_errors(composition, {"matters": {"gamma": {"sign_text": "海风小馆"}}})
    assert given["premises_ownership"][0].keyword == "required"
    assert "premises_ownership" not in field_errors(composition, {"matters": {"gamma": {}}})
    # The general schema (every scenario) holds the rule only when gamma applies.
    general = compose(bundle)
    rules = [r for r in general.schema["allOf"] if r.get("x-matter") == "gamma"
             and "if" in r and "answers" in r["if"]["properties"]]
    assert rules


def test_a_slice_with_a_rule_still_validates_against_the_matters_own_form(demo_catalog):
    from jsonschema import Draft202012Validator

    from onething.catalog.formats import FORMAT_CHECKER

    composition = compose(demo_catalog.bundles["open-restaurant"], RESTAURANT)
    matter = demo_catalog.matters["business-registration"]
    own = Draft202012Validator(matter.form, registry=demo_catalog.registry,
                               format_checker=FORMAT_CHECKER)
    data = {"entity_type": "limited_company"}
    # The same rule refuses the same data in the one form and in the matter's own form.
    assert "shareholders" in field_errors(composition, data)
    assert any(e.validator == "required" and "shareholders" in e.message
               for e in own.iter_errors(composition.matter_view(data, matter.code)))
