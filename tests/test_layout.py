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
