"""Read definitions from a `schemas/` folder into documents and a checked Catalog."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onething.catalog.definitions import Document
from onething.catalog.problems import Problem, Text

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


def parse_json(text: str) -> Any:
    """JSON text as Python values, refusing what JSON allows but no definition or body means.

    ValueError (DuplicateKey, with its pointer, for a key given twice) for: a key given
    twice in one object (JSON keeps the last silently), NaN or Infinity, a number of
    thousands of digits, nesting past MAX_DEPTH, and NUL or a lone surrogate in a text,
    which no database stores.
    """
    value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_refuse_constant)
    duplicated = _bounded(value)
    if duplicated:
        raise DuplicateKey(*_first_duplicate(value))
    # Only an escape can put NUL or a lone surrogate in text read as UTF-8.
    if _UNSAFE_ESCAPE.search(text):
        _refuse_unsafe_text(value)
    return value


# Deeper than any definition needs (a form nests a dozen levels); what is deeper would
# only exhaust the stack of whatever walks it next.
MAX_DEPTH = 64

_UNSAFE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_UNSAFE_TEXT = re.compile("[\x00\ud800-\udfff]")


class DuplicateKey(ValueError):
    """A key given twice in one JSON object: which one was meant is anybody's guess."""

    def __init__(self, pointer: str, key: str):
        super().__init__(Text("the key {key!r} is given twice; JSON would silently keep the "
                              "last", key=key))
        self.pointer = pointer


class _Duplicated(dict):
    """An object read from text that gave one of its keys twice."""

    duplicate = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    value = dict(pairs)
    if len(value) == len(pairs):
        return value
    duplicated = _Duplicated(value)
    seen: set[str] = set()
    duplicated.duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))
    return duplicated


def _refuse_constant(name: str):
    # NaN and Infinity are no JSON: a bound of NaN could never fail.
    raise ValueError(Text("{value} is not a JSON number", value=name))


def _bounded(value: Any) -> bool:
    """Whether an object gave a key twice; ValueError if the value nests past MAX_DEPTH."""
    duplicated = False
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, float) and not math.isfinite(node):
            # 1e400 reads as infinity
            raise ValueError(Text("{value} is not a JSON number", value=node))
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                raise ValueError(Text("nested deeper than {depth} levels", depth=MAX_DEPTH))
            if isinstance(node, dict):
                duplicated = duplicated or type(node) is _Duplicated
                children = node.values()
            else:
                children = node
            pending.extend((child, depth + 1) for child in children
                           if isinstance(child, (dict, list, float)))
    return duplicated


def _walk(value: Any, pointer: str = ""):
    """Each (pointer, value) of a parsed value, the containers before what they hold."""
    pending = [(pointer, value)]
    while pending:
        pointer, node = pending.pop()
        yield pointer, node
        if isinstance(node, dict):
            pending.extend((f"{pointer}/{_escape(k)}", v) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            pending.extend((f"{pointer}/{i}", v) for i, v in reversed(list(enumerate(node))))


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _first_duplicate(value: Any) -> tuple[str, str]:
    for pointer, node in _walk(value):
        if type(node) is _Duplicated:
            return f"{pointer}/{_escape(node.duplicate)}", node.duplicate
    raise AssertionError("no duplicated key")  # pragma: no cover: called only after one


def _refuse_unsafe_text(value: Any) -> None:
    for pointer, node in _walk(value):
        texts = [node] if isinstance(node, str) else list(node) if isinstance(node, dict) else []
        for text in texts:
            if _UNSAFE_TEXT.search(text):
                raise UnsafeText(pointer if text is node else f"{pointer}/{_escape(text)}")


class UnsafeText(ValueError):
    """NUL or a lone surrogate in a text: no database stores it, no reader means it."""

    def __init__(self, pointer: str):
        super().__init__(Text("a text holds a NUL character or half of a surrogate pair, "
                              "which cannot be stored"))
        self.pointer = pointer


def read_sources(root: Path) -> tuple[list[Source], list[Problem]]:
    """Parse every definition file; unreadable JSON becomes a problem, not a traceback."""
    sources: list[Source] = []
    problems: list[Problem] = []
    if not (root / "meta").is_dir() and not _holds_definitions(root):
        problems.append(Problem(str(root), "", Text(
            "not a schemas folder: no meta/, fields/ or catalog/ in it")))
        return sources, problems
    for kind, folder in FOLDERS.items():
        for path in sorted((root / folder).glob("*.json")):
            shown = display_path(path, root)
            try:
                text = path.read_text(encoding="utf-8")
                data = parse_json(text)
            except json.JSONDecodeError as error:
                problems.append(Problem(shown, "", Text(
                    "invalid JSON: {reason} at line {line} column {column}",
                    reason=json_reason(error.msg), line=error.lineno, column=error.colno)))
                continue
            except (OSError, UnicodeDecodeError) as error:
                problems.append(Problem(shown, "",
                                        Text("cannot read the file: {error}", error=str(error))))
                continue
            except (ValueError, RecursionError) as error:
                # A key twice, NaN, thousands of digits, nesting past any definition's, NUL.
                reason = error_text(error) if isinstance(error, ValueError) else \
                    Text("nested deeper than {depth} levels", depth=MAX_DEPTH)
                problems.append(Problem(shown, getattr(error, "pointer", ""),
                                        Text("invalid JSON: {reason}", reason=reason)))
                continue
            relative = path.relative_to(root).as_posix()
            sources.append(Source(Document(kind, shown, data), relative, text))
    return sources, problems


# What Python's JSON parser says (JSONDecodeError.msg), as Texts the console translates.
_JSON_REASONS = {
    "Expecting value": Text("Expecting value"),
    "Expecting ',' delimiter": Text("Expecting ',' delimiter"),
    "Expecting ':' delimiter": Text("Expecting ':' delimiter"),
    "Expecting property name enclosed in double quotes": Text(
        "Expecting property name enclosed in double quotes"),
    "Illegal trailing comma before end of object": Text(
        "Illegal trailing comma before end of object"),
    "Illegal trailing comma before end of array": Text(
        "Illegal trailing comma before end of array"),
    "Unterminated string starting at": Text("Unterminated string starting at"),
    "Invalid control character at": Text("Invalid control character at"),
    "Extra data": Text("Extra data"),
}


def json_reason(message: str) -> str:
    """The JSON parser's reason (JSONDecodeError.msg) as a Text when it is a known one."""
    return _JSON_REASONS.get(message, message)


def error_text(error: BaseException) -> str:
    """An exception's message, the Text it was raised with kept (str() would lose it)."""
    if len(error.args) == 1 and isinstance(error.args[0], Text):
        return error.args[0]
    return str(error)


def _holds_definitions(root: Path) -> bool:
    return any((root / folder).is_dir() for folder in FOLDERS.values())


def read_documents(root: Path) -> tuple[list[Document], list[Problem]]:
    """Parse every definition file of a schemas folder into documents."""
    sources, problems = read_sources(root)
    # A folder with nothing of ours in it was named as such by read_sources: once is enough.
    if not (root / "meta").is_dir() and _holds_definitions(root):
        problems.insert(0, Problem(str(root), "",
                                   Text("not a schemas folder: meta/ is missing")))
    return [source.document for source in sources], problems


def read_meta(root: Path) -> dict[str, dict]:
    """The meta-schemas by name (department, matter, bundle, field, common)."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((root / "meta").glob("*.json"))
    }
