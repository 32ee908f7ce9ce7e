"""Repeating groups (重复项: shareholders, vessels, premises) declared by several matters.

A group is a library field whose value is an array of objects, one row each; the
library names every column a row may have. A matter takes the whole row, or names the
columns it needs beside the field's `$ref`, standard JSON Schema that narrows the items:

    "shareholders": {"$ref": ".../fields/shareholders",
                     "items": {"properties": {"name": {}, "id_number": {}},
                               "required": ["name"]}}

The one form asks for the union of the columns of the matters that apply, each column
with the strictest of their constraints; each department receives only its matters'
columns of each row.
"""

from __future__ import annotations

from typing import Any


def row_schema(field) -> dict | None:
    """The row of a library field that is a repeating group (standardized), else None."""
    if field is None:
        return None
    items = field.schema.get("items")
    if field.schema.get("type") == "array" and isinstance(items, dict) \
            and isinstance(items.get("properties"), dict):
        return items
    return None


def narrowed(schema: Any) -> dict | None:
    """A use's own `items` narrowing of a group, if it writes one."""
    items = schema.get("items") if isinstance(schema, dict) else None
    return items if isinstance(items, dict) else None


def columns(schema: Any, row: dict) -> list[str]:
    """The columns a use of the group takes, in the library's order."""
    items = narrowed(schema)
    if items is None or not isinstance(items.get("properties"), dict):
        return list(row["properties"])
    return [column for column in row["properties"] if column in items["properties"]]


def required_columns(schema: Any, row: dict) -> list[str]:
    """The columns a use needs in every row: the library's among its own, and its own."""
    taken = columns(schema, row)
    items = narrowed(schema) or {}
    own = set(items.get("required", [])) | set(row.get("required", []))
    return [column for column in taken if column in own]


def column_schema(schema: Any, column: str) -> dict:
    """What a use writes on one column of its rows (nothing: the library's column)."""
    items = narrowed(schema) or {}
    declared = items.get("properties", {}).get(column)
    return declared if isinstance(declared, dict) else {}


def union_columns(schemas: list[Any], row: dict) -> list[str]:
    """The columns any of the uses take, in the library's order."""
    taken = {column for schema in schemas for column in columns(schema, row)}
    return [column for column in row["properties"] if column in taken]


def restricted(body: dict, row: dict, taken: list[str], required: list[str],
               extra: dict[str, dict] | None = None) -> dict:
    """A group's schema with rows cut to some columns, each beside its own constraints."""
    properties = {}
    for column in taken:
        declared = row["properties"][column]
        properties[column] = {**declared, **(extra or {}).get(column, {})} \
            if isinstance(declared, dict) else declared
    items = {key: value for key, value in row.items() if key not in ("properties", "required")}
    items["properties"] = properties
    if required:
        items["required"] = required
    return {**{key: value for key, value in body.items() if key != "items"}, "items": items}


def project_rows(value: Any, taken: list[str]) -> Any:
    """Each row of a group cut to some columns (anything else as it is)."""
    if not isinstance(value, list):
        return value
    return [{column: row[column] for column in taken if column in row}
            if isinstance(row, dict) else row for row in value]
