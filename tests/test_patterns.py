"""Patterns run in linear time: a definition's catastrophic regex cannot stall a worker.

With a backtracking engine, ^(a+)+$ takes days on the 100 characters below; these tests
finish at once only because both validators run patterns on linear-time engines (RE2 on
python-jsonschema's side, the regex crate on jsonschema-rs's).
"""

from __future__ import annotations

import pytest

from onething.catalog.patterns import PatternError, compiled, matches, translate
from onething.composer.compose import compose
from onething.composer.validation import build_validator, field_errors
from onething.publishing.check import load_catalog

from conftest import apply_edits

CATASTROPHIC = ["^(a+)+$", "^(a|a)*$", "^(a|aa)+$", "^(.*a){12}$", "^([a-zA-Z]+)*$"]
HOSTILE = "a" * 100 + "!"


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_catastrophic_pattern_is_answered_at_once(pattern):
    assert matches(pattern, HOSTILE) is False


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_field_with_a_catastrophic_pattern_is_checked_by_both_validators(pattern, mini_root):
    apply_edits(mini_root, [
        {"file": "catalog/matters/alpha.json", "pointer": "/form/properties/note/pattern",
         "value": pattern},
        {"file": "catalog/matters/alpha.json", "pointer": "/form/properties/note/maxLength",
         "value": 200}])
    catalog = load_catalog(mini_root)  # RE2 runs it in linear time: check accepts it
    composition = compose(catalog.bundles["mini-bundle"], {"wants_sign": False})
    data = {"matters": {"alpha": {"note": HOSTILE}}}
    errors = field_errors(composition, data)
    assert [e.keyword for e in errors["matters.alpha.note"]] == ["pattern"]
    compiled_form = build_validator(composition.schema)
    assert compiled_form.fast is not None and not compiled_form.fast.is_valid(data)


def test_ecma_escapes_read_as_in_javascript():
    assert translate(r"^[\u4e00-\u9fff]+$") == r"^[\x{4e00}-\x{9fff}]+$"
    assert translate(r"\\u0041") == r"\\u0041"  # an escaped backslash, then "u0041"
    name = r"^[\u3400-\u4dbf\u4e00-\u9fffA-Za-z][\u3400-\u4dbf\u4e00-\u9fff·A-Za-z ]{0,48}$"
    assert matches(name, "王海风") and not matches(name, "3王")


@pytest.mark.parametrize("pattern", ["(?=a)b", "(?!a)b", "(?<=a)b", r"(a)\1", "(unclosed"])
def test_what_cannot_run_in_linear_time_is_refused_saying_so(pattern):
    with pytest.raises(PatternError, match="linear time"):
        compiled(pattern)
