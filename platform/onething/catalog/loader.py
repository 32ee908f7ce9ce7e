"""Read definitions from a `schemas/` folder into documents and a checked Catalog."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from onething.catalog.definitions import Document
from onething.catalog.problems import Problem

# Where each kind of definition lives under schemas/.
FOLDERS = {
    "field": "fields",
    "department": "catalog/departments",
    "matter": "catalog/matters",
    "bundle": "catalog/bundles",
}


def default_root() -> Path:
    """The schemas folder: $ONETHING_SCHEMAS, the repository's, or the copy in the wheel."""
    if os.environ.get("ONETHING_SCHEMAS"):
        return Path(os.environ["ONETHING_SCHEMAS"])
    package = Path(__file__).resolve().parents[1]  # onething/
    repository = package.parents[1] / "schemas"
    return repository if (repository / "meta").is_dir() else package / "_schemas"


def display_path(path: Path, root: Path) -> str:
    """Name a file as people see it in the repository: schemas/catalog/..."""
    return f"{root.name}/{path.relative_to(root).as_posix()}"


@dataclass(frozen=True)
class Source:
    """A definition file as read: its document, and its exact text."""

    document: Document
    relative: str  # the path inside the schemas folder, e.g. catalog/bundles/x.json
    text: str


_LONG_NUMBER = re.compile(r"\d{19}")


def parse_json(text: str) -> Any:
    """JSON text as Python values, exactly as the standard library reads it, but faster.

    orjson reads a city's 140 MB of definitions in a third of the time. What it refuses
    (NaN, lone surrogates), reads otherwise (integers past 64 bits) or cannot read goes
    to the standard library, which gives the same values and the messages `check` has
    always printed.
    """
    # orjson reads an integer past 64 bits as a float: such a text goes the standard way.
    if _LONG_NUMBER.search(text) is None:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            return _bounded(value)
    return _bounded(json.loads(text, parse_constant=_refuse_constant))


# Deeper than any definition needs (a form nests a dozen levels); what is deeper would
# only exhaust the stack of whatever walks it next.
MAX_DEPTH = 64


def _refuse_constant(name: str):
    # NaN and Infinity are no JSON: a bound of NaN could never fail.
    raise ValueError(f"{name} is not a JSON number")


def _bounded(value: Any) -> Any:
    """The value, if it nests no deeper than MAX_DEPTH; ValueError otherwise."""
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, float) and not math.isfinite(node):
            raise ValueError(f"{node} is not a JSON number")  # 1e400 reads as infinity
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
            children = node.values() if isinstance(node, dict) else node
            pending.extend((child, depth + 1) for child in children
                           if isinstance(child, (dict, list, float)))
    return value


def read_sources(root: Path) -> tuple[list[Source], list[Problem]]:
    """Parse every definition file; unreadable JSON becomes a problem, not a traceback."""
    sources: list[Source] = []
    problems: list[Problem] = []
    if not (root / "meta").is_dir() and not _holds_definitions(root):
        problems.append(Problem(str(root), "", "not a schemas folder: no meta/, fields/ "
                                "or catalog/ in it"))
        return sources, problems
    for kind, folder in FOLDERS.items():
        for path in sorted((root / folder).glob("*.json")):
            shown = display_path(path, root)
            try:
                text = path.read_text(encoding="utf-8")
                data = parse_json(text)
            except json.JSONDecodeError as error:
                problems.append(Problem(
                    shown, "",
                    f"invalid JSON: {error.msg} at line {error.lineno} column {error.colno}",
                ))
                continue
            except (OSError, UnicodeDecodeError) as error:
                problems.append(Problem(shown, "", f"cannot read the file: {error}"))
                continue
            except (ValueError, RecursionError) as error:
                # NaN, a number of thousands of digits, nesting past any definition's.
                reason = str(error) if isinstance(error, ValueError) else \
                    f"nested deeper than {MAX_DEPTH} levels"
                problems.append(Problem(shown, "", f"invalid JSON: {reason}"))
                continue
            relative = path.relative_to(root).as_posix()
            sources.append(Source(Document(kind, shown, data), relative, text))
    return sources, problems


def _holds_definitions(root: Path) -> bool:
    return any((root / folder).is_dir() for folder in FOLDERS.values())


def read_documents(root: Path) -> tuple[list[Document], list[Problem]]:
    """Parse every definition file of a schemas folder into documents."""
    sources, problems = read_sources(root)
    # A folder with nothing of ours in it was named as such by read_sources: once is enough.
    if not (root / "meta").is_dir() and _holds_definitions(root):
        problems.insert(0, Problem(str(root), "", "not a schemas folder: meta/ is missing"))
    return [source.document for source in sources], problems


def read_meta(root: Path) -> dict[str, dict]:
    """The meta-schemas by name (department, matter, bundle, field, common)."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((root / "meta").glob("*.json"))
    }
