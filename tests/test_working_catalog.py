"""The working catalog: seeding, export, checked all-or-nothing import, locking, versions."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from onething.catalog.loader import read_meta
from onething.catalog.problems import DefinitionError
from onething.cli import main
from onething.composer.compose import compose
from onething.publishing.versions import bundle_of, latest_version
from onething.publishing.working_catalog import (
    StaleEdit,
    apply_import,
    documents,
    entries,
    export,
    history,
    import_folder,
    plan_import,
    publish_working,
    rollback,
    save_definition,
    seed,
    version,
    version_diff,
)
from onething.storage.models import BundleVersion, CatalogEntry

from conftest import DATA, SCHEMAS, apply_edits, copy_schemas

METAS = read_meta(SCHEMAS)
BROKEN = sorted((DATA / "broken").glob("*.json"))


def files_of(root: Path) -> dict[str, bytes]:
    """Every file under a folder, by relative path, with its exact bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def seeded(session):
    """The demo catalog seeded into the working catalog and published once."""
    seed(session, SCHEMAS, "schemas/")
    publish_working(session, METAS, "schemas/")
    return session


def test_an_export_gives_back_the_exact_files_of_schemas(seeded, tmp_path):
    written = export(seeded, tmp_path / "out", SCHEMAS)
    assert files_of(tmp_path / "out") == files_of(SCHEMAS)
    assert written == len(files_of(SCHEMAS))


def test_exporting_over_a_folder_removes_definitions_the_catalog_no_longer_has(seeded, tmp_path):
    out = tmp_path / "out"
    export(seeded, out, SCHEMAS)
    (out / "catalog" / "matters" / "stale-matter.json").write_text("{}", encoding="utf-8")
    export(seeded, out, SCHEMAS)
    assert files_of(out) == files_of(SCHEMAS)


def test_a_dry_run_reports_the_change_and_changes_nothing(seeded, tmp_path):
    root = copy_schemas(tmp_path)
    apply_edits(root, [{"file": "catalog/matters/outdoor-signboard.json",
                        "pointer": "/time_limit/promised_days", "value": 3}])
    before = {e.path: (e.text, e.revision) for e in entries(seeded)}
    plan = plan_import(seeded, root, METAS)
    assert not plan.refused
    assert plan.changed == ["catalog/matters/outdoor-signboard.json"]
    assert plan.added == plan.removed == []
    assert "~ catalog/matters/outdoor-signboard.json" in plan.summary()
    assert {e.path: (e.text, e.revision) for e in entries(seeded)} == before


def test_an_import_replaces_the_catalog_and_publishing_makes_the_next_version(seeded, tmp_path):
    root = copy_schemas(tmp_path)
    apply_edits(root, [{"file": "catalog/matters/outdoor-signboard.json",
                        "pointer": "/time_limit/promised_days", "value": 3}])
    apply_import(seeded, plan_import(seeded, root, METAS), "importer")
    entry = next(e for e in entries(seeded, "matter") if e.code == "outdoor-signboard")
    assert entry.revision == 2 and entry.updated_by == "importer"
    published = {v.bundle_code: v.number for v in publish_working(seeded, METAS, "admin")}
    # Only the bundles that use the matter (the 一类事 nesting the restaurant too, and the
    # convenience store's 一业一证), and the matter alone, get a new version.
    assert published == {"open-restaurant": 2, "restaurant-from-fit-out": 2,
                         "convenience-store-licence": 2, "outdoor-signboard": 2}
    assert publish_working(seeded, METAS, "admin") == []


@pytest.mark.parametrize("case", BROKEN, ids=[p.stem for p in BROKEN])
def test_a_broken_import_is_refused_whole_with_its_file_and_pointer(session, tmp_path, case):
    clean = copy_schemas(tmp_path / "clean", DATA / "mini" / "catalog")
    seed(session, clean, "seed")
    before = [(e.path, e.text, e.revision) for e in entries(session)]
    broken = copy_schemas(tmp_path / "broken", DATA / "mini" / "catalog")
    spec = json.loads(case.read_text(encoding="utf-8"))
    # A harmless change in another file too: it must not be imported either.
    apply_edits(broken, [{"file": "catalog/departments/other-office.json", "pointer": "/address",
                          "value": "测试路2号"}, *spec["edits"]])
    plan = plan_import(session, broken, METAS)
    assert plan.refused
    found = {(p.file.replace("broken/", "", 1), p.pointer) for p in plan.problems}
    for expected in spec["expect"]:
        assert (expected["file"], expected["pointer"]) in found
    with pytest.raises(DefinitionError):
        apply_import(session, plan, "importer")
    assert [(e.path, e.text, e.revision) for e in entries(session)] == before


def test_a_zip_imports_like_a_folder_and_one_escaping_its_folder_is_refused(seeded, tmp_path):
    archive = tmp_path / "catalog.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(SCHEMAS.rglob("*.json")):
            out.write(path, "schemas/" + path.relative_to(SCHEMAS).as_posix())
    with import_folder(archive) as root:
        plan = plan_import(seeded, root, METAS)
    assert not plan.refused and not (plan.added or plan.removed or plan.changed)

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as out:
        out.writestr("../outside.json", "{}")
    with pytest.raises(DefinitionError, match="outside"), import_folder(evil):
        pass
    assert not (tmp_path.parent / "outside.json").exists()


def signboard(session) -> tuple[dict, int]:
    entry = next(e for e in entries(session, "matter") if e.code == "outdoor-signboard")
    return json.loads(entry.text), entry.revision


def test_two_administrators_cannot_overwrite_each_other(seeded):
    data, revision = signboard(seeded)
    data["time_limit"]["promised_days"] = 4
    saved = save_definition(seeded, "matter", data, based_on=revision, saved_by="admin-a",
                            metas=METAS)
    assert saved.revision == revision + 1
    data["time_limit"]["promised_days"] = 6  # admin-b still holds the old revision
    with pytest.raises(StaleEdit, match="admin-a") as refused:
        save_definition(seeded, "matter", data, based_on=revision, saved_by="admin-b",
                        metas=METAS)
    assert refused.value.entry.revision == revision + 1
    assert signboard(seeded)[0]["time_limit"]["promised_days"] == 4


def test_a_definition_that_breaks_its_meta_schema_is_not_saved(seeded):
    data, revision = signboard(seeded)
    data["time_limit"]["promised_days"] = "five"
    with pytest.raises(DefinitionError) as refused:
        save_definition(seeded, "matter", data, based_on=revision, saved_by="admin",
                        metas=METAS)
    [problem] = refused.value.problems
    assert problem.file == "schemas/catalog/matters/outdoor-signboard.json"
    assert problem.pointer == "/time_limit/promised_days"
    assert signboard(seeded) == (signboard(seeded)[0], revision)


def test_a_new_bundle_with_a_matters_code_is_refused_before_publishing(seeded):
    # Both would have their guide at /g/<code>.
    data = {"code": "outdoor-signboard", "name": {"zh-Hans": "户外招牌"}, "kind": "one_thing",
            "lead_department": "sn-urban-mgmt", "items": [{"matter": "outdoor-signboard"}],
            "questions": {"type": "object", "properties": {}}}
    with pytest.raises(DefinitionError) as refused:
        save_definition(seeded, "bundle", data, based_on=None, saved_by="admin", metas=METAS)
    [problem] = refused.value.problems
    assert problem.file == "schemas/catalog/bundles/outdoor-signboard.json"
    assert problem.pointer == "/code"
    assert "schemas/catalog/matters/outdoor-signboard.json" in problem.message
    assert problem.matters == ("outdoor-signboard",)
    assert [e.code for e in entries(seeded, "bundle") if e.code == "outdoor-signboard"] == []


def test_publishing_a_conflict_is_refused_and_publishes_nothing(seeded):
    # The signboard matter starts to require the shared entity_name as a number: it cannot
    # merge with the other matters of the restaurant bundle.
    data, revision = signboard(seeded)
    data["form"]["properties"]["entity_name"]["type"] = "integer"
    save_definition(seeded, "matter", data, based_on=revision, saved_by="admin", metas=METAS)
    versions_before = len(seeded.exec(select(BundleVersion)).all())
    with pytest.raises(DefinitionError) as refused:
        publish_working(seeded, METAS, "admin")
    assert any("outdoor-signboard" in str(p) for p in refused.value.problems)
    assert len(seeded.exec(select(BundleVersion)).all()) == versions_before


def test_rollback_publishes_the_old_version_again_and_a_diff_names_the_change(seeded):
    data, revision = signboard(seeded)
    data["time_limit"]["promised_days"] = 9
    save_definition(seeded, "matter", data, based_on=revision, saved_by="admin", metas=METAS)
    second = next(v for v in publish_working(seeded, METAS, "admin")
                  if v.bundle_code == "open-restaurant")
    first = version(seeded, "open-restaurant", 1)
    changes = version_diff(first, second, {"outdoor_signboard": True,
                                           "has_business_licence": False,
                                           "public_gathering_place": False,
                                           "sells_tobacco": False})
    assert {c.area for c in changes.changes} == {"time limits"}
    assert any("9" in str(c) for c in changes.changes)
    again = rollback(seeded, "open-restaurant", 1, "admin")
    assert (again.number, again.digest, again.note) == (3, first.digest, "rollback to v1")
    assert [v.number for v in history(seeded, "open-restaurant")] == [3, 2, 1]
    assert latest_version(seeded, "open-restaurant").id == again.id
    assert compose(bundle_of(again)).schema == compose(bundle_of(first)).schema


def test_a_restart_with_changed_schemas_does_not_undo_the_database(blank_engine, tmp_path):
    from onething.web.app import create_app

    root = copy_schemas(tmp_path)
    url = blank_engine.url.render_as_string(hide_password=False)
    config = {"TESTING": True, "DATABASE_URL": url, "SCHEMAS": str(root)}
    app = create_app(config, instance_path=tmp_path / "instance")
    app.extensions["onething.engine"].dispose()
    apply_edits(root, [{"file": "catalog/matters/outdoor-signboard.json",
                        "pointer": "/time_limit/promised_days", "value": 3}])
    app = create_app(config, instance_path=tmp_path / "instance")
    from sqlmodel import Session

    with Session(app.extensions["onething.engine"]) as session:
        assert latest_version(session, "open-restaurant").number == 1
        assert len(documents(session)) == len(list((SCHEMAS / "catalog").rglob("*.json"))) + len(
            list((SCHEMAS / "fields").glob("*.json")))
    app.extensions["onething.engine"].dispose()


def test_catalog_commands_import_dry_run_then_publish(tmp_path, monkeypatch):
    monkeypatch.setenv("ONETHING_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ONETHING_INSTANCE_PATH", str(tmp_path / "instance"))
    root = copy_schemas(tmp_path)
    shutil.copy(SCHEMAS / "synonyms.json", root / "synonyms.json")
    apply_edits(root, [{"file": "catalog/matters/outdoor-signboard.json",
                        "pointer": "/time_limit/promised_days", "value": 3}])
    runner = CliRunner()
    dry = runner.invoke(main, ["catalog", "import", str(root), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "~ catalog/matters/outdoor-signboard.json" in dry.output
    assert "Dry run" in dry.output
    real = runner.invoke(main, ["catalog", "import", str(root), "--publish"])
    assert real.exit_code == 0, real.output
    assert "published open-restaurant v2" in real.output
    out = tmp_path / "exported"
    exported = runner.invoke(main, ["catalog", "export", str(out)])
    assert exported.exit_code == 0, exported.output
    assert (out / "catalog/matters/outdoor-signboard.json").read_bytes() == (
        root / "catalog/matters/outdoor-signboard.json").read_bytes()

    apply_edits(root, [{"file": "catalog/matters/outdoor-signboard.json",
                        "pointer": "/time_limit/promised_days", "value": "soon"}])
    refused = runner.invoke(main, ["catalog", "import", str(root)])
    assert refused.exit_code == 2
    assert "outdoor-signboard.json#/time_limit/promised_days" in refused.output
    assert "nothing was imported" in refused.output


def test_every_entry_is_named_after_its_code(seeded):
    for entry in seeded.exec(select(CatalogEntry)).all():
        assert Path(entry.path).stem == entry.code


def _zip_with(tmp_path, name: str, *, method: int = zipfile.ZIP_STORED) -> Path:
    archive = tmp_path / name
    with zipfile.ZipFile(archive, "w", compression=method) as out:
        out.writestr("schemas/fields/x.json", '{"a": "' + "x" * 200 + '"}')
    return archive


def _patch_member_header(archive: Path, offset: int, value: bytes) -> None:
    # The local header (at 0) and the central directory entry both say it: patch both.
    data = bytearray(archive.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[offset:offset + len(value)] = value
    data[central + offset + 2:central + offset + 2 + len(value)] = value
    archive.write_bytes(bytes(data))


def test_a_damaged_zip_is_refused_with_a_message(tmp_path):
    bad_crc = _zip_with(tmp_path, "bad-crc.zip")
    data = bytearray(bad_crc.read_bytes())
    data[data.find(b"xxxx")] = ord("y")  # the stored content no longer fits its CRC
    bad_crc.write_bytes(bytes(data))
    encrypted = _zip_with(tmp_path, "encrypted.zip")
    _patch_member_header(encrypted, 6, b"\x01\x00")  # general purpose flag: encrypted
    unknown = _zip_with(tmp_path, "unknown-method.zip")
    _patch_member_header(unknown, 8, b"\x63\x00")  # compression method 99
    expected = {bad_crc: "cannot be unpacked", encrypted: "encrypted member",
                unknown: "compressed in a way"}
    for archive, message in expected.items():
        with pytest.raises(DefinitionError, match=message), import_folder(archive):
            pass
