"""The package map holds: no import cycle, and the import-linter contracts of pyproject.toml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def imported_by(graph, module: str):
    return iter(sorted(graph.find_modules_directly_imported_by(module)))


def import_cycles(*packages: str) -> list[list[str]]:
    """Every group of modules that import each other in a ring, function-level imports too."""
    graph = grimp.build_graph(*packages, cache_dir=None)
    # Tarjan's strongly connected components, iteratively: a deep chain of imports must
    # not hit the recursion limit.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, imported_by(graph, root))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, imported = work[-1]
            for other in imported:
                if other not in index:
                    index[other] = low[other] = len(index)
                    stack.append(other)
                    on_stack.add(other)
                    work.append((other, imported_by(graph, other)))
                    break
                if other in on_stack:
                    low[module] = min(low[module], index[other])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[module])
                if low[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    return cycles


def test_no_module_of_the_engine_or_the_console_is_in_an_import_cycle():
    assert import_cycles("onething", "onething_admin") == []


def test_the_cycle_finder_finds_a_planted_cycle(tmp_path, monkeypatch):
    package = tmp_path / "ringed"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from ringed import b\n")
    (package / "b.py").write_text("def f():\n    from ringed import c\n")
    (package / "c.py").write_text("import ringed.a\n")
    (package / "d.py").write_text("from ringed import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("ringed") == [["ringed.a", "ringed.b", "ringed.c"]]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run lint-imports over the packages and pyproject.toml under root."""
    path = os.pathsep.join([str(root / "platform"), str(root / "admin")])
    env = dict(os.environ, PYTHONPATH=path)
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def copy_of_the_packages(tmp_path):
    """The engine, the console and pyproject.toml, copied where an import can be planted."""
    for folder in ("platform", "admin"):
        shutil.copytree(REPO / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(("module", "planted", "contract"), [
    # The composer reaching for Flask, and the catalog for the database.
    ("onething/composer/compose.py", "import flask", "import neither Flask nor the database"),
    ("onething/catalog/definitions.py", "from onething.storage import models",
     "import neither Flask nor the database"),
    # A lower layer importing a higher one: cases knowing the departments' inbox.
    ("onething/cases/workflow.py", "from onething.departments import inbox", "Layers"),
    # A blueprint importing the app factory.
    ("onething/guides/home.py", "from onething.web import app", "Layers"),
    # The engine importing the console outside the factory.
    ("onething/publishing/check.py", "import onething_admin", "never imports the console"),
], ids=["composer-flask", "catalog-db", "cases-up", "blueprint-factory", "engine-console"])
def test_a_planted_forbidden_import_breaks_its_contract(copy_of_the_packages, module, planted,
                                                        contract):
    path = copy_of_the_packages / "platform" / module
    path.write_text(path.read_text() + f"\n{planted}  # planted by the test\n")
    result = lint_imports(copy_of_the_packages)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in broken
