"""Fees computed from what the applicant enters: the formula grammar, its refusals, and
the amounts computed from a matter's own values."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from onething.catalog.fees import (
    FORMULA_MAX_LENGTH,
    Amount,
    FormulaError,
    computed_fees,
    parse_formula,
    yuan_text,
)
from onething.composer.compose import compose
from onething.publishing.check import load_catalog

SEA_FEE = "sea_area_hectares * sea_use_term_years * 7500"


# --- the grammar -------------------------------------------------------------------------------


def test_a_formula_computes_in_decimals_rounded_to_the_fen():
    formula = parse_formula(SEA_FEE)
    assert formula.fields == ("sea_area_hectares", "sea_use_term_years")
    # 12.3456 × 50 × 7500 exactly, not the float nearest to it.
    assert formula.evaluate({"sea_area_hectares": 12.3456, "sea_use_term_years": 50}) == \
        Amount(Decimal("4629600.00"))
    assert parse_formula("a * 0.1").evaluate({"a": 3}).yuan == Decimal("0.30")
    # Half a fen rounds up (ROUND_HALF_UP), as a bill does.
    assert parse_formula("0.005").evaluate({}).yuan == Decimal("0.01")
    assert parse_formula("a / 3").evaluate({"a": 2}).yuan == Decimal("0.67")
    assert parse_formula("-a * 0").evaluate({"a": 5}).yuan == Decimal("0.00")
    assert str(parse_formula("-a * 0").evaluate({"a": 5}).yuan) == "0.00"


def test_min_max_round_and_parentheses():
    values = {"a": 12351, "b": 4}
    assert parse_formula("min(a, 10000, b * 1000)").evaluate(values).yuan == Decimal("4000.00")
    assert parse_formula("max(a, 20000)").evaluate(values).yuan == Decimal("20000.00")
    assert parse_formula("round(a / 7)").evaluate(values).yuan == Decimal("1764.00")
    assert parse_formula("round(a / 7, 1)").evaluate(values).yuan == Decimal("1764.40")
    assert parse_formula("round(a, -2)").evaluate(values).yuan == Decimal("12400.00")
    assert parse_formula("(a - 351) * (b + 1) / 2").evaluate(values).yuan == Decimal("30000.00")


def test_a_value_not_entered_leaves_the_amount_unknown_not_zero():
    formula = parse_formula(SEA_FEE)
    assert formula.evaluate({"sea_area_hectares": 2}) == Amount(None, ("sea_use_term_years",))
    assert formula.evaluate({}).missing == ("sea_area_hectares", "sea_use_term_years")
    # What is not a number yet (typed letters, a box ticked) is not entered either.
    assert formula.evaluate({"sea_area_hectares": "十二", "sea_use_term_years": True}).missing \
        == ("sea_area_hectares", "sea_use_term_years")


def test_a_division_by_zero_or_an_overflow_is_unknown_without_a_crash():
    assert parse_formula("a / b").evaluate({"a": 1, "b": 0}) == Amount(None)
    assert parse_formula("a / b").evaluate({"a": 0, "b": 0}) == Amount(None)
    assert parse_formula("a * a * a").evaluate({"a": 10**20}) == Amount(None)
    assert parse_formula("a").evaluate({"a": 1e300}) == Amount(None)


def test_a_formula_in_words_keeps_the_parentheses_it_needs():
    formula = parse_formula("(a + b) * 2 - (c - d) / (e * f) + max(a, round(b / 3, 2))")
    assert formula.words(str.upper) == \
        "(A + B) × 2 − (C − D) ÷ (E × F) + max(A, round(B ÷ 3, 2))"
    assert parse_formula("a - b + c").words(str) == "a − b + c"
    assert parse_formula("0.75 * a").words(str) == "0.75 × a"


@pytest.mark.parametrize(("formula", "message"), [
    ("__import__('os')", "only min, max and round may be called, not '__import__'"),
    ("__import__('os').system('true')", "only min, max and round may be called"),
    ("a.__class__", "attribute access ('.') is not allowed"),
    ("().__class__.__bases__", "attribute access ('.') is not allowed"),
    ("9**9**9", "'**' is not allowed"),
    ("a % 2", "'%' is not allowed"),
    ("a // 2", "'//' is not allowed"),
    ("'a' * 3", "not 'a'"),
    ("True * 3", "not True"),
    ("1e9999", "write numbers in plain digits"),
    ("1_000", "write numbers in plain digits"),
    ("a if b else c", "'if … else' is not allowed"),
    ("a[0]", "indexing ('[…]') is not allowed"),
    ("a < b", "a comparison is not allowed"),
    ("lambda: 1", "lambda is not allowed"),
    ("[x for x in a]", "a comprehension is not allowed"),
    ("min", "'min' is a function"),
    ("min(a)", "min() takes two values or more"),
    ("max(a, b, key=c)", "max() takes no named arguments"),
    ("round(a, b)", "round()'s decimals are a whole number from -8 to 8"),
    ("round(a, 99)", "round()'s decimals are a whole number from -8 to 8"),
    ("a * (2", "not a formula: '(' was never closed"),
    ("a; b", "not a formula"),
    ("x" * 100_000, f"a formula is at most {FORMULA_MAX_LENGTH} characters, not 100000"),
    ("(" * 240 + "a" + ")" * 240, "not a formula: too many nested parentheses"),
    ("-(" * 60 + "a" + ")" * 60, "a formula nests at most 50 levels deep"),
    ("-" * 400 + "a", "a formula has at most 200 parts"),
    ("+".join(["a"] * 200), "a formula has at most 200 parts"),
    (7500, "a formula is a string"),
])
def test_a_hostile_or_broken_formula_is_refused_with_a_clear_message(formula, message):
    with pytest.raises(FormulaError) as refused:
        parse_formula(formula)
    assert message in str(refused.value)
    # The message quotes at most a little of what was written.
    assert len(str(refused.value)) < 200


def test_amounts_read_as_on_a_bill():
    assert yuan_text(Decimal("12345.6")) == "12,345.60"
    assert yuan_text(Decimal("4629600")) == "4,629,600.00"


# --- the catalog -------------------------------------------------------------------------------


def test_the_sea_area_use_fee_is_computed_from_area_and_years(demo_catalog):
    composition = compose(demo_catalog.bundles["sea-area-rights"])
    data = {"sea_area_hectares": 12.3456, "sea_use_term_years": 50}
    approval = demo_catalog.matters["sea-area-use-approval"]
    [fee] = computed_fees(approval, composition.matter_values(data, approval.code))
    assert fee.amount.yuan == Decimal("4629600.00")
    # The registry's fees are fixed texts: nothing to compute.
    registration = demo_catalog.matters["sea-area-first-registration"]
    assert computed_fees(registration, composition.matter_values(data, registration.code)) == []


def test_a_formula_computes_in_the_unit_its_matter_counts_in(demo_root):
    """The registry counts the area in ㎡: its formula reads the slice's converted value."""
    path = demo_root / "catalog" / "matters" / "sea-area-first-registration.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["fee"]["items"][0]["amount"] = "round(sea_area_hectares * 0.01, 2)"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    catalog = load_catalog(demo_root)
    composition = compose(catalog.bundles["sea-area-rights"])
    registration = catalog.matters["sea-area-first-registration"]
    values = composition.matter_values({"sea_area_hectares": 12.3456}, registration.code)
    assert values == {"sea_area_hectares": 123456}
    [fee] = computed_fees(registration, values)
    assert fee.amount.yuan == Decimal("1234.56")
