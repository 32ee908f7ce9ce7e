"""Soundness of the one form, proved with generated submissions (hypothesis-jsonschema).

For every bundle and generated answers: every valid merged submission, cut to a
department's slice, validates against each of that department's matters' own
original form; no slice holds a field its matters did not declare; and an
invalid field is blamed on the right field and matters.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator

from onething.catalog.formats import FORMAT_CHECKER
from onething.catalog.text import standardize_schema
from onething.composer.compose import compose, merged_questions
from onething.composer.validation import field_errors, validator_for
from onething.publishing.check import load_catalog

from strategies import cache_regex_strategies, form_formats, with_date_ranges

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)
CATALOG = load_catalog()
cache_regex_strategies()
BUNDLES = sorted(CATALOG.bundles)


# Building a strategy compiles every pattern of the schema into a regex strategy, which
# costs far more than drawing from it: build one per questionnaire and per composition.
_STRATEGIES: dict[str, st.SearchStrategy] = {}


def _strategy(key: str, schema: dict) -> st.SearchStrategy:
    if key not in _STRATEGIES:
        _STRATEGIES[key] = from_schema(with_date_ranges(schema), custom_formats=form_formats())
    return _STRATEGIES[key]


@st.composite
def scenario(draw, bundle):
    """Draw answers to a bundle's questions, then a valid submission for them."""
    questions = standardize_schema(merged_questions(bundle))
    answers = draw(_strategy(f"questions:{bundle.code}", questions))
    composition = compose(bundle, answers)
    schema = copy.deepcopy(composition.schema)
    # The submission's own answers must be the ones the composition was made for.
    schema["properties"]["answers"] = {"const": answers}
    data = draw(_strategy(composition.key, schema))
    return composition, data


def own_validator(matter):
    """A validator of the matter's original form, resolving library $refs."""
    return Draft202012Validator(matter.own_form(), registry=CATALOG.registry,
                                format_checker=FORMAT_CHECKER)


@pytest.mark.parametrize("code", BUNDLES)
def test_every_slice_is_sound(code):
    bundle = CATALOG.bundles[code]
    general = Draft202012Validator(compose(bundle).schema, format_checker=FORMAT_CHECKER)

    @SETTINGS
    @given(scenario(bundle))
    def check(drawn):
        composition, data = drawn
        assert field_errors(composition, data) == {}
        # The compiled fast path and python-jsonschema agree on what is valid.
        assert validator_for(composition).detailed.is_valid(data)
        # The schema without answers, carrying the scenario logic, agrees.
        assert [e.message for e in general.iter_errors(data)] == []
        for department, cut in composition.plan.slices.items():
            projected = cut.project(data)
            steps = [s for s in composition.plan.steps if s.department == department]
            matters = [CATALOG.matters[s.matter] for s in steps]
            # No slice holds a field its matters did not declare, nor the answers.
            declared = {key for m in matters for key in m.form["properties"]}
            assert "answers" not in projected
            for key, value in projected.items():
                if key == "matters":
                    assert set(value) <= {m.code for m in matters}
                    for owner, fields in value.items():
                        assert set(fields) <= set(CATALOG.matters[owner].form["properties"])
                else:
                    assert key in declared, (department, key)
            # Each matter's part of the slice validates against the matter's own form.
            for matter in matters:
                own = composition.matter_view(projected, matter.code)
                # A value another matter yields (the new company's credit code) arrives
                # with that matter's approval: only its absence may be reported now.
                later = set(composition.plan.step(matter.code).receives)
                errors = [e.message for e in own_validator(matter).iter_errors(own)
                          if not (e.validator == "required" and isinstance(e.instance, dict)
                                  and set(e.validator_value) - set(e.instance) <= later)]
                assert errors == [], (matter.code, errors)

    check()


WRONG = {"string": 12345, "number": "many", "integer": "many", "boolean": "yes",
         "array": "not a list", "object": "not an object"}


@pytest.mark.parametrize("code", BUNDLES)
def test_an_invalid_field_is_blamed_on_that_field_and_its_matters(code):
    bundle = CATALOG.bundles[code]

    @SETTINGS
    @given(scenario(bundle), st.data())
    def check(drawn, pick):
        composition, data = drawn
        fields = [f for section in composition.layout["sections"] for f in section["fields"]]
        target = pick.draw(st.sampled_from(fields))
        kind = {"group": "object", "checkboxes": "array", "number": "number"}.get(
            target["widget"], "boolean" if target.get("options") == [] else None)
        broken = copy.deepcopy(data)
        holder, key = broken, target["path"]
        if key.startswith("matters."):
            _, matter, key = key.split(".", 2)
            holder = broken.setdefault("matters", {}).setdefault(matter, {})
        value = WRONG.get(kind or "string")
        if isinstance(holder.get(key), str) or kind is None:
            value = 12345
        holder[key] = value

        errors = field_errors(composition, broken)

        assert target["path"] in errors, (target["path"], errors)
        blamed = errors[target["path"]][0]
        assert set(blamed.matters) == set(target["needed_by"])
        assert set(errors) == {target["path"]}

    check()
