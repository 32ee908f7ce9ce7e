"""Typed values folded before they are checked: 全角, a lower-case x, spaces, +86."""

from __future__ import annotations

import pytest

from onething.cases.forms import parse_field
from onething.catalog.formats import is_resident_id, is_uscc
from onething.catalog.typed import fold, half_width
from onething.composer.layout import input_kind

ID = "11010519491231002X"
USCC = "91370202MA3C00011L"


@pytest.mark.parametrize(("typed", "folded"), [
    ("１１０１０５１９４９１２３１００２Ｘ", ID),  # full-width digits and letter
    ("11010519491231002x", ID),                   # lower-case check character
    ("  11010519491231002X　", ID),               # spaces around, an ideographic one too
    ("110105 19491231 002X", ID),                 # grouped as read aloud
    ("110105-19491231-002x", ID),
])
def test_an_id_number_is_folded_to_the_spelling_on_the_card(typed, folded):
    assert fold("resident-id", typed) == folded
    assert is_resident_id(fold("resident-id", typed))


@pytest.mark.parametrize("typed", [
    "1101051949123100",        # too short: nothing is made up
    "11010519491231002Y",      # Y is no check character
    "110105194912310021",      # the wrong check digit stays wrong
    "11010519491231002Ｘ1",    # one character too many
])
def test_a_wrong_id_number_stays_wrong(typed):
    assert not is_resident_id(fold("resident-id", typed))


@pytest.mark.parametrize(("typed", "folded"), [
    ("91370202ma3c00011l", USCC),
    ("９１３７０２０２ＭＡ３Ｃ０００１１Ｌ", USCC),
    ("9137 0202 MA3C 0001 1L", USCC),
    (" 91370202-MA3C0001-1L ", USCC),
])
def test_a_credit_code_is_folded_to_capitals_without_spaces(typed, folded):
    assert fold("uscc", typed) == folded
    assert is_uscc(fold("uscc", typed))


@pytest.mark.parametrize("typed", [
    "91370202MA3C0001IL",  # I is not in the code's alphabet: upper-casing does not help
    "91370202MA3C00011",   # one character short
    "91370202MA3C00011M",  # the wrong check character
])
def test_a_wrong_credit_code_stays_wrong(typed):
    assert not is_uscc(fold("uscc", typed))


@pytest.mark.parametrize(("typed", "folded"), [
    ("+86 138 0013 8000", "13800138000"),
    ("0086-13800138000", "13800138000"),
    ("(+86)138-0013-8000", "13800138000"),
    ("＋８６　１３８００１３８０００", "13800138000"),
    (" 13800138000 ", "13800138000"),
    ("138—0013—8000", "13800138000"),
])
def test_a_mobile_number_loses_its_country_code_and_separators(typed, folded):
    assert fold("mobile", typed) == folded


@pytest.mark.parametrize(("typed", "kept"), [
    ("+8612345", "+8612345"),            # +86 is taken off an 11-digit number only
    ("+1 202 555 0100", "+12025550100"),  # another country's: still refused by its rule
    ("8613800138000", "8613800138000"),  # 86 without + or 00 may be part of the number
    ("0532-8287 0119", "053282870119"),  # a landline is no mobile: its rule refuses it
])
def test_a_mobile_number_that_is_not_one_is_not_made_one(typed, kept):
    assert fold("mobile", typed) == kept


def test_free_text_is_trimmed_and_keeps_its_chinese_punctuation():
    assert fold(None, "  香港中路１０号（Ａ座），二楼　") == "香港中路10号（A座），二楼"
    assert half_width("ＡＢ，（）", punctuation=False) == "AB，（）"
    assert half_width("ＡＢ，（）") == "AB,()"


def test_the_layout_says_which_fields_are_folded_how():
    assert input_kind({"format": "cn-resident-id"}) == "resident-id"
    assert input_kind({"format": "cn-uscc"}) == "uscc"
    assert input_kind({"type": "string", "pattern": "^1[3-9][0-9]{9}$"}) == "mobile"
    assert input_kind({"type": "string"}) is None


def test_the_blur_check_and_the_submit_read_one_folded_value():
    # Both go through parse_field: what the check accepts is what is saved.
    entry = {"path": "id", "widget": "id-number", "type": "string", "input": "resident-id"}
    assert parse_field(entry, {"id": " 11010519491231002x "}) == ID
    number = {"path": "area", "widget": "number", "type": "number", "unit": "m2"}
    assert parse_field(number, {"area": "１２０"}) == 120  # the number path, as before
    assert parse_field(number, {"area": "　"}) is None
