"""`onething check` refuses broken definitions whole, naming file, pointer and matters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onething.catalog.loader import read_documents, read_meta
from onething.catalog.problems import DefinitionError
from onething.catalog.text import standardize_schema
from onething.cli import main
from onething.composer.compose import compose
from onething.publishing import check as checking
from onething.publishing.check import load_catalog

from conftest import SCHEMAS, apply_edits

BROKEN = sorted((Path(__file__).parent / "data" / "broken").glob("*.json"))


def test_mini_catalog_is_clean(mini_root):
    result = CliRunner().invoke(main, ["check", "--schemas", str(mini_root)])
    assert result.exit_code == 0, result.output
    assert "OK (3 departments" in result.output


@pytest.mark.parametrize("case", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_definition_is_refused_with_file_and_pointer(case, mini_root):
    spec = json.loads(case.read_text(encoding="utf-8"))
    apply_edits(mini_root, spec["edits"])

    with pytest.raises(DefinitionError) as caught:
        load_catalog(mini_root)
    problems = caught.value.problems
    for expected in spec["expect"]:
        matching = [
            p for p in problems
            if p.file == expected["file"] and p.pointer == expected["pointer"]
            and expected["message"] in p.message
        ]
        assert matching, f"{expected} not among:\n" + "\n".join(map(str, problems))
        if "matters" in expected:
            assert set(matching[0].matters) == set(expected["matters"])

    result = CliRunner().invoke(main, ["check", "--schemas", str(mini_root)])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for expected in spec["expect"]:
        assert f"{expected['file']}#{expected['pointer']}:" in result.output


@pytest.mark.parametrize("case", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_definition_never_produces_partial_output(case, mini_root):
    apply_edits(mini_root, json.loads(case.read_text(encoding="utf-8"))["edits"])
    out = mini_root.parent / "generated"

    result = CliRunner().invoke(main, ["build", "--schemas", str(mini_root), "--out", str(out)])

    assert result.exit_code == 2
    assert not out.exists()


def test_every_problem_is_reported_not_just_the_first(mini_root):
    cases = ["wrong-type", "unknown-department", "unasked-question"]
    specs = [json.loads((BROKEN[0].parent / f"{name}.json").read_text()) for name in cases]
    for spec in specs:
        apply_edits(mini_root, spec["edits"])

    with pytest.raises(DefinitionError) as caught:
        load_catalog(mini_root)

    reported = {(p.file, p.pointer) for p in caught.value.problems}
    for spec in specs:
        for expected in spec["expect"]:
            assert (expected["file"], expected["pointer"]) in reported


def test_a_pattern_and_a_wrong_reference_in_one_definition_are_reported_at_once(mini_root):
    # Publishing from the console: one attempt lists them all, not one kind per attempt.
    for case in ("pattern-with-a-lookahead", "impossible-bounds"):
        apply_edits(mini_root, json.loads((BROKEN[0].parent / f"{case}.json").read_text())["edits"])
    alpha = "catalog/matters/alpha.json"
    apply_edits(mini_root, [
        {"file": alpha, "pointer": "/department", "value": "nowhere-office"},
        {"file": alpha, "pointer": "/time_limit/promised_days", "value": 25}])

    with pytest.raises(DefinitionError) as caught:
        load_catalog(mini_root)

    reported = {p.pointer for p in caught.value.problems
                if p.file == "schemas/catalog/matters/alpha.json"}
    assert {"/form/properties/note/pattern", "/form/properties/seats/minimum",
            "/department", "/time_limit/promised_days"} <= reported


def test_a_broken_build_keeps_the_previous_output(mini_root):
    out = mini_root.parent / "generated"
    runner = CliRunner()
    build = ["build", "--schemas", str(mini_root), "--out", str(out)]
    assert runner.invoke(main, build).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    apply_edits(mini_root, [{"file": "catalog/matters/alpha.json", "raw": "{"}])
    result = runner.invoke(main, ["build", "--schemas", str(mini_root), "--out", str(out)])

    assert result.exit_code == 2
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_folder_that_is_not_a_schemas_folder_is_said_once(tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(DefinitionError) as refused:
        load_catalog(tmp_path)
    assert [p.message for p in refused.value.problems] == [
        "not a schemas folder: no meta/, fields/ or catalog/ in it"]


def test_a_schemas_folder_without_meta_is_told_so(mini_root):
    import shutil

    shutil.rmtree(mini_root / "meta")
    with pytest.raises(DefinitionError) as refused:
        load_catalog(mini_root)
    assert [p.message for p in refused.value.problems] == ["not a schemas folder: meta/ is missing"]


# --- the fast path: whatever jsonschema-rs accepts, python-jsonschema accepts too ---------------

METAS = read_meta(SCHEMAS)
DOCUMENTS = read_documents(SCHEMAS)[0]
# Values a careless or hostile author might put anywhere: wrong types, control characters,
# the spaces Python and ECMAScript regexes disagree on, bad regexes, huge numbers.
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=12),
    st.sampled_from(["", "X", "https://a\x1cb", "https://a\x85b", "https://a\ufeffb",
                     "attachments/a b.pdf", "(", "(?<n>a)", "[z-a]", "a{2,1}", "code\n",
                     "0532-8287", "９"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                          max_size=2),
)


def _paths(node, prefix=()):
    """Every (path, value) inside a JSON document."""
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _replaced(node, path, value):
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replaced(node[path[0]], path[1:], value)
    return copy


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_definition_the_fast_path_accepts_has_no_problem_python_jsonschema_would_find(data):
    document = data.draw(st.sampled_from(DOCUMENTS))
    path, _ = data.draw(st.sampled_from(list(_paths(document.data))))
    mutated = _replaced(document.data, path, data.draw(ODD_VALUES))
    fast = checking._fast_meta_validators(METAS)[document.kind]
    if checking._fast_valid(fast, mutated):
        assert list(checking.meta_validators(METAS)[document.kind].iter_errors(mutated)) == []


FORMS = [standardize_schema(part) for document in DOCUMENTS
         for _, part in checking.schema_parts(document) if isinstance(part, dict)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_form_the_fast_path_accepts_is_a_valid_json_schema_for_python_jsonschema(data):
    form = data.draw(st.sampled_from(FORMS))
    path, _ = data.draw(st.sampled_from(list(_paths(form))))
    mutated = _replaced(form, path, data.draw(ODD_VALUES))
    if checking._fast_valid(checking._fast_schema_checker(), mutated) and \
            checking._patterns_compile(mutated):
        assert list(checking._SCHEMA_CHECKER.iter_errors(mutated)) == []


@pytest.mark.parametrize("pattern", ["(", "(?<name>a)", "[z-a]", "a{2,1}", "(?P<x>a)(?P<x>b)"])
def test_a_pattern_python_cannot_compile_is_reported_though_the_fast_path_might_take_it(
        pattern, mini_root):
    apply_edits(mini_root, [{"file": "catalog/matters/alpha.json",
                             "pointer": "/form/properties/alpha_note",
                             "value": {"type": "string", "title": "注", "pattern": pattern}}])
    with pytest.raises(DefinitionError) as caught:
        load_catalog(mini_root)
    assert any(p.pointer.startswith("/form/properties/alpha_note/pattern")
               and "not a valid JSON Schema" in p.message for p in caught.value.problems)


@pytest.mark.parametrize("href", ["https://a.example/f.pdf", "attachments/f.pdf", "https://a\x1cb",
                                  "https://a\x85b", "https://a\ufeffb", "attachments/a b.pdf",
                                  "attachments/a\u3000b.pdf", "ftp://a/b"])
def test_the_fast_path_and_python_jsonschema_agree_on_an_attachments_address(href):
    # Python's \s and ECMAScript's differ (\x1c-\x1f, \x85, \ufeff): the meta-schema
    # names the ones Python alone counts, so the fast path never takes what Python refuses.
    matter = next(d for d in DOCUMENTS if d.kind == "matter").data
    material = {**matter["materials"][0], "blank_form": {"href": href}}
    data = {**matter, "materials": [material, *matter["materials"][1:]]}
    fast = checking._fast_valid(checking._fast_meta_validators(METAS)["matter"], data)
    python = not list(checking.meta_validators(METAS)["matter"].iter_errors(data))
    assert fast <= python



# Texts as people and programs write them: no NUL, no half of a surrogate pair (refused).
SAFE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False) | SAFE_TEXT,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(SAFE_TEXT.filter(lambda k: len(k) <= 5), children, max_size=4),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(value=JSON_VALUES, indent=st.sampled_from([None, 2]))
def test_definitions_are_read_as_the_standard_library_reads_them(value, indent):
    from onething.catalog.loader import parse_json

    text = json.dumps(value, ensure_ascii=indent is None, indent=indent)
    assert json.dumps(parse_json(text)) == json.dumps(json.loads(text))


@pytest.mark.parametrize("text", ["[" + "9" * 50 + "]", '{"x": -0.0}', '"\\ud83d\\ude00"',
                                  '"\\\\u0000"'])
def test_json_at_the_edges_is_read_as_the_standard_library_reads_it(text):
    from onething.catalog.loader import parse_json

    assert json.dumps(parse_json(text)) == json.dumps(json.loads(text))


@pytest.mark.parametrize(("text", "pointer", "message"), [
    ('{"a": 1, "b": {"c": 2, "c": 3}}', "/b/c", "the key 'c' is given twice"),
    ('[{"x/y": {"k": 1, "k": 1}}]', "/0/x~1y/k", "the key 'k' is given twice"),
    ('{"name": ["ok", "\\ud800"]}', "/name/1", "half of a surrogate pair"),
    ('{"a\\u0000": 1}', "/a\x00", "a NUL character"),
])
def test_json_no_store_can_keep_is_refused_with_its_pointer(text, pointer, message):
    from onething.catalog.loader import parse_json

    with pytest.raises(ValueError, match=message) as refused:
        parse_json(text)
    assert refused.value.pointer == pointer


@pytest.mark.parametrize("text", ["[NaN]", "[-Infinity]", "[1e400]", "[" + "9" * 5000 + "]",
                                  "[" * 65 + "]" * 65, "[" * 5000 + "]" * 5000])
def test_json_no_definition_means_is_refused(text):
    from onething.catalog.loader import parse_json

    with pytest.raises((ValueError, RecursionError)):
        parse_json(text)


AREA = {"type": "number", "title": {"zh-Hans": "项目用地面积（平方米）", "en": "Site area (㎡)"}}


@pytest.mark.parametrize(("beta_when", "gamma_when", "conflict"), [
    # An EIA report form from 1,000 ㎡ up, a filing below: they never apply together.
    ({"properties": {"area": {"exclusiveMaximum": 1000}}, "required": ["area"]},
     {"properties": {"area": {"minimum": 1000}}, "required": ["area"]}, False),
    # Overlapping thresholds: from 900 to 1,000 ㎡ both apply, and no area fits both.
    ({"properties": {"area": {"exclusiveMaximum": 1000}}, "required": ["area"]},
     {"properties": {"area": {"minimum": 900}}, "required": ["area"]}, True),
    ({"properties": {"wants_sign": {"const": False}}, "required": ["wants_sign"]},
     {"properties": {"wants_sign": {"const": True}}, "required": ["wants_sign"]}, False),
    (None, {"properties": {"wants_sign": {"const": True}}, "required": ["wants_sign"]}, True),
])
def test_a_conflict_counts_only_between_matters_that_can_apply_together(
        mini_root, beta_when, gamma_when, conflict):
    edits = [{"file": "catalog/bundles/mini-bundle.json", "pointer": "/questions/properties/area",
              "value": AREA},
             {"file": "catalog/matters/gamma.json",
              "pointer": "/form/properties/premises_area/minimum", "value": 1000},
             {"file": "catalog/bundles/mini-bundle.json", "pointer": "/items/2/when",
              "value": gamma_when}]
    if beta_when is not None:
        edits.append({"file": "catalog/bundles/mini-bundle.json", "pointer": "/items/1/when",
                      "value": beta_when})
    apply_edits(mini_root, edits)
    if conflict:
        with pytest.raises(DefinitionError) as refused:
            load_catalog(mini_root)
        assert {(p.file, p.message.split(" (")[0]) for p in refused.value.problems} == {
            (f"schemas/catalog/matters/{m}.json",
             "field 'premises_area': minimum 1000 is not below maximum 500")
            for m in ("beta", "gamma")}
        return
    catalog = load_catalog(mini_root)
    bundle = catalog.bundle("mini-bundle")
    answers = {"wants_sign": True, "area": 2000} if "area" in gamma_when["properties"] else {
        "wants_sign": True}
    big = compose(bundle, answers)
    assert "gamma" in [m.code for m in big.matters] and "beta" not in [m.code for m in big.matters]
    assert big.schema["properties"]["premises_area"]["minimum"] == 1000
    small = compose(bundle, {**answers, "wants_sign": False, "area": 10})
    assert "beta" in [m.code for m in small.matters]
    assert small.schema["properties"]["premises_area"]["maximum"] == 500


def test_a_question_that_is_any_schema_is_checked_and_one_offering_an_answer_twice_refused(
        mini_root):
    # The meta-schema takes any schema as a question, true included: the check of
    # repeated answers reads only a list of choices.
    edits = [{"file": "catalog/bundles/mini-bundle.json", "pointer": "/questions/properties/any",
              "value": True},
             {"file": "catalog/bundles/mini-bundle.json",
              "pointer": "/questions/properties/a~1b", "value": {
                  "type": "string", "oneOf": [{"const": "x", "title": "甲"},
                                              {"const": "x", "title": "乙"}]}}]
    apply_edits(mini_root, edits)
    with pytest.raises(DefinitionError) as refused:
        load_catalog(mini_root)
    assert [(p.file, p.pointer, p.message) for p in refused.value.problems] == [
        ("schemas/catalog/bundles/mini-bundle.json", "/questions/properties/a~1b/oneOf",
         "the question 'a/b' offers the answer \"x\" more than once: whoever chooses it "
         "would be refused")]
