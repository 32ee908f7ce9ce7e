"""New matters (事项) and departments, and a department's own page, at /admin.

Before these forms, a matter or a department came into the working catalog only by
importing its JSON file. Each form asks for what the guide (办事指南) needs and the
meta-schema requires, says at each field what is wrong, and keeps everything typed;
what it builds is saved into the working catalog like any edit, and goes live when a
matter or bundle naming it is published. A new matter then opens in the matter editor,
where its fields and materials are added.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from pypinyin import lazy_pinyin
from sqlmodel import col, select

from onething.accounts.service import current_account
from onething.catalog.definitions import Catalog
from onething.catalog.problems import DefinitionError
from onething.catalog.text import localize
from onething.catalog.workdays import china_time
from onething.guides.views import SERVES as SERVES_NAMES
from onething.publishing.working_catalog import (
    StaleEdit,
    document,
    find_entry,
    save_definition,
)
from onething.storage.models import CatalogEntry
from onething.web.extensions import get_session
from onething_admin.editing import (
    CODE,
    MOST_DAYS,
    MOST_VISITS,
    RESERVED_CODES,
    text_in,
    typed_code,
    typed_count,
)
from onething_admin.views import LEVELS, REFUSALS, _guard, _lang, _metas, _said

bp = Blueprint("definitions", __name__, url_prefix="/admin", template_folder="templates")
bp.before_request(_guard)

PHONE = re.compile(r"^[0-9][0-9 -]{2,19}$")
MAX_TEXT = 2000

CATEGORIES = {
    "administrative_licence": _l("Administrative licence (行政许可)"),
    "administrative_confirmation": _l("Administrative confirmation (行政确认)"),
    "administrative_filing": _l("Administrative filing (行政备案)"),
    "administrative_payment": _l("Administrative payment (行政给付)"),
    "administrative_award": _l("Administrative award (行政奖励)"),
    "administrative_ruling": _l("Administrative ruling (行政裁决)"),
    "other_administrative_power": _l("Other administrative power (其他行政权力)"),
    "public_service": _l("Public service (公共服务)"),
}
HANDLINGS = {"promised": _l("Promised (承诺件): decided within the promised days"),
             "on_the_spot": _l("On the spot (即办件): decided while the applicant waits")}
RESULT_TYPES = {"certificate": _l("A certificate or licence"),
                "approval_document": _l("An approval document"),
                "other": _l("Something else"), "none": _l("Nothing is issued")}
# Who a matter serves, named as the guide names them, in the meta-schema's order.
SERVES = tuple(SERVES_NAMES)

MESSAGES = {
    # The console's other forms say these already: one wording, translated once.
    "code": REFUSALS["code"],
    "code_reserved": REFUSALS["code_reserved"],
    "code_taken_matter": REFUSALS["taken"],
    "code_taken_department": _l("A department already has this code."),
    "name": _l("Write the name in 简体中文."),
    "department": _l("Choose the department that handles it."),
    "parent": _l("Choose a department of the same or a higher level, or none."),
    "level": _l("Choose the level."),
    "parent_cycle": _l("That department answers to this one: a department cannot answer to "
                       "its own subordinate."),
    "level_below_child": _l("A department answering to this one is at a higher level: change "
                            "its level or parent first."),
    "category": _l("Choose the kind of matter."),
    "serves": _l("Choose at least one kind of applicant."),
    "handling": _l("Choose how it is decided."),
    "legal_days": REFUSALS["legal_days"],
    "promised_days": REFUSALS["promised_days"],
    "promised_over_legal": REFUSALS["promised_over_legal"],
    "on_the_spot_days": REFUSALS["on_the_spot_days"],
    "visits": _l("Write how many times the applicant comes, from 0 to 10."),
    "legal_basis": _l("Name the law or regulation that sets this matter up."),
    "conditions": _l("Write at least one condition, one per line."),
    "result_type": _l("Choose what the applicant gets."),
    "result_name": _l("Name what the applicant gets, such as 食品经营许可证."),
    "phone": _l("Write a telephone number as dialled, such as 0532-88888888 or 12345."),
    "address": _l("Write where applicants go."),
    "office_hours": _l("Write when the department is open."),
    "too_long": _l("This is too long: at most 2,000 characters."),
}


def _text(zh: str, hant: str | None = None, en: str | None = None, before=None) -> dict:
    """Localized text from a form's inputs (None: the form does not show that language).

    A translation the form does not show is kept while the Chinese it translates is
    unchanged, and dropped when that changes: it would say something else.
    """
    text = {"zh-Hans": zh.strip()}
    if isinstance(before, dict) and before.get("zh-Hans") == text["zh-Hans"]:
        text.update({k: v for k, v in before.items() if k != "zh-Hans"})
    for key, value in (("zh-Hant", hant), ("en", en)):
        if value is not None:
            if value.strip():
                text[key] = value.strip()
            else:
                text.pop(key, None)
    return text


def _count(form, name: str, most: int, errors: dict) -> int | None:
    count = typed_count(form.get(name, ""), most)
    if count is None:
        errors[name] = name
    return count


def _required_text(form, name: str, errors: dict, reason: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        errors[name] = reason
    elif len(value) > MAX_TEXT:
        errors[name] = "too_long"
    return value


def _phone(form, name: str, errors: dict, required: bool) -> str:
    value = form.get(name, "").strip()
    if (value or required) and not PHONE.match(value):
        errors[name] = "phone"
    return value


def _code(form, kind: str, errors: dict) -> str:
    code = typed_code(form.get("code", ""))
    session = get_session()
    if not CODE.match(code):
        errors["code"] = "code"
    elif code in RESERVED_CODES:
        errors["code"] = "code_reserved"
    elif kind == "department" and find_entry(session, "department", code) is not None:
        errors["code"] = "code_taken_department"
    elif kind == "matter" and (find_entry(session, "matter", code) is not None
                               or find_entry(session, "bundle", code) is not None):
        errors["code"] = "code_taken_matter"
    return code


def build_matter(form, departments: dict[str, dict]) -> tuple[dict, dict[str, str]]:
    """A matter definition from the new-matter form, and what is wrong, by input name.

    Where the guide's location, hours and phones are left empty, they are the
    department's. The matter's form starts with the applicant's name (a person's, or
    an organisation's), which every application asks for; the editor adds the rest.
    """
    errors: dict[str, str] = {}
    code = _code(form, "matter", errors)
    name = _required_text(form, "name_zh", errors, "name")
    department = departments.get(form.get("department", ""))
    if department is None:
        errors["department"] = "department"
    category = form.get("category", "")
    if category not in CATEGORIES:
        errors["category"] = "category"
    serves = [value for value in SERVES if value in form.getlist("serves")]
    if not serves:
        errors["serves"] = "serves"
    handling = form.get("handling", "")
    if handling not in HANDLINGS:
        errors["handling"] = "handling"
    legal = _count(form, "legal_days", MOST_DAYS, errors)
    promised = _count(form, "promised_days", MOST_DAYS, errors)
    if legal is not None and promised is not None:
        if promised > legal:
            errors["promised_days"] = "promised_over_legal"
        elif handling == "on_the_spot" and promised != 0:
            errors["promised_days"] = "on_the_spot_days"
    visits = _count(form, "visits", MOST_VISITS, errors)
    basis = _required_text(form, "legal_basis", errors, "legal_basis")
    conditions = [line.strip() for line in form.get("conditions", "").splitlines()
                  if line.strip()]
    if not conditions:
        errors["conditions"] = "conditions"
    elif any(len(line) > MAX_TEXT for line in conditions):
        errors["conditions"] = "too_long"
    result_type = form.get("result_type", "")
    if result_type not in RESULT_TYPES:
        errors["result_type"] = "result_type"
    result_name = _required_text(form, "result_name", errors, "result_name")
    phones = {key: _phone(form, key, errors, required=False)
              for key in ("consult_phone", "complaint_phone")}
    for key in ("location", "hours"):
        if len(form.get(key, "")) > MAX_TEXT:
            errors[key] = "too_long"
    if errors:
        return {}, errors
    legal_basis = {"name": _text(basis)}
    if form.get("legal_basis_number", "").strip():
        legal_basis["number"] = form["legal_basis_number"].strip()
    if form.get("legal_basis_article", "").strip():
        legal_basis["article"] = _text(form["legal_basis_article"])
    person = "natural_person" in serves
    first_fields = (["applicant_name"] if person else []) + (
        ["entity_name"] if any(value != "natural_person" for value in serves) else [])
    return {
        "code": code,
        "name": _text(name, form.get("name_hant", ""), form.get("name_en", "")),
        "department": department["code"],
        "category": category,
        "serves": serves,
        "legal_basis": [legal_basis],
        "conditions": [_text(line) for line in conditions],
        "handling": handling,
        "time_limit": {"legal_days": legal, "promised_days": promised},
        "visits": visits,
        "fee": {"charged": False},
        "location": _text(form["location"]) if form.get("location", "").strip()
        else department["address"],
        "hours": _text(form["hours"]) if form.get("hours", "").strip()
        else department["office_hours"],
        "consult_phone": phones["consult_phone"] or department["consult_phone"],
        # 12345, the government service hotline, takes complaints where a department
        # names no line of its own.
        "complaint_phone": (phones["complaint_phone"] or department.get("complaint_phone")
                            or "12345"),
        "result": {"type": result_type, "name": _text(result_name)},
        "form": {"type": "object",
                 "properties": {key: {"$ref": f"https://onething.example/fields/{key}"}
                                for key in first_fields},
                 "required": first_fields},
        "materials": [],
    }, {}


def build_department(form, departments: dict[str, dict], before: dict | None = None
                     ) -> tuple[dict, dict[str, str]]:
    """A department definition from its form (a new one, or `before` changed), and what is
    wrong, by input name."""
    errors: dict[str, str] = {}
    code = before["code"] if before else _code(form, "department", errors)
    name = _required_text(form, "name_zh", errors, "name")
    level = form.get("level", "")
    if level not in LEVELS:
        errors["level"] = "level"
    parent_code = form.get("parent", "")
    parent = departments.get(parent_code)
    levels = list(LEVELS)
    if parent_code and (parent is None or parent_code == code or (
            level in LEVELS and levels.index(parent["level"]) > levels.index(level))):
        errors["parent"] = "parent"
    elif parent_code and code in _ancestors(parent_code, departments):
        errors["parent"] = "parent_cycle"
    if level in LEVELS and any(
            levels.index(child["level"]) < levels.index(level)
            for child in departments.values() if child.get("parent") == code):
        errors["level"] = "level_below_child"
    consult = _phone(form, "consult_phone", errors, required=True)
    complaint = _phone(form, "complaint_phone", errors, required=False)
    address = _required_text(form, "address", errors, "address")
    hours = _required_text(form, "office_hours", errors, "office_hours")
    if errors:
        return {}, errors
    old = before or {}
    data = {key: value for key, value in old.items()
            if key not in ("parent", "complaint_phone", "short_name")}
    data.update({
        "code": code,
        "name": _text(name, form.get("name_hant", ""), form.get("name_en", ""),
                      old.get("name")),
        "level": level,
        "consult_phone": consult,
        "address": _text(address, before=old.get("address")),
        "office_hours": _text(hours, before=old.get("office_hours")),
    })
    if form.get("short_name_zh", "").strip():
        data["short_name"] = _text(form["short_name_zh"], before=old.get("short_name"))
    if parent_code:
        data["parent"] = parent_code
    if complaint:
        data["complaint_phone"] = complaint
    return data, {}


def _ancestors(code: str, departments: dict[str, dict]) -> list[str]:
    """The departments a department answers to, nearest first (a cycle is walked once)."""
    found: list[str] = []
    while code in departments and code not in found:
        found.append(code)
        code = departments[code].get("parent", "")
    return found


def _departments() -> Catalog:
    """Every department of the working catalog (a city has a few hundred at most)."""
    return Catalog(document(entry) for entry in get_session().exec(select(CatalogEntry).where(
        CatalogEntry.kind == "department").order_by(col(CatalogEntry.code))))


def _definitions(catalog: Catalog) -> dict[str, dict]:
    return {code: department.data for code, department in catalog.departments.items()}


def _options(catalog: Catalog, but: str = "") -> list[tuple[str, str]]:
    """The departments to choose from: the higher levels first, each level by the pinyin
    of its names (as a Chinese list is ordered), each named in the page's language."""
    levels = list(LEVELS)
    ordered = sorted(
        (d for code, d in catalog.departments.items() if code != but),
        key=lambda d: (levels.index(d.data["level"]) if d.data.get("level") in LEVELS
                       else len(levels), lazy_pinyin(localize(d.name))))
    return [(d.code, f"{localize(d.name, _lang())} ({d.code})") for d in ordered]


@bp.route("/matters/new", methods=["GET", "POST"])
def new_matter():
    """A new matter from its guide elements; the matter editor takes it from there."""
    departments = _departments()
    errors: dict[str, str] = {}
    problem = None
    if request.method == "POST":
        data, errors = build_matter(request.form, _definitions(departments))
        if not errors:
            try:
                save_definition(get_session(), "matter", data, based_on=None,
                                saved_by=current_account().username, metas=_metas())
                return redirect(url_for("admin.matter", code=data["code"]), 303)
            except DefinitionError as refused:
                get_session().rollback()
                # The forms build only what the meta-schema accepts; should one not, it is said.
                problem = _said(refused.problems)
    return render_template(
        "admin/new_matter.html", departments=_options(departments),
        serves={value: SERVES_NAMES[value] for value in SERVES},
        errors={name: MESSAGES[reason] for name, reason in errors.items()},
        problem=problem, categories=CATEGORIES, handlings=HANDLINGS,
        result_types=RESULT_TYPES, form=request.form,
    ), 422 if errors or problem else 200


@bp.route("/departments/new", methods=["GET", "POST"])
def new_department():
    """A new department: where and when applicants reach it, and whom it answers to."""
    return _department_form(None)


@bp.route("/departments/<code>", methods=["GET", "POST"])
def department(code: str):
    """A department's page: change its name, level, parent, address, hours and phones."""
    entry = find_entry(get_session(), "department", code)
    if entry is None:
        abort(404)
    return _department_form(entry)


def _department_form(entry: CatalogEntry | None):
    before = document(entry).data if entry is not None else None
    departments = _departments()
    errors: dict[str, str] = {}
    problem = message = None
    status = 200
    if request.method == "POST":
        data, errors = build_department(request.form, _definitions(departments), before)
        if not errors:
            try:
                based_on = int(request.form.get("revision", "")) if entry is not None else None
            except ValueError:
                abort(400)
            try:
                save_definition(get_session(), "department", data, based_on=based_on,
                                saved_by=current_account().username, metas=_metas())
                return redirect(url_for("definitions.department", code=data["code"],
                                        saved=1), 303)
            except StaleEdit as stale:
                get_session().rollback()
                status = 409
                # The form now carries their revision: saving again replaces their version
                # with what was typed, knowingly, instead of being refused for ever.
                current = stale.entry.revision
                message = _l("%(who)s saved this department at %(when)s (Beijing time), after "
                             "you opened it. What you typed is kept below: save again to put "
                             "it in place of theirs, or reload to see theirs.",
                             who=stale.entry.updated_by,
                             when=china_time(stale.entry.updated_at))
            except DefinitionError as refused:
                get_session().rollback()
                # The forms build only what the meta-schema accepts; should one not, it is said.
                problem = _said(refused.problems)
        status = 422 if errors or problem else status
    elif entry is not None and request.args.get("saved"):
        message = _l("Saved. Its name reaches applicants' pages when a matter or bundle "
                     "naming it is next published; each matter keeps its own address, hours "
                     "and phones.")
    values = request.form if request.method == "POST" else _department_values(before)
    if status == 409:
        values = {**values.to_dict(), "revision": current}
    return render_template(
        "admin/department.html", entry=entry, stored=before, values=values, levels=LEVELS,
        departments=_options(departments, but=entry.code if entry is not None else ""),
        errors={name: MESSAGES[reason] for name, reason in errors.items()},
        problem=problem, message=message,
    ), status


def _department_values(data: dict | None) -> dict[str, str]:
    """What the department form shows of a stored department (empty for a new one)."""
    if data is None:
        return {"level": "district"}
    return {
        "code": data["code"], "name_zh": text_in(data["name"], "zh-Hans"),
        "name_hant": text_in(data["name"], "zh-Hant"), "name_en": text_in(data["name"], "en"),
        "short_name_zh": text_in(data.get("short_name"), "zh-Hans"), "level": data["level"],
        "parent": data.get("parent", ""), "consult_phone": data["consult_phone"],
        "complaint_phone": data.get("complaint_phone", ""),
        "address": text_in(data["address"], "zh-Hans"),
        "office_hours": text_in(data["office_hours"], "zh-Hans"),
    }
