"""Guards on the repository's layout that keep the packages importable."""

from __future__ import annotations

import importlib
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_platform_folder_is_not_a_package():
    # A platform/__init__.py would make a package named `platform` that shadows the
    # standard library module of the same name.
    assert not (REPO / "platform" / "__init__.py").exists()


def test_standard_library_platform_still_wins():
    sys.path.insert(0, str(REPO))
    try:
        module = importlib.reload(platform)
        assert callable(module.python_version)
        assert Path(module.__file__).parent != REPO / "platform"
    finally:
        sys.path.remove(str(REPO))


def test_engine_and_console_import_from_their_source_roots():
    import onething
    import onething_admin

    assert Path(onething.__file__).parent == REPO / "platform" / "onething"
    assert Path(onething_admin.__file__).parent == REPO / "admin" / "onething_admin"


def test_the_engine_never_imports_the_console():
    import ast

    def imports_console(path: Path) -> bool:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] == "onething_admin" for name in names):
                return True
        return False

    offenders = [
        path.relative_to(REPO).as_posix()
        for path in (REPO / "platform" / "onething").rglob("*.py")
        if imports_console(path) and path.name != "app.py"  # the factory mounts the console
    ]
    assert offenders == []


def test_a_bundle_names_its_own_sections(demo_root):
    import json as _json

    from onething.composer.compose import compose
    from onething.publishing.check import load_catalog

    path = demo_root / "catalog" / "bundles" / "open-care-home.json"
    data = _json.loads(path.read_text(encoding="utf-8"))
    data["sections"] = {"entity": {"zh-Hans": "养老机构信息", "en": "The care home"}}
    path.write_text(_json.dumps(data, ensure_ascii=False), encoding="utf-8")
    catalog = load_catalog(demo_root)
    titles = {s["id"]: s["title"] for s in compose(catalog.bundles["open-care-home"]).layout[
        "sections"]}
    assert titles["entity"]["zh-Hans"] == "养老机构信息"
    assert titles["entity"]["en"] == "The care home"
    # Other bundles keep the library's names.
    others = {s["id"]: s["title"] for s in compose(catalog.bundles["open-restaurant"]).layout[
        "sections"]}
    assert others["entity"]["zh-Hans"] == "经营主体信息"
