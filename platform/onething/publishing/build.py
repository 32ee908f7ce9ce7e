"""`onething build`: compile schemas/ into generated/<bundle>/, checked in so diffs show effects.

Everything is computed in memory first and written through a temporary folder
that replaces generated/ at the end, so a broken definition never leaves
partial output behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from onething.catalog.definitions import Catalog
from onething.composer.compose import compose

OUTPUTS = {
    "form.schema.json": lambda c: c.schema,
    "layout.json": lambda c: c.layout,
    "materials.json": lambda c: [m.as_dict() for m in c.materials],
    "provenance.json": lambda c: {path: p.as_dict() for path, p in c.provenance.items()},
    "routing.json": lambda c: c.plan.as_dict(),
    "savings.json": lambda c: c.savings.as_dict(),
}


def dump(data) -> str:
    """Serialize JSON the way generated/ stores it: stable, readable, one trailing newline."""
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def render(catalog: Catalog) -> dict[str, str]:
    """Every file of generated/, by path relative to it."""
    files: dict[str, str] = {}
    index = []
    for code, bundle in sorted(catalog.bundles.items()):
        composition = compose(bundle)
        for name, extract in OUTPUTS.items():
            files[f"{code}/{name}"] = dump(extract(composition))
        index.append({"bundle": code, "name": bundle.name, "version": bundle.version,
                      "matters": [m.code for m in composition.matters]})
    files["index.json"] = dump({"generated_by": "onething build", "bundles": index})
    return files


def stale_files(files: dict[str, str], out: Path) -> list[str]:
    """The files of generated/ that differ from what build would write, or should not be there."""
    stale = []
    for name, text in files.items():
        path = out / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    if out.is_dir():
        for path in out.rglob("*"):
            name = path.relative_to(out).as_posix()
            if path.is_file() and name not in files:
                stale.append(name)
    return sorted(stale)


def write(files: dict[str, str], out: Path) -> None:
    """Replace the output folder with exactly these files."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".generated-", dir=out.parent))
    try:
        for name, text in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
