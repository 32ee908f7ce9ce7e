"""Edits the console makes to definitions: plain functions from JSON data to JSON data.

Each takes a definition as stored in the working catalog and returns the
changed copy; the views save it with the revision the editor loaded, so a
concurrent edit is refused rather than lost (see working_catalog.save_definition).
"""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

from onething.catalog.typed import half_width
from onething.catalog.workdays import COUNTINGS, WORKING_DAYS
from onething.composer.scenario import named_questions

# The meta-schema's code (words of letters and digits joined by single dashes, at most
# 64), begun with a letter and at least 3 long.
CODE = re.compile(r"^(?=[a-z][a-z0-9-]{2,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$")
# Codes that name a console page rather than a definition (/admin/matters/new, …).
RESERVED_CODES = frozenset({"new", "choices"})
KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class EditRefused(ValueError):
    """An edit that makes no sense (an unknown item, a malformed code); nothing is saved.

    Its reasons name each thing to put right, as a form can be wrong in several inputs
    at once; str() is the first.
    """

    def __init__(self, *reasons: str):
        super().__init__(*reasons)
        self.reasons = reasons

    def __str__(self) -> str:
        return self.reasons[0]


def new_bundle(code: str, name_zh: str, name_en: str, kind: str, lead_department: str,
               first_matter: str) -> dict:
    """A new bundle holding one matter and no scenario questions yet."""
    if not CODE.match(code):
        raise EditRefused("code")
    if code in RESERVED_CODES:
        raise EditRefused("code_reserved")
    name = {"zh-Hans": name_zh.strip()}
    if name_en.strip():
        name["en"] = name_en.strip()
    return {
        "code": code,
        "name": name,
        "kind": kind,
        "lead_department": lead_department,
        "questions": {"type": "object", "properties": {}},
        "items": [{"matter": first_matter}],
    }


def add_item(bundle: dict, matter: str | None = None, nested: str | None = None) -> dict:
    """Add a matter (or, for 一类事, a bundle) to a bundle; adding one twice is refused."""
    changed = copy.deepcopy(bundle)
    key, code = ("matter", matter) if matter else ("bundle", nested)
    if not code or any(item.get(key) == code for item in changed["items"]):
        raise EditRefused("item")
    changed["items"].append({key: code})
    return changed


def remove_item(bundle: dict, index: int) -> dict:
    """Remove an item, and every `after` edge that named it."""
    changed = copy.deepcopy(bundle)
    if not 0 <= index < len(changed["items"]) or len(changed["items"]) == 1:
        raise EditRefused("item")
    removed = changed["items"].pop(index)
    code = removed.get("matter") or removed.get("bundle")
    after = changed.get("after", {})
    after.pop(code, None)
    for waiting, before in list(after.items()):
        after[waiting] = [c for c in before if c != code]
        if not after[waiting]:
            del after[waiting]
    if "after" in changed and not after:
        del changed["after"]
    # Its field overrides go with it: check refuses an override for a matter not held.
    changed.get("overrides", {}).pop(code, None)
    if "overrides" in changed and not changed["overrides"]:
        del changed["overrides"]
    return changed


def set_condition(bundle: dict, index: int, picks: list[tuple[str, str]]) -> dict:
    """Make an item apply only for some answers of one question (stored as a JSON Schema).

    No pick: the item always applies. One answer is a `const`, several an `enum`.
    """
    changed = copy.deepcopy(bundle)
    if not 0 <= index < len(changed["items"]):
        raise EditRefused("item")
    item = changed["items"][index]
    if not picks:
        item.pop("when", None)  # always applies
        return changed
    questions = {question for question, _ in picks}
    if len(questions) != 1:
        raise EditRefused("one_question")  # one question per condition, several answers
    question = questions.pop()
    schema = changed["questions"]["properties"].get(question)
    if schema is None:
        raise EditRefused("question")
    answers = [parse_answer(schema, value) for _, value in picks]
    rule = {"const": answers[0]} if len(answers) == 1 else {"enum": answers}
    item["when"] = {"properties": {question: rule}, "required": [question]}
    return changed


def parse_answer(schema: dict, value: str) -> Any:
    """A form's answer text as the question's JSON value (true/false, or one of its enum)."""
    if schema.get("type") == "boolean":
        if value not in ("true", "false"):
            raise EditRefused("answer")
        return value == "true"
    options = schema.get("enum") or [option.get("const") for option in schema.get("oneOf", [])]
    for option in options:
        if json.dumps(option, ensure_ascii=False) == value:
            return option
    raise EditRefused("answer")


def set_after(bundle: dict, waits: dict[str, list[str]]) -> dict:
    """Replace the `after` edges: which approval waits for which (checked for cycles later)."""
    changed = copy.deepcopy(bundle)
    codes = {item.get("matter") or item.get("bundle") for item in changed["items"]}
    edges = {}
    for waiting, before in waits.items():
        if waiting not in codes or not set(before) <= codes or waiting in before:
            raise EditRefused("after")
        if before:
            edges[waiting] = sorted(before)
    if edges:
        changed["after"] = edges
    else:
        changed.pop("after", None)
    return changed


def add_question(bundle: dict, key: str, title_zh: str, title_en: str,
                 options: list[tuple[str, str]] | None = None) -> dict:
    """Add a scenario question: yes/no, or one of several options (value, label)."""
    changed = copy.deepcopy(bundle)
    properties = changed["questions"].setdefault("properties", {})
    # Each refusal says which input is wrong, and why.
    if not KEY.match(key):
        raise EditRefused("question_key")
    if key in properties:
        raise EditRefused("question_taken")
    if not title_zh.strip():
        raise EditRefused("question_title")
    _check_options(options)
    title = {"zh-Hans": title_zh.strip()}
    if title_en.strip():
        title["en"] = title_en.strip()
    if options:
        properties[key] = {"type": "string", "title": title,
                           "oneOf": [{"const": value, "title": {"zh-Hans": label}}
                                     for value, label in options]}
    else:
        properties[key] = {"type": "boolean", "title": title}
    changed["questions"].setdefault("required", []).append(key)
    return changed


def typed_code(text: str) -> str:
    """A code as an administrator types or pastes it: trimmed, lower case, and half width
    (ｓｎ－ｔｅｓｔ, typed with an IME left on, is sn-test)."""
    return half_width(text).strip().lower()


def _check_options(options: list[tuple[str, str]] | None) -> None:
    # Two options with one value cannot be told apart: an applicant choosing either would
    # be refused. A line with a label and no value ("=丁") is a typo, never dropped.
    values = [value for value, _ in options or []]
    if "" in values or len(set(values)) != len(values):
        raise EditRefused("options")


def needed_questions(bundle: dict, matters: dict) -> dict[str, dict]:
    """The questions the bundle's matters ask of it and it does not ask yet: by key, the
    matters (codes) whose materials' conditions name it and the answers they name.

    A matter's material that depends on an answer (消防: 告知承诺 or 现场检查) needs its
    bundle to ask that question: said when the matter is added, not only at publish."""
    from onething.composer.scenario import named_questions

    asked = set((bundle.get("questions") or {}).get("properties") or {})
    needed: dict[str, dict] = {}
    for item in bundle.get("items", []):
        matter = matters.get(item.get("matter"))
        if matter is None:
            continue
        for material in matter.materials:
            when = material.get("when")
            for name in sorted(named_questions(when) - asked):
                found = needed.setdefault(name, {"matters": [], "answers": []})
                if matter.code not in found["matters"]:
                    found["matters"].append(matter.code)
                for value in _answers_named(when, name):
                    if value not in found["answers"]:
                        found["answers"].append(value)
    return needed


def _answers_named(condition, name: str) -> list:
    # The answers a condition names for one question (const, enum), wherever it nests.
    found: list = []
    if isinstance(condition, dict):
        schema = (condition.get("properties") or {}).get(name)
        if isinstance(schema, dict):
            if "const" in schema:
                found.append(schema["const"])
            found += [v for v in schema.get("enum") or [] if v not in found]
        for value in condition.values():
            for part in value if isinstance(value, list) else [value]:
                found += [v for v in _answers_named(part, name) if v not in found]
    return found


def remove_question(bundle: dict, key: str) -> dict:
    """Remove a question no condition uses (else refused, naming the items whose do)."""
    changed = copy.deepcopy(bundle)
    properties = changed["questions"].get("properties", {})
    if key not in properties:
        raise EditRefused("question")
    using = conditions_naming(changed, key)
    if using:
        # Silently making those items apply always would change who must apply for what.
        raise QuestionInUse(using)
    del properties[key]
    required = [k for k in changed["questions"].get("required", []) if k != key]
    if required:
        changed["questions"]["required"] = required
    else:
        changed["questions"].pop("required", None)
    return changed


def condition_text(when: Any, questions: dict, locale_text, answers) -> str | None:
    """A `when` as people read it: "question = answer", or None when it always applies.

    `answers(schema)` gives a question's (JSON value, label) pairs, the labels the
    condition picker shows, so the summary says 是 where the definition says true.
    """
    if not when:
        return None
    parts = []
    for key, rule in (when.get("properties") or {}).items():
        schema = questions.get("properties", {}).get(key, {})
        title = locale_text(schema.get("title", key))
        values = _rule_values(rule)
        # A question of several choices: the condition is that one of them was chosen.
        within = _rule_values(rule.get("contains")) if isinstance(rule, dict) else None
        if values is not None or within is not None:
            labels = dict(answers(schema.get("items", schema) if within is not None
                                  else schema))
            shown = [json.dumps(value, ensure_ascii=False) for value in (values or within)]
            sign = "∋" if within is not None else "="
            parts.append(f"{title} {sign} {' / '.join(labels.get(s, s) for s in shown)}")
        else:
            parts.append(f"{title}: {json.dumps(rule, ensure_ascii=False)}")
    return "; ".join(parts) or json.dumps(when, ensure_ascii=False)


def _rule_values(rule: Any) -> list | None:
    """The answers a condition accepts (its const, or its enum), else None."""
    if isinstance(rule, dict) and "const" in rule:
        return [rule["const"]]
    if isinstance(rule, dict) and isinstance(rule.get("enum"), list):
        return rule["enum"]
    return None


# --- matters ----------------------------------------------------------------------------------

FIELD_TYPES = ("string", "integer", "number", "boolean", "date")
NECESSITIES = ("required", "optional", "deferrable")


def _localized(zh: str, hant: str = "", en: str = "") -> dict:
    text = {"zh-Hans": zh.strip()}
    if hant.strip():
        text["zh-Hant"] = hant.strip()
    if en.strip():
        text["en"] = en.strip()
    return text


def add_field(matter: dict, key: str, *, library: dict | None = None, kind: str = "string",
              title_zh: str = "", title_en: str = "", title_hant: str = "",
              required: bool = False,
              minimum: str = "", maximum: str = "", max_length: str = "",
              options: list[tuple[str, str]] | None = None) -> dict:
    """Add a field row: a shared one from the library (by its key), or a local one.

    Refused, it names every input to put right: the key (malformed, or used already),
    the type, the 简体中文 title, each bound that is no number, a minimum above the maximum.
    """
    changed = copy.deepcopy(matter)
    form = changed["form"]
    properties = form.setdefault("properties", {})
    reasons = []
    if not KEY.match(key):
        reasons.append("field_key")
    elif key in properties:
        reasons.append("field_taken")
    if library is not None:
        if not reasons and key not in library:
            reasons.append("field_library")
        if reasons:
            raise EditRefused(*reasons)
        properties[key] = {"$ref": library[key]}
    else:
        if kind not in FIELD_TYPES:
            reasons.append("field_type")
        if not title_zh.strip():
            reasons.append("field_title")
        schema: dict[str, Any] = ({"type": "string", "format": "date"} if kind == "date"
                                  else {"type": kind})
        schema["title"] = _localized(title_zh, title_hant, title_en)
        number = float if kind == "number" else int
        for name, bound, typed, read in (("minimum", "minimum", minimum, number),
                                         ("maximum", "maximum", maximum, number),
                                         ("max_length", "maxLength", max_length, int)):
            if typed.strip() and (name != "max_length" or kind == "string"):
                try:
                    value = read(typed)
                except ValueError:
                    value = math.nan
                # Not a number, nan or infinity (no JSON), or a negative length.
                if not math.isfinite(value) or (name == "max_length" and value < 0):
                    reasons.append(name)
                else:
                    schema[bound] = value
        if schema.get("minimum", -math.inf) > schema.get("maximum", math.inf):
            reasons.append("bounds_crossed")
        if options and kind == "string":
            try:
                _check_options(options)
            except EditRefused:
                reasons.append("options")
        if reasons:
            raise EditRefused(*reasons)
        if options and kind == "string":
            schema["oneOf"] = [{"const": value, "title": {"zh-Hans": label}}
                               for value, label in options]
        properties[key] = schema
    if required:
        form.setdefault("required", []).append(key)
    return changed


def remove_field(matter: dict, key: str) -> dict:
    """Remove a field row (and its required mark)."""
    changed = copy.deepcopy(matter)
    form = changed["form"]
    if key not in form.get("properties", {}):
        raise EditRefused("unknown_field")
    del form["properties"][key]
    if key in form.get("required", []):
        form["required"] = [k for k in form["required"] if k != key]
    return changed


def set_required(matter: dict, key: str, required: bool) -> dict:
    """Mark a field required or optional."""
    changed = copy.deepcopy(matter)
    form = changed["form"]
    if key not in form.get("properties", {}):
        raise EditRefused("unknown_field")
    keys = [k for k in form.get("required", []) if k != key]
    if required:
        keys.append(key)
    form["required"] = keys
    return changed


def add_material(matter: dict, material_id: str, name_zh: str, necessity: str,
                 commitment: bool, shared_data: bool, medium: str = "either",
                 copies: int = 1) -> dict:
    """Add a material row with its flags (容缺 deferrable, 告知承诺, 电子证照 shared data)."""
    changed = copy.deepcopy(matter)
    reasons = []
    if not CODE.match(material_id):
        reasons.append("material_id")
    elif any(m["id"] == material_id for m in changed["materials"]):
        reasons.append("material_taken")
    if not name_zh.strip():
        reasons.append("material_name")
    if necessity not in NECESSITIES:
        reasons.append("necessity")
    if reasons:
        raise EditRefused(*reasons)
    material = {"id": material_id, "name": _localized(name_zh), "type": "other",
                "medium": medium, "copies": copies, "necessity": necessity,
                "source": "applicant"}
    if commitment:
        material["commitment"] = True
    if shared_data:
        material["shared_data"] = True
    changed["materials"].append(material)
    return changed


def set_material(matter: dict, material_id: str, necessity: str, commitment: bool,
                 shared_data: bool) -> dict:
    """Change a material's flags."""
    changed = copy.deepcopy(matter)
    material = next((m for m in changed["materials"] if m["id"] == material_id), None)
    if material is None:
        raise EditRefused("unknown_material")
    if necessity not in NECESSITIES:
        raise EditRefused("necessity")
    material["necessity"] = necessity
    for flag, value in (("commitment", commitment), ("shared_data", shared_data)):
        if value:
            material[flag] = True
        else:
            material.pop(flag, None)
    return changed


def remove_material(matter: dict, material_id: str) -> dict:
    """Remove a material row."""
    changed = copy.deepcopy(matter)
    kept = [m for m in changed["materials"] if m["id"] != material_id]
    if len(kept) == len(changed["materials"]):
        raise EditRefused("unknown_material")
    changed["materials"] = kept
    return changed


GUIDE_TEXTS = ("location", "hours")
MOST_DAYS = 365  # the meta-schema's days (common.json), and its visits
MOST_VISITS = 10
GUIDE_SCALARS = ("consult_phone", "complaint_phone")


def typed_count(text: str, most: int) -> int | None:
    """A whole number as typed (full-width digits too, as an IME types them) from 0 to
    most, or None: anything else, ² and ① included, is refused, never a 500."""
    try:
        count = int(text.strip())
    except ValueError:  # not a number, or more digits than Python reads
        return None
    return count if 0 <= count <= most else None


def set_guide(matter: dict, form: dict[str, str]) -> dict:
    """The guide elements (办事指南) a form edits: time limits, visits, places, hours, phones."""
    changed = copy.deepcopy(matter)
    # Each count refused is named (the reason is its input's name), all of them at once.
    reasons = []
    for name, most in (("legal_days", MOST_DAYS), ("promised_days", MOST_DAYS),
                       ("visits", MOST_VISITS)):
        count = typed_count(form.get(name, ""), most)
        if count is None:
            reasons.append(name)
        elif name == "visits":
            changed["visits"] = count
        else:
            changed["time_limit"][name] = count
    counting = form.get("counting")
    if counting is not None and counting not in COUNTINGS:
        reasons.append("counting")
    handling = form.get("handling") if form.get("handling") in ("on_the_spot", "promised") \
        else changed.get("handling")
    limits = changed["time_limit"]
    if not {"legal_days", "promised_days"} & set(reasons):
        # Refused here, at its input, as publishing would: not saved to fail later.
        if limits["promised_days"] > limits["legal_days"]:
            reasons.append("promised_over_legal")
        elif handling == "on_the_spot" and limits["promised_days"] != 0:
            reasons.append("on_the_spot_days")
    if reasons:
        raise EditRefused(*reasons)
    if counting is not None:
        # Working days are the default: a definition that never said so is left as it was.
        if counting != WORKING_DAYS or "counting" in changed["time_limit"]:
            changed["time_limit"]["counting"] = counting
    if form.get("handling") in ("on_the_spot", "promised"):
        changed["handling"] = form["handling"]
    for name in GUIDE_TEXTS:
        if form.get(f"{name}.zh-Hans", "").strip():
            changed[name] = _localized(form[f"{name}.zh-Hans"], form.get(f"{name}.zh-Hant", ""),
                                       form.get(f"{name}.en", ""))
    for name in GUIDE_SCALARS:
        if form.get(name, "").strip():
            changed[name] = form[name].strip()
    # 受理条件: one per line, the lines of each language matched by position.
    lines = {locale: [line.strip() for line in form.get(f"conditions.{locale}", "").splitlines()
                      if line.strip()] for locale in ("zh-Hans", "zh-Hant", "en")}
    if lines["zh-Hans"]:
        changed["conditions"] = [
            _localized(zh, *(lines[other][i] if i < len(lines[other]) else ""
                             for other in ("zh-Hant", "en")))
            for i, zh in enumerate(lines["zh-Hans"])]
    if "fee_charged" in form or form.get("fee.zh-Hans", "").strip():
        fee = changed.setdefault("fee", {})
        fee["charged"] = form.get("fee_charged") == "true"
        if form.get("fee.zh-Hans", "").strip():
            fee["basis"] = _localized(form["fee.zh-Hans"], form.get("fee.zh-Hant", ""),
                                      form.get("fee.en", ""))
        if "fee_items" in form:
            items = fee_items(form["fee_items"], fee.get("items") or [])
            if fee["charged"] and not items:
                raise EditRefused("fee_items")  # 收费: the guide lists what is charged
            if items:
                fee["items"] = items
            else:
                fee.pop("items", None)
    return changed


def fee_items(text: str, before: list[dict]) -> list[dict]:
    """收费项目 written one per line as "name | standard | basis" (the basis may be left
    out); an item whose Chinese name is unchanged keeps its translations and its amount
    formula. A line without its standard is refused, never half-saved."""
    old = {text_in(item.get("name"), "zh-Hans"): item for item in before
           if isinstance(item, dict)}
    items = []
    for line in text.splitlines():
        parts = [part.strip() for part in re.split(r"[|｜]", line)]
        if not any(parts):
            continue
        if len(parts) < 2 or not parts[0] or not parts[1] or len(parts) > 3:
            raise EditRefused("fee_items")
        name, standard, basis = (*parts, "")[:3]
        kept = old.get(name, {})
        item = {"name": _kept_text(kept, "name", name),
                "standard": _kept_text(kept, "standard", standard)}
        if basis:
            item["basis"] = _kept_text(kept, "basis", basis)
        if "amount" in kept:
            item["amount"] = kept["amount"]
        items.append(item)
    return items


def text_in(text, locale: str) -> str:
    """One language of a localized text as stored (a plain string is 简体中文); "" when
    it has none."""
    if isinstance(text, str):
        return text if locale == "zh-Hans" else ""
    return text.get(locale, "") if isinstance(text, dict) else ""


def _kept_text(before: dict, key: str, zh: str) -> dict | str:
    # The other languages stay while the Chinese did not change.
    earlier = before.get(key)
    return earlier if text_in(earlier, "zh-Hans") == zh else {"zh-Hans": zh}


# --- a bundle's own properties, questions and field overrides ---------------------------------

AUDIENCES = ("person", "enterprise")
RELEASES = ("together", "per_matter")
# Keywords are typed one per line, or separated by commas (ASCII or Chinese) or 、.
KEYWORD_SEPARATORS = re.compile(r"[\n,，、;；]+")
THEME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def bundle_departments(bundle: dict, department_of: dict[str, str],
                       nested: dict[str, dict] | None = None) -> list[str]:
    """The departments a lead may be chosen among: those of the bundle's matters, in order,
    a nested bundle's (一类事) as its items stand: its lead, then its matters'."""
    codes: list[str | None] = []
    for item in bundle["items"]:
        if "matter" in item:
            codes.append(department_of.get(item["matter"]))
        elif (inner := (nested or {}).get(item["bundle"])) is not None:
            codes.append(inner.get("lead_department"))
            codes += bundle_departments(inner, department_of, nested)
    return [code for code in dict.fromkeys(codes) if code]


def set_properties(bundle: dict, form: dict[str, str], departments: list[str]) -> dict:
    """Description, keywords, audience, theme (stage), release mode and lead department.

    An empty choice removes the key (the platform's default applies); a wrong one is
    refused by the name of its field.
    """
    changed = copy.deepcopy(bundle)
    description = {locale: form.get(f"description.{locale}", "").strip()
                   for locale in ("zh-Hans", "zh-Hant", "en")}
    if any(description.values()):
        if not description["zh-Hans"]:
            raise EditRefused("description")
        changed["description"] = _localized(description["zh-Hans"], description["zh-Hant"],
                                            description["en"])
    else:
        changed.pop("description", None)
    keywords = [k.strip() for k in KEYWORD_SEPARATORS.split(form.get("keywords", ""))]
    keywords = list(dict.fromkeys(k for k in keywords if k))  # uniqueItems: a repeat is dropped
    if keywords:
        changed["keywords"] = keywords
    else:
        changed.pop("keywords", None)
    for name, allowed in (("audience", AUDIENCES), ("release", RELEASES)):
        value = form.get(name, "").strip()
        if value and value not in allowed:
            raise EditRefused(name)
        if value:
            changed[name] = value
        else:
            changed.pop(name, None)
    theme = form.get("theme", "").strip()
    if theme and (not THEME.match(theme) or len(theme) > 64):
        raise EditRefused("theme")
    if theme:
        changed["theme"] = theme
    else:
        changed.pop("theme", None)
    lead = form.get("lead_department", "").strip()
    if lead:
        if lead not in departments and lead != bundle.get("lead_department"):
            raise EditRefused("lead_department")
        changed["lead_department"] = lead
    elif departments:
        # None chosen: the first matter's department, which the editor names beside the choice.
        changed["lead_department"] = departments[0]
    return changed


def question_values(schema: dict) -> list:
    """The JSON values a question's answer can take (true/false, or its options)."""
    if schema.get("type") == "boolean":
        return [True, False]
    if "oneOf" in schema:
        return [option.get("const") for option in schema["oneOf"]]
    return list(schema.get("enum", []))


def conditions_naming(bundle: dict, key: str) -> list[str]:
    """The items whose condition names a question (their codes)."""
    return [item.get("matter") or item.get("bundle") for item in bundle["items"]
            if key in named_questions(item.get("when"))]


class QuestionInUse(EditRefused):
    """A question a condition still uses: the items are named in the message."""

    def __init__(self, items: list[str]):
        super().__init__("question_in_use")
        self.items = items


def set_question(bundle: dict, key: str, form: dict[str, str],
                 options: list[tuple[str, str]] | None) -> dict:
    """Edit a question in place: its title and help text, its answers, whether it is required.

    Answers a condition still uses cannot be taken away (nor a yes/no turned into options).
    """
    changed = copy.deepcopy(bundle)
    properties = changed["questions"].get("properties", {})
    if key not in properties or not form.get("title.zh-Hans", "").strip():
        raise EditRefused("question_title")
    old = properties[key]
    schema: dict[str, Any] = {k: v for k, v in old.items()
                              if k not in ("type", "title", "description", "oneOf", "enum")}
    if options:
        _check_options(options)
        # Labels kept in the languages the old options had, where the label did not change.
        before = {o.get("const"): o for o in old.get("oneOf", [])}
        choices = [{"const": value, "title": _kept_text(before.get(value, {}), "title", label)}
                   for value, label in options]
        schema = {"type": "string", **schema, "oneOf": choices}
    else:
        schema = {"type": "boolean", **schema}
    schema["title"] = _localized(form["title.zh-Hans"], form.get("title.zh-Hant", ""),
                                 form.get("title.en", ""))
    if form.get("help.zh-Hans", "").strip():
        schema["description"] = _localized(form["help.zh-Hans"], form.get("help.zh-Hant", ""),
                                           form.get("help.en", ""))
    elif any(form.get(f"help.{locale}", "").strip() for locale in ("zh-Hant", "en")):
        raise EditRefused("question_help")
    kept = question_values(schema)
    using = []
    for item in changed["items"]:
        if key in named_questions(item.get("when")):
            # A rule other than const/enum is left to check; an answer it names must stay.
            values = _rule_values((item["when"].get("properties") or {}).get(key)) or []
            if any(value not in kept for value in values):
                using.append(item.get("matter") or item.get("bundle"))
    if using:
        raise QuestionInUse(using)
    # Written as people read it: type, title, help, options, then whatever else it had.
    first = ("type", "title", "description", "oneOf")
    properties[key] = ({k: schema[k] for k in first if k in schema}
                       | {k: v for k, v in schema.items() if k not in first})
    required = [k for k in changed["questions"].get("required", []) if k != key]
    if form.get("required"):
        required.append(key)
        required.sort(key=list(properties).index)
    if required:
        changed["questions"]["required"] = required
    else:
        changed["questions"].pop("required", None)
    return changed


def move_question(bundle: dict, key: str, step: int) -> dict:
    """Ask a question one place earlier (-1) or later (+1)."""
    changed = copy.deepcopy(bundle)
    properties = changed["questions"].get("properties", {})
    keys = list(properties)
    if key not in keys or step not in (-1, 1):
        raise EditRefused("question_title")
    at = keys.index(key)
    to = min(max(at + step, 0), len(keys) - 1)
    keys.insert(to, keys.pop(at))
    changed["questions"]["properties"] = {k: properties[k] for k in keys}
    return changed


def set_override(bundle: dict, matter: str, field: str, form: dict[str, str],
                 fields_of: dict[str, list[str]]) -> dict:
    """Retitle or explain one matter's field on this bundle's one form only (empty: remove)."""
    changed = copy.deepcopy(bundle)
    held = [item["matter"] for item in changed["items"] if "matter" in item]
    if matter not in held or field not in fields_of.get(matter, []):
        raise EditRefused("override")
    override = {}
    for name in ("title", "description"):
        text = {locale: form.get(f"{name}.{locale}", "").strip()
                for locale in ("zh-Hans", "zh-Hant", "en")}
        if any(text.values()):
            if not text["zh-Hans"]:
                raise EditRefused("override_text")
            override[name] = _localized(text["zh-Hans"], text["zh-Hant"], text["en"])
    overrides = changed.setdefault("overrides", {})
    if override:
        overrides.setdefault(matter, {})[field] = override
    else:
        overrides.get(matter, {}).pop(field, None)
        if not overrides.get(matter):
            overrides.pop(matter, None)
    if not overrides:
        changed.pop("overrides", None)
    return changed
