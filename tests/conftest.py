"""Shared fixtures: the demo catalog, a small test catalog, and writable copies of both."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from onething.loader import load_catalog

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"
DATA = Path(__file__).resolve().parent / "data"


def copy_schemas(target: Path, catalog: Path = SCHEMAS / "catalog") -> Path:
    """Copy the meta-schemas, the field library and a catalog into target/schemas."""
    root = target / "schemas"
    shutil.copytree(SCHEMAS / "meta", root / "meta")
    shutil.copytree(SCHEMAS / "fields", root / "fields")
    shutil.copytree(catalog, root / "catalog")
    return root


@pytest.fixture(scope="session")
def demo_catalog():
    """The demo catalog of schemas/, loaded and checked once."""
    return load_catalog(SCHEMAS)


@pytest.fixture(scope="session")
def mini_catalog(tmp_path_factory):
    """A three-matter catalog whose every merge rule is known (tests/data/mini)."""
    return load_catalog(copy_schemas(tmp_path_factory.mktemp("mini"), DATA / "mini" / "catalog"))


@pytest.fixture
def mini_root(tmp_path):
    """A writable copy of the mini catalog, to break."""
    return copy_schemas(tmp_path, DATA / "mini" / "catalog")


@pytest.fixture
def demo_root(tmp_path):
    """A writable copy of the demo catalog, to break."""
    return copy_schemas(tmp_path)
