"""Tests for onething.catalog.formats: GB 11643 resident IDs and GB 32100 credit codes."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onething.catalog.formats import (
    FORMAT_CHECKER,
    USCC_ALPHABET,
    is_resident_id,
    is_uscc,
    organization_code_check_char,
    resident_id_check_char,
    uscc_check_char,
)

from strategies import CUSTOM_FORMATS, resident_ids, usccs

ID_ALPHABET = "0123456789X"


def _with_id_check(first17: str) -> str:
    """Complete 17 digits into an 18-character ID with a correct check char."""
    return first17 + resident_id_check_char(first17)


def _with_uscc_checks(first16: str) -> str:
    """Complete 16 characters into a USCC with both check chars correct."""
    first17 = first16 + organization_code_check_char(first16[8:16])
    return first17 + uscc_check_char(first17)


def _substitutions(value: str, alphabet: str, data: st.DataObject) -> tuple[int, str]:
    """Draw a position and a different alphabet character to put there."""
    i = data.draw(st.integers(0, len(value) - 1), label="position")
    ch = data.draw(st.sampled_from([c for c in alphabet if c != value[i]]), label="new char")
    return i, value[:i] + ch + value[i + 1 :]


# --- resident ID: check character ---------------------------------------------


def test_gb11643_standard_example_is_valid():
    assert resident_id_check_char("11010519491231002") == "X"
    assert is_resident_id("11010519491231002X")


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),
        ("11010519900307123", "9"),
        ("32010619881125304", "X"),
        ("44030420200615001", "8"),
        ("31011519851011002", "3"),
    ],
)
def test_resident_id_check_char_known_values(first17, check):
    assert resident_id_check_char(first17) == check


@settings(max_examples=200)
@given(st.text("0123456789", min_size=17, max_size=17))
def test_resident_id_check_char_satisfies_iso7064_mod_11_2(first17):
    # The defining property of MOD 11-2, computed independently of the module:
    # the weighted sum over all 18 positions (weight 2^(18-i)) is 1 mod 11.
    check = resident_id_check_char(first17)
    value = 10 if check == "X" else int(check)
    total = sum(int(d) * 2 ** (17 - i) for i, d in enumerate(first17)) + value
    assert total % 11 == 1


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "1101051949123100",
        "110105194912310020",
        "1101051949123100X",
        "１１０１０５１９４９１２３１００２",
    ],
)
def test_resident_id_check_char_rejects_non_17_digits(bad):
    with pytest.raises(ValueError, match="17 ASCII digits"):
        resident_id_check_char(bad)


# --- resident ID: validation --------------------------------------------------


@settings(max_examples=200)
@given(resident_ids())
def test_generated_resident_ids_are_valid(value):
    assert is_resident_id(value)


@settings(max_examples=200)
@given(resident_ids(), st.data())
def test_any_single_substitution_breaks_a_resident_id(value, data):
    # MOD 11-2 has no zero weight and 11 is prime, so changing one character
    # always changes the sum mod 11; other positions may fail earlier checks.
    i, changed = _substitutions(value, ID_ALPHABET, data)
    assert not is_resident_id(changed), (i, changed)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("11010519491231002", id="17 chars"),
        pytest.param("11010519491231002X0", id="19 chars"),
        pytest.param("", id="empty"),
        pytest.param("11010519491231002x", id="lower-case x"),
        pytest.param("110105194912310021", id="wrong check digit"),
        pytest.param(_with_id_check("11010519990230123"), id="19990230"),
        pytest.param(_with_id_check("11010519991301123"), id="month 13"),
        pytest.param(_with_id_check("11010519990100123"), id="day 00"),
        pytest.param(_with_id_check("11010518991231123"), id="before 1900"),
        pytest.param(_with_id_check("99010519491231002"), id="province 99"),
        pytest.param(_with_id_check("10010519491231002"), id="province 10"),
        pytest.param(_with_id_check("72010519491231002"), id="province 72"),
        pytest.param(_with_id_check("01010519491231002"), id="leading zero"),
        pytest.param("11010519491231002X\n", id="trailing newline"),
        pytest.param(" 11010519491231002X", id="leading space"),
        pytest.param("１１０１０５１９４９１２３１００２Ｘ", id="full-width"),
        pytest.param("1101051949123100XX", id="X before the end"),
    ],
)
def test_invalid_resident_ids(value):
    assert not is_resident_id(value)


def test_resident_id_birth_date_in_the_future_is_invalid():
    # Two days after today in UTC is after today in China (UTC+8) too.
    future = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    assert not is_resident_id(_with_id_check(f"110105{future:%Y%m%d}123"))


def test_resident_id_born_on_the_first_valid_day():
    assert is_resident_id(_with_id_check("11010519000101123"))


@pytest.mark.parametrize("value", [None, 11010519491231002, b"11010519491231002X"])
def test_is_resident_id_rejects_non_strings(value):
    assert not is_resident_id(value)


# --- organisation code and USCC: check characters ---------------------------


def test_published_uscc_example_is_valid():
    assert organization_code_check_char("M000100Y") == "4"
    assert uscc_check_char("91350100M000100Y4") == "3"
    assert is_uscc("91350100M000100Y43")


@settings(max_examples=200)
@given(st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=8, max_size=8))
def test_organization_code_check_char_satisfies_gb11714(body):
    # GB 11714: with X as 10 and 0 as 11, the check value c makes
    # sum + c divisible by 11, and c lies in 1..11.
    check = organization_code_check_char(body)
    value = {"X": 10, "0": 11}.get(check) or int(check)
    weights = [3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(ch, 36) * w for ch, w in zip(body, weights, strict=True)) + value
    assert total % 11 == 0


@settings(max_examples=200)
@given(st.text(USCC_ALPHABET, min_size=17, max_size=17))
def test_uscc_check_char_satisfies_gb32100(first17):
    # GB 32100: with weights 3^i mod 31, the full 18-character sum is 0 mod 31.
    check = uscc_check_char(first17)
    total = sum(USCC_ALPHABET.index(ch) * 3**i for i, ch in enumerate(first17))
    assert (total + USCC_ALPHABET.index(check)) % 31 == 0


@pytest.mark.parametrize(
    "bad", ["", "91350100M000100Y", "91350100M000100Y43", "91350100M000100I4", "91350100m000100Y4"]
)
def test_uscc_check_char_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        uscc_check_char(bad)


@pytest.mark.parametrize("bad", ["", "M000100", "M000100Y4", "m000100Y", "M000100-"])
def test_organization_code_check_char_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        organization_code_check_char(bad)


# --- USCC: validation ----------------------------------------------------------


def test_uscc_built_from_a_body_is_valid():
    assert _with_uscc_checks("92330106MA2H7K3Q") == "92330106MA2H7K3Q0H"
    assert is_uscc("92330106MA2H7K3Q0H")


@settings(max_examples=200)
@given(usccs())
def test_generated_usccs_are_valid(value):
    assert is_uscc(value)


@settings(max_examples=200)
@given(usccs(), st.data())
def test_any_single_substitution_breaks_a_uscc(value, data):
    # MOD 31 with weights 3^i: no weight is 0 mod 31 and 31 is prime, so any
    # single change within the alphabet changes the sum mod 31.
    i, changed = _substitutions(value, USCC_ALPHABET, data)
    assert not is_uscc(changed), (i, changed)


@pytest.mark.parametrize("letter", list("IOZSV"))
@pytest.mark.parametrize("position", [1, 8, 12, 17])
def test_uscc_letters_outside_the_alphabet_are_invalid(letter, position):
    value = "91350100M000100Y43"
    assert not is_uscc(value[:position] + letter + value[position + 1 :])


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("91350100M000100Y4", id="17 chars"),
        pytest.param("91350100M000100Y430", id="19 chars"),
        pytest.param("91350100M000100Y44", id="wrong check char"),
        pytest.param("91350100m000100y43", id="lower case"),
        pytest.param("91350100M000100Y43\n", id="trailing newline"),
        pytest.param(_with_uscc_checks("B1350100M000100Y"), id="authority B"),
        pytest.param(_with_uscc_checks("01350100M000100Y"), id="authority 0"),
        pytest.param(_with_uscc_checks("9135A100M000100Y"), id="letter in division code"),
        # Both outer checks agree but the organisation code's own check fails.
        pytest.param(
            "91350100M000100Y5" + uscc_check_char("91350100M000100Y5"), id="org code check"
        ),
    ],
)
def test_invalid_usccs(value):
    assert not is_uscc(value)


@pytest.mark.parametrize("value", [None, 91350100, b"91350100M000100Y43"])
def test_is_uscc_rejects_non_strings(value):
    assert not is_uscc(value)


# --- FORMAT_CHECKER ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "value", "valid"),
    [
        ("cn-resident-id", "11010519491231002X", True),
        ("cn-resident-id", "110105194912310021", False),
        ("cn-resident-id", "11010519491231002x", False),
        ("cn-uscc", "91350100M000100Y43", True),
        ("cn-uscc", "91350100M000100Y44", False),
        ("date", "2024-02-29", True),
        ("date", "2023-02-29", False),
        ("email", "service@example.gov.cn", True),
        ("email", "not an address", False),
    ],
)
def test_format_checker_through_a_validator(fmt, value, valid):
    validator = jsonschema.Draft202012Validator(
        {"type": "string", "format": fmt}, format_checker=FORMAT_CHECKER
    )
    assert validator.is_valid(value) is valid


@pytest.mark.parametrize("fmt", ["cn-resident-id", "cn-uscc"])
@pytest.mark.parametrize("value", [12345, None, True, ["11010519491231002X"], {}])
def test_format_ignores_non_strings(fmt, value):
    validator = jsonschema.Draft202012Validator({"format": fmt}, format_checker=FORMAT_CHECKER)
    assert validator.is_valid(value)


def test_format_error_names_the_format():
    validator = jsonschema.Draft202012Validator(
        {"format": "cn-uscc"}, format_checker=FORMAT_CHECKER
    )
    (error,) = validator.iter_errors("91350100M000100Y44")
    assert error.validator == "format"
    assert "cn-uscc" in error.message


def test_formats_do_not_leak_into_jsonschema_defaults():
    assert {"cn-resident-id", "cn-uscc"} <= set(FORMAT_CHECKER.checkers)
    assert not {"cn-resident-id", "cn-uscc"} & set(jsonschema.FormatChecker().checkers)


def test_custom_formats_cover_the_registered_formats():
    assert set(CUSTOM_FORMATS) == {"cn-resident-id", "cn-uscc"}


def test_every_format_a_definition_may_name_is_checked_and_documented():
    from onething.catalog.formats import KNOWN_FORMATS

    assert set(KNOWN_FORMATS) <= set(FORMAT_CHECKER.checkers)
    documented = (Path(__file__).parents[1] / "schemas" / "README.md").read_text()
    listed = re.search(r"`format` must be one the validators\s+know \(([^)]*)\)", documented)[1]
    assert sorted(re.findall(r"`([a-z0-9-]+)`", listed)) == sorted(KNOWN_FORMATS)
