"""The UI layout of the one form: sections by topic, then each matter's own fields.

Widgets are derived from the field's schema through plain registries keyed by
format and by type; a field's `x-widget` overrides them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from onething.catalog.dates import DATE_BOUNDS, bounds
from onething.catalog.definitions import FIELD_BASE
from onething.catalog.groups import required_columns, row_schema, union_columns
from onething.catalog.text import as_map
from onething.composer.rules import rule_required

SECTIONS = {
    "applicant": {"zh-Hans": "申请人信息", "zh-Hant": "申請人資訊", "en": "Applicant"},
    "entity": {"zh-Hans": "经营主体信息", "zh-Hant": "經營主體資訊", "en": "Business entity"},
    "contact": {"zh-Hans": "联系人信息", "zh-Hant": "聯絡人資訊", "en": "Contact"},
    "premises": {"zh-Hans": "经营场所信息", "zh-Hant": "經營場所資訊", "en": "Premises"},
    "child": {"zh-Hans": "新生儿信息", "zh-Hant": "新生兒資訊", "en": "Newborn"},
    "parents": {"zh-Hans": "父母信息", "zh-Hant": "父母資訊", "en": "Parents"},
    "project": {"zh-Hans": "项目信息", "zh-Hant": "項目資訊", "en": "Project"},
    "sea_area": {"zh-Hans": "用海信息", "zh-Hant": "用海資訊", "en": "Sea area"},
}

WIDGETS_BY_FORMAT = {
    "date": "date",
    "email": "email",
    "cn-resident-id": "id-number",
    "cn-uscc": "text",
}
WIDGETS_BY_TYPE = {
    "boolean": "radio",
    "integer": "number",
    "number": "number",
    "string": "text",
    "object": "group",
    "array": "checkboxes",
}
# A choice among more options than this is a drop-down rather than radio buttons.
RADIO_LIMIT = 4
# A string allowed to be longer than this gets a multi-line box.
TEXTAREA_LENGTH = 200

YES_NO = [
    {"value": True, "title": {"zh-Hans": "是", "zh-Hant": "是", "en": "Yes"}},
    {"value": False, "title": {"zh-Hans": "否", "zh-Hant": "否", "en": "No"}},
]


def resolve(schema: Any, catalog, base: str = FIELD_BASE) -> dict:
    """Follow a schema's $ref chain through the library, nearer keywords winning."""
    if not isinstance(schema, dict):
        return {}
    ref = schema.get("$ref")
    target = catalog.field_for_ref(urljoin(base, ref)) if isinstance(ref, str) else None
    if target is None:
        return dict(schema)
    resolved = resolve(target.data, catalog, target.uri)
    resolved.update({k: v for k, v in schema.items() if k != "$ref"})
    return resolved


def options(schema: dict) -> list[dict] | None:
    """The labelled choices of an enumeration, if the schema is one."""
    if schema.get("type") == "boolean":
        return YES_NO
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return options(schema["items"])
    choices = schema.get("oneOf") or schema.get("anyOf")
    if isinstance(choices, list) and choices and all("const" in c for c in choices):
        return [{"value": c["const"], "title": as_map(c.get("title", str(c["const"])))}
                for c in choices]
    if isinstance(schema.get("enum"), list):
        return [{"value": v, "title": as_map(str(v))} for v in schema["enum"]]
    return None


def _choice_count(schema: dict) -> int | None:
    # How many choices options() would list, without localizing their titles.
    if schema.get("type") == "boolean":
        return len(YES_NO)
    choices = schema.get("oneOf") or schema.get("anyOf")
    if isinstance(choices, list) and choices and all("const" in c for c in choices):
        return len(choices)
    if isinstance(schema.get("enum"), list):
        return len(schema["enum"])
    return None


def widget_for(schema: dict) -> str:
    """Pick the widget for a resolved field schema."""
    if "x-widget" in schema:
        return schema["x-widget"]
    if schema.get("format") in WIDGETS_BY_FORMAT:
        return WIDGETS_BY_FORMAT[schema["format"]]
    count = _choice_count(schema)
    if count is not None and schema.get("type") != "array":
        return "radio" if count <= RADIO_LIMIT else "select"
    kind = schema.get("type")
    if kind == "string" and schema.get("maxLength", 0) > TEXTAREA_LENGTH:
        return "textarea"
    return WIDGETS_BY_TYPE.get(kind if isinstance(kind, str) else "string", "text")


# Fields whose value is the applicant's own, which the browser may fill in (autocomplete).
AUTOCOMPLETE = {"applicant_name": "name", "contact_name": "name", "entity_name": "organization",
                "applicant_mobile": "tel", "contact_mobile": "tel", "email": "email"}


def input_kind(schema: dict) -> str | None:
    """How a typed value of the field is folded before it is checked (catalog.typed)."""
    if schema.get("format") == "cn-resident-id":
        return "resident-id"
    if schema.get("format") == "cn-uscc":
        return "uscc"
    if str(schema.get("pattern", "")).startswith("^1[3-9]"):
        return "mobile"  # a mainland mobile number: +86 and spaces go
    return None


def describe_field(key: str, path: str, schema: dict, catalog) -> dict:
    """Lay out one field (and, for an object, its parts)."""
    resolved = resolve(schema, catalog)
    entry: dict[str, Any] = {
        "key": key,
        "path": path,
        "title": as_map(resolved.get("title", key)),
        "widget": widget_for(resolved),
        "type": resolved.get("type"),
    }
    if "description" in resolved:
        entry["description"] = as_map(resolved["description"])
    kind = input_kind(resolved)
    if kind:
        entry["input"] = kind
    if key in AUTOCOMPLETE:
        entry["autocomplete"] = AUTOCOMPLETE[key]
    if isinstance(resolved.get("x-unit"), str):
        entry["unit"] = resolved["x-unit"]  # what a typed "30万" or "2亩" is read in
    choices = options(resolved)
    if choices is not None:
        entry["options"] = choices
    if resolved.get("type") == "object":
        required = set(resolved.get("required", []))
        entry["children"] = [
            {**describe_field(child, f"{path}.{child}", sub, catalog),
             "required": "always" if child in required else "optional"}
            for child, sub in resolved.get("properties", {}).items()
        ]
    item = resolve(resolved.get("items"), catalog) if resolved.get("type") == "array" else {}
    if item.get("type") == "object":
        # A repeating group (shareholders, vessels, premises): rows of the item's fields,
        # each named path.<row>.<key>; `item` lays out one row with paths relative to it.
        required = set(item.get("required", []))
        entry["widget"] = "rows"
        entry.pop("options", None)
        entry["item"] = [
            {**describe_field(child, child, sub, catalog),
             "required": "always" if child in required else "optional"}
            for child, sub in item.get("properties", {}).items()
        ]
        entry["min_rows"] = resolved.get("minItems", 0)
        entry["max_rows"] = resolved.get("maxItems")
    return entry


def row_entries(entry: dict, row: int) -> list[dict]:
    """The fields of one row of a repeating group, with their full paths."""
    return [_rebase(child, f"{entry['path']}.{row}") for child in entry["item"]]


def _rebase(entry: dict, prefix: str) -> dict:
    rebased = {**entry, "path": f"{prefix}.{entry['path']}"}
    if "children" in entry:
        rebased["children"] = [_rebase({**c, "path": c["path"].split(".")[-1]},
                                        rebased["path"]) for c in entry["children"]]
    return rebased


def _required(field_uses, conditions) -> str:
    flags = [conditions[u.matter.code] is None for u in field_uses if u.required]
    if any(flags):
        return "always"
    return "conditional" if flags else "optional"


def date_bounds(schemas: list[dict]) -> dict[str, list[str]]:
    """Every date bound the schemas put on a field, by keyword (for a date input's range)."""
    found: dict[str, list[str]] = {}
    for schema in schemas:
        for keyword in DATE_BOUNDS:
            for bound in bounds(schema, keyword):
                if bound not in found.setdefault(keyword, []):
                    found[keyword].append(bound)
    return {keyword: values for keyword, values in found.items() if values}


def group_columns(item: list[dict], row: dict, field_uses, conditions) -> list[dict]:
    """The columns of a repeating group that the matters asking for it take, each required
    always, only when a conditional matter applies, or never."""
    taken = union_columns([u.schema for u in field_uses], row)
    always = [u for u in field_uses if conditions[u.matter.code] is None]
    need: dict[str, str] = {}
    for use in field_uses:
        for column in required_columns(use.schema, row):
            firm = use in always
            need[column] = "always" if firm or need.get(column) == "always" else "conditional"
    return [{**child, "required": need.get(child["key"], "optional")}
            for child in item if child["key"] in taken]


def build_layout(bundle, matters, conditions, uses, catalog) -> dict:
    """Sections by topic for the shared fields, then one section per matter's own fields."""

    topics: dict[str, list[dict]] = {section: [] for section in SECTIONS}
    # (matter, field key) → {title, description}; a 一类事's own come before its stages'.
    overrides: dict[tuple[str, str], dict] = {}
    for source in [bundle, *(child for child, _ in bundle.stages())]:
        for matter_code, fields in source.data.get("overrides", {}).items():
            for key, override in fields.items():
                overrides.setdefault((matter_code, key), override)
    ruled = {matter.code: rule_required(matter) for matter in matters}
    yielded_by: dict[str, list] = {}
    for matter in matters:
        for key in matter.produces:
            yielded_by.setdefault(key, []).append(matter)
    own: dict[str, list[dict]] = {m.code: [] for m in matters}
    for path, field_uses in uses.items():
        first = field_uses[0]
        row = row_schema(catalog.fields.get(first.key)) if first.shared else None
        # A group's rows are laid out from the library's row, cut to the columns taken.
        schema = {k: v for k, v in first.schema.items() if k != "items"} if row is not None \
            else first.schema
        entry = describe_field(first.key, path, schema, catalog)
        if first.shared:
            # The one form asks a quantity in the library's unit, whatever a matter counts
            # it in (the matter's value is converted for its slice).
            unit = catalog.fields[first.key].data.get("x-unit")
            entry.pop("unit", None)
            if isinstance(unit, str):
                entry["unit"] = unit
        entry["required"] = _required(field_uses, conditions)
        override = next((overrides[(u.matter.code, u.key)] for u in field_uses
                         if (u.matter.code, u.key) in overrides), None)
        if override is not None:
            # The bundle's own words for a matter's field, on its one form only.
            entry.update({name: as_map(text) for name, text in override.items()
                          if name in ("title", "description")})
        yielding = yielded_by.get(first.key, []) if first.shared else []
        if yielding:
            # Handed over from a matter of the bundle (办结产出): asked only where none applies.
            entry["produced_by"] = [m.code for m in yielding]
            if any(conditions[m.code] is None for m in yielding):
                entry["required"] = "produced"
            elif entry["required"] == "always":
                entry["required"] = "conditional"
        if entry["required"] == "optional" and any(
                u.key in ruled[u.matter.code] for u in field_uses):
            entry["required"] = "conditional"  # required by a rule between fields
        entry["needed_by"] = [u.matter.code for u in field_uses]
        entry["departments"] = list(dict.fromkeys(u.matter.department for u in field_uses))
        entry["conditional"] = all(conditions[u.matter.code] is not None for u in field_uses)
        if entry["widget"] == "date":
            found = date_bounds([resolve(schema, catalog)] + [
                u.schema for u in field_uses if conditions[u.matter.code] is None])
            if found:
                entry["date_bounds"] = found
        if row is not None and entry["widget"] == "rows":
            entry["item"] = group_columns(entry["item"], row, field_uses, conditions)
        if first.shared:
            library = catalog.fields[first.key]
            entry["order"] = library.data.get("x-order", 1000)
            topics.setdefault(library.section, []).append(entry)
        else:
            own[first.matter.code].append(entry)
    # A bundle may name its sections itself (幼儿信息 rather than 新生儿信息); a 一类事's own
    # names come before its stages'.
    named: dict[str, Any] = {}
    for source in [bundle, *(child for child, _ in bundle.stages())]:
        for section, title in source.data.get("sections", {}).items():
            named.setdefault(section, title)
    sections = []
    for section, entries in topics.items():
        if entries:
            entries.sort(key=lambda e: e["order"])  # stable: ties keep first appearance
            sections.append({
                "id": section,
                "kind": "topic",
                "title": as_map(named[section]) if section in named
                else SECTIONS.get(section, as_map(section)),
                "fields": entries,
            })
    for matter in matters:
        if own[matter.code]:
            sections.append({
                "id": f"matter:{matter.code}",
                "kind": "matter",
                "matter": matter.code,
                "department": matter.department,
                "conditional": conditions[matter.code] is not None,
                "title": as_map(matter.name),
                "fields": own[matter.code],
            })
    return {"bundle": bundle.code, "sections": sections}
