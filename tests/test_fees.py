"""Fees computed from what the applicant enters: the formula grammar, its refusals, and the
amounts on the guide, the review page and the department's task."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from sqlmodel import Session, select

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
from onething.storage.models import Task
from test_admin import add_account
from test_inbox import staff
from test_web import submit, upload_everything

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


# --- the pages ---------------------------------------------------------------------------------


def test_the_guide_writes_the_formula_in_words_beside_the_standard(client):
    words = "Sea area applied for (hectares) × Term of sea use (years) × 7500 yuan"
    for code in ("sea-area-use-approval", "sea-area-rights"):
        page = client.get(f"/g/{code}?lang=en").text
        fees = re.search(r"<dt>Fee</dt>(.*?)</dd>", page, re.S).group(1)
        assert "The amount shown online is an estimate" in fees
        assert words in fees, fees
    # A fee without a formula shows its standard alone.
    restaurant = client.get("/g/open-restaurant?lang=en").text
    assert "× 7500" not in restaurant


def test_a_formula_over_a_converted_quantity_names_the_unit_it_computes_in(app, demo_catalog):
    from onething.cases.fees import fee_formula_text

    matter = demo_catalog.matters["sea-area-first-registration"]
    with app.test_request_context("/?lang=en"):
        assert fee_formula_text(matter, {"amount": "sea_area_hectares * 2"}) == \
            "Sea area applied for (hectares), in m² × 2 yuan"
        assert fee_formula_text(matter, {"standard": "550"}) is None


SEA_FORM = {
    "entity_name": "威海海风港务有限公司", "entity_uscc": "91350100M000100Y43",
    "legal_representative.name": "王海风", "legal_representative.id_number": "11010519491231002X",
    "legal_representative.mobile": "13805320000",
    "sea_area_name": "双岛湾3号泊位工程", "sea_area_hectares": "12.3456",
    "sea_use_purpose": "transport", "sea_use_term_years": "50",
    "contact_name": "李青", "contact_mobile": "13905321111",
    # Shared with the registration's form since the sea-area data follows the published
    # application forms (library fields): asked once, at the top level.
    "sea_use_method": "permeable_structure",
    "sea_area_location": "威海市环翠区双岛湾东侧海域",
    "boundary_coordinates": "1,37°30′00″N,122°00′00″E",
    "address.division_code": "371002", "address.detail": "环翠区海滨北路88号",
    "postal_code": "264200",
    "matters.sea-area-use-approval.project_investment": "5000",
    "matters.sea-area-use-approval.project_nature": "commercial",
    "matters.sea-area-use-approval.sea_use_fee_payment": "lump_sum",
}


def start_sea_use(client) -> str:
    started = client.post("/b/sea-area-use-approval", data={})
    assert started.status_code == 302, started.text[:500]
    return started.headers["Location"].removesuffix("/form")


def test_the_review_shows_each_fee_with_its_amount_and_a_total_per_department(client):
    draft = start_sea_use(client)
    # Saved without the term: the amount waits for it, it is not zero.
    partial = {key: value for key, value in SEA_FORM.items() if key != "sea_use_term_years"}
    assert client.post(f"{draft}/form", data=partial).status_code == 422
    review = client.get(f"{draft}/review?lang=en").text
    fees = re.search(r'<dl class="review fees" id="fees-wh-ocean">(.*?)</dl>', review, re.S)
    assert fees is not None, review
    assert "computed once Term of sea use (years) is entered" in fees.group(1)
    assert "0.00 yuan" in fees.group(1) and "not counting the fees still to be computed" in \
        fees.group(1)

    filled = client.post(f"{draft}/form", data=SEA_FORM)
    assert filled.status_code == 302, re.findall(r'class="error">([^<]*)', filled.text)
    review = client.get(f"{draft}/review?lang=en").text
    fees = re.search(r'<dl class="review fees" id="fees-wh-ocean">(.*?)</dl>', review, re.S)
    assert "Sea-area use fee</dt><dd>4,629,600.00 yuan</dd>" in fees.group(1)
    assert "<dt>Total of the fees computed here</dt>" in fees.group(1)
    assert "<strong>4,629,600.00 yuan</strong>" in fees.group(1)
    assert "still to be computed" not in fees.group(1)


def test_a_service_without_computed_fees_shows_no_fees_on_the_review(client):
    started = client.post("/b/outdoor-signboard", data={})
    draft = started.headers["Location"].removesuffix("/form")
    assert '<dl class="review fees"' not in client.get(f"{draft}/review?lang=en").text


def test_the_department_sees_the_amount_due_on_its_task(app, client):
    draft = start_sea_use(client)
    assert client.post(f"{draft}/form", data=SEA_FORM).status_code == 302
    upload_everything(client, draft)
    submit(client, draft)
    with Session(app.extensions["onething.engine"]) as session:
        [task] = session.exec(select(Task)).all()
    assert task.department_code == "wh-ocean"
    add_account(app, "staff-wh-ocean", "department_staff", "wh-ocean")
    page = staff(app, "wh-ocean").get(f"/inbox/tasks/{task.id}?lang=en").text
    fees = re.search(r'<dl class="review" id="slice-fees">(.*?)</dl>', page, re.S).group(1)
    assert "Sea-area use fee</dt><dd>4,629,600.00 yuan" in fees
    assert "Sea area applied for (hectares) × Term of sea use (years) × 7500 yuan" in fees
