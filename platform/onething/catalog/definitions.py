"""Definitions: departments, matters (事项), bundles (一件事) and shared fields, held in a Catalog.

A Catalog is built from plain JSON documents, whether they come from files in
`schemas/` or from published versions in the database. It does not validate:
`onething.publishing.check` does, and `onething.publishing.check.load_catalog` refuses a catalog
with problems.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from onething.catalog.groups import (
    column_schema,
    columns,
    narrowed,
    required_columns,
    restricted,
    row_schema,
)
from onething.catalog.text import localize, standardize_schema
from onething.catalog.units import convert_bounds, quantity
from onething.catalog.workdays import WORKING_DAYS

FIELD_BASE = "https://onething.example/fields/"
# Keywords whose values are texts or instance values, never a schema with a $ref in it.
_NO_SCHEMA_INSIDE = frozenset({"title", "description", "examples", "enum", "const", "default",
                               "x-error", "$comment"})
META_BASE = "https://onething.example/meta/"

KINDS = ("department", "matter", "bundle", "field")


@dataclass(frozen=True)
class Document:
    """One definition as read: its kind, where it came from, and its JSON data."""

    kind: str
    path: str
    data: Any

    @property
    def code(self) -> str | None:
        """The definition's code (a field's key), if it has a readable one."""
        if not isinstance(self.data, dict):
            return None
        if self.kind == "field":
            field_id = self.data.get("$id")
            if isinstance(field_id, str) and field_id.startswith(FIELD_BASE):
                return field_id.removeprefix(FIELD_BASE)
            return None
        code = self.data.get("code")
        return code if isinstance(code, str) else None


def canonical_json(data: Any) -> str:
    """Serialize JSON data canonically, for digests and comparisons.

    orjson writes what the standard library would (keys sorted, no spaces, text as it
    is) several times faster, which a 一类事's thousands of conditions feel; what it
    cannot write (an integer past 64 bits, a key that is no string) the library does.
    """
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _digest_bytes(data: Any) -> bytes:
    """Canonical bytes to hash a version by: keys sorted, no spaces (orjson, 4x json's speed).

    A city's first start hashes twelve thousand services. What orjson cannot write (an
    integer past 64 bits, a key that is no string) is written by the standard library.
    """
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return canonical_json(data).encode()


class Definition:
    """Common ground of every definition: its data, its source path and its code."""

    kind = ""

    def __init__(self, document: Document, catalog: Catalog):
        self.data: dict = document.data
        self.path = document.path
        self.catalog = catalog

    @property
    def code(self) -> str:
        """The stable code that names this definition."""
        return self.data["code"]

    @property
    def name(self) -> Any:
        """The localized name."""
        return self.data["name"]

    def label(self, locale: str = "zh-Hans") -> str:
        """The name in one locale."""
        return localize(self.name, locale)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.code}>"


class Department(Definition):
    """Department (部门): an implementing body with its level, parent and contacts."""

    kind = "department"


class Field(Definition):
    """Shared field (共享字段): a library JSON Schema that matters share by key."""

    kind = "field"

    @property
    def code(self) -> str:
        """The field's key, the last segment of its $id."""
        return self.data["$id"].removeprefix(FIELD_BASE)

    key = code

    @property
    def name(self) -> Any:
        """The field's localized title."""
        return self.data.get("title", self.code)

    @property
    def uri(self) -> str:
        """The field's $id."""
        return self.data["$id"]

    @property
    def section(self) -> str:
        """The topic section of the one form that shows the field."""
        return self.data.get("x-section", "applicant")

    @cached_property
    def schema(self) -> dict:
        """The field as standard JSON Schema 2020-12 (titles in zh-Hans plus x-title)."""
        return standardize_schema(self.data)


class Matter(Definition):
    """Matter (事项): one department's permit or service, with its form and materials."""

    kind = "matter"

    @property
    def department(self) -> str:
        """The code of the department that handles the matter."""
        return self.data["department"]

    @property
    def form(self) -> dict:
        """The matter's own application form as authored."""
        return self.data["form"]

    @property
    def materials(self) -> list[dict]:
        """The matter's materials as authored."""
        return self.data.get("materials", [])

    def own_form(self) -> dict:
        """The form as the matter's own slice is checked against: a quantity the matter
        counts in another unit than its library field (x-unit) takes the field's bounds
        converted to the matter's unit, as the value it receives is; a repeating group of
        which it names some columns has rows of those columns alone."""
        form = dict(self.form)
        properties = dict(form.get("properties", {}))
        for key, use in properties.items():
            if not isinstance(use, dict):
                continue
            library = self.catalog.field_for_ref(use.get("$ref"))
            row = row_schema(library)
            if row is not None and narrowed(use) is not None:
                # A repeating group of which the matter takes some columns: its rows hold
                # exactly those, as its slice does.
                taken = columns(use, row)
                body = {k: v for k, v in library.schema.items() if k not in ("$id", "$schema")}
                properties[key] = {
                    **restricted(body, row, taken, required_columns(use, row),
                                 {column: column_schema(use, column) for column in taken}),
                    **{k: v for k, v in use.items() if k not in ("$ref", "items")}}
                continue
            if "x-unit" not in use:
                continue
            unit = library.data.get("x-unit") if library is not None else None
            if unit is None or quantity(unit) != quantity(use["x-unit"]):
                continue
            field = {k: v for k, v in library.schema.items() if k not in ("$id", "$schema")}
            own = {k: v for k, v in use.items() if k != "$ref"}
            properties[key] = {"allOf": [convert_bounds(field, unit, use["x-unit"])], **own}
        form["properties"] = properties
        return form

    @property
    def produces(self) -> list[str]:
        """The library fields whose value the matter's approval yields (办结产出)."""
        return self.data.get("produces", [])

    @property
    def joint_departments(self) -> list[str]:
        """Departments handling the matter jointly with its own (联合办理), each with a task."""
        return [code for code in self.data.get("joint_departments", [])
                if code != self.department]

    @property
    def promised_days(self) -> int:
        """承诺办结时限, in the days its `counting` says."""
        return self.data["time_limit"]["promised_days"]

    @property
    def legal_days(self) -> int:
        """法定办结时限, in the days its `counting` says."""
        return self.data["time_limit"]["legal_days"]

    @property
    def counting(self) -> str:
        """How the limits count: working days (工作日, the default) or calendar days (自然日)."""
        return self.data["time_limit"].get("counting", WORKING_DAYS)

    @property
    def visits(self) -> int:
        """到办事现场次数."""
        return self.data.get("visits", 1)

    def field_count(self) -> int:
        """How many fields the matter's own form asks for (nested objects count once)."""
        return len(self.form.get("properties", {}))


@dataclass(frozen=True)
class Item:
    """A bundle item flattened to its matter, with every condition on the way to it."""

    matter: str
    conditions: tuple[Any, ...]
    pointer: str
    path: str


class Bundle(Definition):
    """Bundle (一件事 / 一类事 / 一业一证): matters behind one form and one window."""

    kind = "bundle"

    @property
    def questions(self) -> dict:
        """The scenario questionnaire (情形) as authored."""
        return self.data["questions"]

    @property
    def after(self) -> dict[str, list[str]]:
        """Serial edges: matter code -> the matter codes it waits for."""
        return self.data.get("after", {})

    @property
    def release(self) -> str:
        """together (多证联发) or per_matter."""
        return self.data.get("release", "together")

    @property
    def promised_days(self) -> int | None:
        """联办承诺时限: the bundle's own committed working days, if it declares one."""
        return self.data.get("promised_days")

    @property
    def licence(self) -> dict | None:
        """一证准营: the comprehensive licence a one_industry_one_licence bundle issues."""
        return self.data.get("licence")

    @property
    def inspected(self) -> list[str]:
        """一同核查: the matters whose departments inspect the premises together."""
        return list((self.data.get("joint_inspection") or {}).get("matters", []))

    def flatten(self) -> list[Item]:
        """List every matter reachable through the items, nested bundles included."""
        items: list[Item] = []
        self._flatten(items, (), (self.code,))
        return items

    def _flatten(self, items: list[Item], conditions: tuple, stack: tuple[str, ...]) -> None:
        for index, item in enumerate(self.data.get("items", [])):
            when = (item["when"],) if "when" in item else ()
            if "matter" in item:
                items.append(
                    Item(item["matter"], conditions + when, f"/items/{index}", self.path)
                )
                continue
            child = self.catalog.bundles.get(item.get("bundle"))
            # A cycle of nested bundles is reported by check; here it only must not recurse.
            if child is not None and child.code not in stack:
                child._flatten(items, conditions + when, (*stack, child.code))

    def matter_codes(self) -> list[str]:
        """The code of every matter reachable through the items, once each, in item order."""
        return list(dict.fromkeys(item.matter for item in self.flatten()))

    def nested_bundles(self) -> list[Bundle]:
        """The bundles nested in this one, at any depth."""
        found: list[Bundle] = []
        pending = [self]
        while pending:
            bundle = pending.pop()
            for item in bundle.data.get("items", []):
                child = self.catalog.bundles.get(item.get("bundle"))
                if child is not None and child is not self and child not in found:
                    found.append(child)
                    pending.append(child)
        return found

    def stages(self) -> list[tuple[Bundle, tuple[Any, ...]]]:
        """Every bundle nested in this one, with each way to reach it: its item conditions.

        A nested bundle (a stage of a 一类事) applies when the conditions on the way to
        one of its occurrences all hold; its own questions are asked only then.
        """
        found: list[tuple[Bundle, tuple[Any, ...]]] = []
        pending: list[tuple[Bundle, tuple[Any, ...], tuple[str, ...]]] = [
            (self, (), (self.code,))]
        while pending:
            bundle, conditions, stack = pending.pop(0)
            for item in bundle.data.get("items", []):
                child = self.catalog.bundles.get(item.get("bundle"))
                if child is None or child.code in stack:
                    continue
                when = (item["when"],) if "when" in item else ()
                found.append((child, conditions + when))
                pending.append((child, conditions + when, (*stack, child.code)))
        return found

    def waits(self) -> dict[str, dict[str, tuple[str, str]]]:
        """Who waits for whom: the `after` edges of this bundle and of every nested one.

        matter -> {matter it waits for: (file, JSON pointer of the edge)}. A name in an
        edge may be a nested bundle, standing for each of its matters; a matter never
        waits for itself.
        """
        bundles = [self, *(child for child, _ in self.stages())]
        matters_of = {bundle.code: bundle.matter_codes() for bundle in bundles}
        edges: dict[str, dict[str, tuple[str, str]]] = {}
        for bundle in dict.fromkeys(bundles):
            own = set(matters_of[bundle.code])
            for key, befores in bundle.after.items():
                for index, before in enumerate(befores):
                    site = (bundle.path, f"/after/{_escape(key)}/{index}")
                    for waiting in matters_of.get(key, [key] if key in own else []):
                        for needed in matters_of.get(before, [before]):
                            if needed != waiting:
                                edges.setdefault(waiting, {}).setdefault(needed, site)
        return edges

    def department_codes(self) -> list[str]:
        """The departments the bundle involves: its lead (一窗受理), then each matter's."""
        codes = [self.data.get("lead_department")]
        for child in self.nested_bundles():
            codes.append(child.data.get("lead_department"))
        for item in self.flatten():
            matter = self.catalog.matters.get(item.matter)
            codes.append(matter.department if matter else None)
            codes.extend(matter.joint_departments if matter else [])
        return [code for code in dict.fromkeys(codes) if code]

    @property
    def alone(self) -> bool:
        """True for a matter applied for alone: a bundle of one, under the matter's code."""
        return self.code in self.catalog.matters

    def field_keys(self) -> list[str]:
        """The library fields the bundle's matters use, with those they use in turn, sorted."""
        return list(self._field_keys)

    @cached_property
    def _field_keys(self) -> tuple[str, ...]:
        # Worked out once: the digest and the snapshot of a version both need it.
        found: set[str] = set()
        pending: list[Any] = [self.catalog.matters[code].form for code in self.matter_codes()
                              if code in self.catalog.matters]
        while pending:
            node = pending.pop()
            if isinstance(node, dict):
                field = self.catalog.field_for_ref(node.get("$ref"))
                if field is not None and field.key not in found:
                    found.add(field.key)
                    pending.append(field.data)
                # Texts and values hold no schema, so no reference: a third of the walk.
                pending.extend(value for key, value in node.items()
                               if key not in _NO_SCHEMA_INSIDE)
            elif isinstance(node, list):
                pending.extend(node)
        return tuple(sorted(found))

    @cached_property
    def version(self) -> str:
        """A digest of everything the bundle's composition depends on."""
        return self.catalog.digest_of(self)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class Catalog:
    """Every definition by kind and code, plus the registry that resolves field $refs."""

    def __init__(self, documents: Iterable[Document]):
        self.departments: dict[str, Department] = {}
        self.matters: dict[str, Matter] = {}
        self.bundles: dict[str, Bundle] = {}
        self.fields: dict[str, Field] = {}
        tables = {
            "department": (self.departments, Department),
            "matter": (self.matters, Matter),
            "bundle": (self.bundles, Bundle),
            "field": (self.fields, Field),
        }
        for document in documents:
            table, cls = tables[document.kind]
            if document.code is not None:
                table.setdefault(document.code, cls(document, self))

    def __iter__(self) -> Iterator[Definition]:
        for table in (self.departments, self.fields, self.matters, self.bundles):
            yield from table.values()

    def documents(self) -> list[Document]:
        """Every definition as a document again (for storage and export)."""
        return [Document(item.kind, item.path, item.data) for item in self]

    @cached_property
    def registry(self) -> Registry:
        """A referencing Registry holding every library field under its $id."""
        return Registry().with_resources(
            (field.uri, Resource.from_contents(field.schema, default_specification=DRAFT202012))
            for field in self.fields.values()
        )

    def field_for_ref(self, ref: Any) -> Field | None:
        """The library field a $ref names, if it names one."""
        if isinstance(ref, str) and ref.startswith(FIELD_BASE):
            return self.fields.get(ref.removeprefix(FIELD_BASE))
        return None

    def bundle(self, code: str) -> Bundle:
        """The bundle with this code; KeyError names it if unknown."""
        try:
            return self.bundles[code]
        except KeyError:
            raise KeyError(f"unknown bundle {code!r}") from None

    def service(self, code: str) -> Bundle:
        """What people apply for under a code: a bundle, or a matter alone as a bundle of one.

        A matter applied for alone goes through the same one form, materials, review,
        routing and inbox as a bundle: it is one, holding only that matter.
        """
        if code in self.bundles:
            return self.bundles[code]
        matter = self.matters.get(code)
        if matter is None:
            raise KeyError(f"unknown bundle or matter {code!r}")
        return Bundle(Document("bundle", matter.path, alone(matter.data)), self)

    def services(self) -> list[str]:
        """The code of everything people can apply for: every bundle and every matter."""
        return sorted({*self.bundles, *self.matters})

    def digest_of(self, bundle: Bundle) -> str:
        """Hash the bundle with its nested bundles, matters, departments and the fields they use."""
        parts = [bundle.data, *(child.data for child in bundle.nested_bundles())]
        parts.extend(self.matters[code].data for code in sorted(bundle.matter_codes())
                     if code in self.matters)
        # The lead department's contacts are the one window's: a change there is a new version.
        for code in bundle.department_codes():
            department = self.departments.get(code)
            parts.append(department.data if department else None)
        # Only the library fields it uses: editing one field is a new version of the services
        # asking for it, not of every service of the city.
        parts.extend(self.fields[key].data for key in bundle.field_keys())
        return hashlib.sha256(_digest_bytes(parts)).hexdigest()[:16]


def alone(matter: dict) -> dict:
    """A matter applied for alone, written as the bundle of one it is published as."""
    return {
        "code": matter["code"],
        "name": matter["name"],
        **({"description": matter["description"]} if "description" in matter else {}),
        "kind": "one_thing",
        "lead_department": matter["department"],
        "questions": {"type": "object", "properties": {}},
        "items": [{"matter": matter["code"]}],
    }
