"""HTML form fields ⇄ the merged submission, and single-field checks.

A field's HTML name is its path in the submission: `premises_area`,
`legal_representative.id_number`, `matters.food-business-licence.food_items`.
A value that cannot be converted (letters in a number) is kept as typed, so
the applicant sees it again next to its message and nothing is lost.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from onething.catalog.dates import FormValidator
from onething.catalog.divisions import code_of
from onething.catalog.formats import FORMAT_CHECKER
from onething.catalog.numbers import read_number
from onething.catalog.typed import fold
from onething.composer.layout import resolve, row_entries
from onething.composer.scenario import OFFLINE


def fields_of(layout: dict) -> list[dict]:
    """Every field of a layout, in page order."""
    return [field for section in layout["sections"] for field in section["fields"]]


def get_path(data: dict, path: str) -> Any:
    """The value at a dotted path (a number picks a row of a repeating group), or None."""
    node: Any = data
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit():
            if int(part) >= len(node):
                return None
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def set_path(data: dict, path: str, value: Any) -> None:
    """Set the value at a dotted path, creating objects on the way."""
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


# The buttons of a repeating group: add a row to it, or remove one of its rows. Both
# post the whole form, so what was typed is saved first, with JavaScript or without.
ADD_ROW, REMOVE_ROW = "_add_row", "_remove_row"


def row_numbers(entry: dict, form) -> list[int]:
    """The rows of a repeating group present in posted form data, in order."""
    prefix = entry["path"] + "."
    found = set()
    for name in form:
        if name.startswith(prefix):
            number = name[len(prefix):].split(".", 1)[0]
            if number.isdigit() and int(number) < ROW_LIMIT:
                found.add(int(number))
    return sorted(found)


# No repeating group has more rows than this, whatever a request posts.
ROW_LIMIT = 500


def convert(entry: dict, raw: str) -> Any:
    """Turn one submitted string into the field's type, or keep it as typed."""
    for option in entry.get("options") or []:
        if str(option["value"]).lower() == raw.lower():
            return option["value"]
    kind = entry.get("type")
    try:
        if kind == "integer":
            whole = int(raw)
            # Past 64 bits no form means it, and no JSON column stores it.
            return whole if abs(whole) < 2 ** 63 else raw
        if kind == "number":
            number = float(raw)
            if not math.isfinite(number):
                return raw  # "nan", "inf", "1e999": no number a form means, nor JSON has
            if number.is_integer() and "." not in raw:
                return int(number) if abs(number) < 2 ** 63 else number
            return number
    except ValueError:
        # Typed as people type: "1,200", "１２０", "30万", "120㎡", "2亩" in a ㎡ field.
        read = read_number(raw, entry.get("unit")) if kind in ("integer", "number") else None
        if read is not None and (kind == "number" or isinstance(read, int)):
            return read
        return raw
    return raw


def parse_field(entry: dict, form) -> Any:
    """The value of one field from submitted form data; None when left empty."""
    if entry["widget"] == "rows":
        removed = form.get(REMOVE_ROW, "")
        rows = []
        for number in row_numbers(entry, form):
            if removed == f"{entry['path']}.{number}":
                continue
            row = {}
            for child in row_entries(entry, number):
                value = parse_field(child, form)
                if value is not None:
                    row[child["path"].rsplit(".", 1)[1]] = value
            if row:  # a row left empty is no row
                rows.append(row)
        return rows or None
    if entry.get("children"):
        group = {}
        for child in entry["children"]:
            value = parse_field(child, form)
            if value is not None:
                group[child["key"]] = value
        return group or None
    if entry["widget"] == "checkboxes":
        values = [convert({**entry, "type": None}, v) for v in form.getlist(entry["path"]) if v]
        return values or None
    raw = form.get(entry["path"], "")
    # Folded as the rule expects (全角, a lower-case x, +86): the blur check and the
    # submit read the same value, which is what is saved and shown again.
    raw = fold(entry.get("input"), raw) if isinstance(raw, str) else raw
    if entry["widget"] == "division" and isinstance(raw, str):
        # The name typed without picking a suggestion (or with no JavaScript to offer
        # any): the one division it names.
        raw = code_of(raw) or raw
    return convert(entry, raw) if raw != "" else None


def parse_form(layout: dict, form) -> dict:
    """The submission data that a posted one form holds (empty fields left out)."""
    data: dict = {}
    for entry in fields_of(layout):
        if entry.get("required") == "produced":
            continue  # handed over by the matter that yields it, never typed
        value = parse_field(entry, form)
        if value is not None:
            set_path(data, entry["path"], value)
    return data


def merge_data(old: dict, new: dict, layout: dict) -> dict:
    """The draft's data with this page's fields replaced (emptied fields removed)."""
    merged = {key: (dict(value) if isinstance(value, dict) else value)
              for key, value in old.items()}
    if "matters" in merged:
        merged["matters"] = {k: dict(v) for k, v in merged["matters"].items()}
    for entry in fields_of(layout):
        *parents, last = entry["path"].split(".")
        node = merged
        for part in parents:
            node = node.setdefault(part, {})
        value = get_path(new, entry["path"])
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return merged


def field_schema(composition, path: str) -> dict:
    """The merged schema of one field (or part of a group), with $defs to resolve it."""
    schema = composition.schema
    parts = path.split(".")
    if parts[0] == "matters":
        node = schema["properties"]["matters"]["properties"][parts[1]]["properties"][parts[2]]
        rest = parts[3:]
    else:
        node, rest = schema["properties"][parts[0]], parts[1:]
    for part in rest:
        node = _deref(node, schema)
        # A row number steps into the items of a repeating group.
        node = node["items"] if part.isdigit() else node["properties"][part]
    return {"$defs": schema.get("$defs", {}), **node}


def _deref(node: dict, schema: dict) -> dict:
    ref = node.get("$ref", "")
    if ref.startswith("#/$defs/"):
        merged = dict(_deref(schema["$defs"][ref.removeprefix("#/$defs/")], schema))
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        return merged
    return node


_FIELD_VALIDATORS: dict[str, Any] = {}
_FIELD_VALIDATOR_LIMIT = 4096


def check_field(composition, entry: dict, value: Any) -> list:
    """The jsonschema errors of one field's value, compiled once per composition and field."""
    key = f"{composition.key}:{entry['path']}"
    validator = _FIELD_VALIDATORS.get(key)
    if validator is None:
        if len(_FIELD_VALIDATORS) >= _FIELD_VALIDATOR_LIMIT:
            _FIELD_VALIDATORS.clear()
        validator = _FIELD_VALIDATORS[key] = FormValidator(
            field_schema(composition, entry["path"]), format_checker=FORMAT_CHECKER,
            registry=OFFLINE)
    return list(validator.iter_errors(value))


def resolved_field(composition, path: str) -> dict:
    """The resolved schema of a field (library definitions followed), for messages."""
    catalog = composition.bundle.catalog
    parts = path.split(".")
    owner = ".".join(parts[:3]) if parts[0] == "matters" else parts[0]
    uses = composition.uses.get(owner)
    if not uses:
        return {}
    schema = resolve(uses[0].schema, catalog)
    for part in parts[3:] if parts[0] == "matters" else parts[1:]:
        schema = resolve(schema.get("properties", {}).get(part, {}), catalog)
    return schema


def with_empty_row(layout: dict, data: dict, path: str) -> dict:
    """The data with one more, empty row in the repeating group at `path`, to show."""
    entry = next((e for e in fields_of(layout) if e["path"] == path and e["widget"] == "rows"),
                 None)
    if entry is None:
        return data
    rows = list(get_path(data, path) or [])
    # An empty group already shows one empty row: the second click adds the second.
    rows += [{}] * (2 if not rows else 1)
    if entry.get("max_rows"):
        rows = rows[:entry["max_rows"]]
    shown = copy.deepcopy(data)
    set_path(shown, path, rows)
    return shown


def find_entry(layout: dict, path: str) -> dict | None:
    """The layout entry of a field, a part of a group, or a field of a repeating group's row."""
    for entry in fields_of(layout):
        found = _find(entry, path)
        if found is not None:
            return found
    return None


def _find(entry: dict, path: str) -> dict | None:
    if entry["path"] == path:
        return entry
    if not path.startswith(entry["path"] + "."):
        return None
    if entry["widget"] == "rows":
        number = path[len(entry["path"]) + 1:].split(".", 1)[0]
        if number.isdigit() and int(number) < ROW_LIMIT:
            for child in row_entries(entry, int(number)):
                found = _find(child, path)
                if found is not None:
                    return found
        return None
    for child in entry.get("children", []):
        found = _find(child, path)
        if found is not None:
            return found
    return None
