"""A readable diff between two versions of a bundle."""

from __future__ import annotations

import json

from click.testing import CliRunner

from onething.cli import main
from onething.composer.compose import compose
from onething.publishing.check import load_catalog
from onething.publishing.diff import diff_compositions

from conftest import apply_edits

ANSWERS = {"wants_sign": True, "lit_sign": True}


def changed(mini_root, edits):
    before = compose(load_catalog(mini_root).bundles["mini-bundle"], ANSWERS)
    apply_edits(mini_root, edits)
    after = compose(load_catalog(mini_root).bundles["mini-bundle"], ANSWERS)
    return diff_compositions(before, after)


def test_the_same_version_has_no_changes(mini_catalog):
    composition = compose(mini_catalog.bundles["mini-bundle"], ANSWERS)
    assert not diff_compositions(composition, composition)


def test_a_tightened_bound_and_a_new_field(mini_root):
    diff = changed(mini_root, [
        {"file": "catalog/matters/beta.json", "pointer": "/form/properties/premises_area/maximum",
         "value": 300},
        {"file": "catalog/matters/alpha.json", "pointer": "/form/properties/seats",
         "value": {"type": "integer", "title": "座位数"}},
    ])
    by_subject = {(c.area, c.subject, c.kind): c for c in diff.changes}
    assert ("fields", "matters.alpha.seats", "added") in by_subject
    area = by_subject[("fields", "premises_area", "changed")]
    assert "maximum: 500 → 300" in area.details


def test_materials_routing_and_time_limits(mini_root):
    diff = changed(mini_root, [
        {"file": "catalog/matters/beta.json", "pointer": "/materials/0/necessity",
         "value": "required"},
        {"file": "catalog/bundles/mini-bundle.json", "pointer": "/after",
         "value": {"beta": ["alpha"], "gamma": ["beta"]}},
        {"file": "catalog/matters/gamma.json", "pointer": "/time_limit/promised_days",
         "value": 6},
    ])
    subjects = {(c.area, c.subject): c for c in diff.changes}
    assert "waits_for: [\"alpha\"] → [\"beta\"]" in subjects[("routing", "gamma")].details
    assert "promised_days: 4 → 6" in subjects[("time limits", "gamma")].details
    assert "critical_path_days: 6 → 11" in subjects[("time limits", "bundle")].details
    assert set(diff.by_area()) == {"routing", "time limits"}  # floor-plan stays required


def test_counting_the_same_days_another_way_changes_the_time_limit(mini_root):
    diff = changed(mini_root, [{"file": "catalog/matters/gamma.json",
                                "pointer": "/time_limit/counting", "value": "calendar_days"}])
    gamma = next(c for c in diff.changes if (c.area, c.subject) == ("time limits", "gamma"))
    assert gamma.details == ["counting: working_days → calendar_days"]
    # 4 calendar days are about 3 working days: the critical path (alpha, 2, then gamma) too.
    bundle = next(c for c in diff.changes if (c.area, c.subject) == ("time limits", "bundle"))
    assert "critical_path_days: 6 → 5" in bundle.details


def test_another_lead_department_is_a_change_applicants_meet(mini_root):
    import pathlib

    other = next(p.stem for p in sorted(pathlib.Path(mini_root, "catalog/departments").glob(
        "*.json")) if p.stem != "city-office")
    diff = changed(mini_root, [{"file": "catalog/bundles/mini-bundle.json",
                                "pointer": "/lead_department", "value": other}])
    lead = next(c for c in diff.changes if (c.area, c.subject) == ("routing", "bundle"))
    assert lead.facts == [("lead_department", "city-office", other)]


def test_removed_matter_takes_its_fields_materials_and_step(mini_root):
    diff = changed(mini_root, [
        {"file": "catalog/bundles/mini-bundle.json", "pointer": "/items",
         "value": [{"matter": "alpha"}, {"matter": "beta"}]},
        {"file": "catalog/bundles/mini-bundle.json", "pointer": "/after",
         "value": {"beta": ["alpha"]}},
    ])
    removed = {(c.area, c.subject) for c in diff.changes if c.kind == "removed"}
    assert {("fields", "matters.gamma.sign_text"), ("materials", "sign-design"),
            ("routing", "gamma")} <= removed


def test_cli_diff_between_two_folders(mini_root, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(mini_root, old)
    apply_edits(mini_root, [{"file": "catalog/matters/gamma.json",
                             "pointer": "/time_limit/promised_days", "value": 6}])
    result = CliRunner().invoke(main, ["diff", str(old), str(mini_root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["mini-bundle"]["time limits"][0]["subject"] == "bundle"
    text = CliRunner().invoke(main, ["diff", str(old), str(mini_root)]).output
    assert "promised_days: 4 → 6" in text
