"""`onething check` refuses broken definitions whole, naming file, pointer and matters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from onething.catalog.problems import DefinitionError
from onething.cli import main
from onething.publishing.check import load_catalog

from conftest import apply_edits

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
