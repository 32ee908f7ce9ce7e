"""The console's pages: the catalog, the bundle and matter editors, publishing and history.

Every edit is a real form POST (it works without JavaScript) that htmx sends
in place; the response is the editor again, with its live preview, so what
the administrator sees is always what was saved.
"""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from sqlmodel import col, select

from onething.accounts.service import current_account, sign_in_again
from onething.catalog.definitions import Catalog
from onething.catalog.loader import error_text, json_reason, parse_json
from onething.catalog.problems import DefinitionError, Text
from onething.catalog.text import localize
from onething.catalog.workdays import china_time
from onething.composer.compose import AnswersError, compose
from onething.composer.layout import resolve
from onething.composer.merge import CompositionError
from onething.departments.inbox import service_names
from onething.departments.webhooks import (
    error_kind,
    failed_events,
    redeliver,
    retrying_events,
    shown_url,
    webhook_overview,
)
from onething.guides.views import LIFE_EVENTS, SERVICE_KINDS, STAGE_OF_THEME, STAGES
from onething.publishing.working_catalog import (
    StaleEdit,
    document,
    find_entries,
    find_entry,
    history,
    holders,
    meta_problems,
    publish_services,
    publish_working,
    rollback,
    save_definition,
    scope,
    version_diff,
)
from onething.storage.db import Page, paginate
from onething.storage.models import CatalogEntry, Submission, Webhook
from onething.web.extensions import csrf, get_session, meta_schemas
from onething.web.i18n import join_list, matter_name, say
from onething.web.settings import schemas_root
from onething_admin import editing
from onething_admin.diagram import routing_diagram
from onething_admin.diffwords import readable
from onething_admin.editing import EditRefused

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
bp.add_app_template_global(readable, "readable_diff")
# A webhook's address on a screen anyone near may read: no password, no token.
bp.add_app_template_filter(shown_url, "shown_url")

KINDS = SERVICE_KINDS
AUDIENCES = {"person": _l("People (a life event)"), "enterprise": _l("Businesses (a stage)")}
RELEASES = {"together": _l("Together, when every matter is approved (多证联发)"),
            "per_matter": _l("Each certificate as soon as its matter is approved")}
# The themes the service manual groups by: people's life events, businesses' stages.
THEMES = {**LIFE_EVENTS, **{theme: STAGES[stage] for theme, stage in STAGE_OF_THEME.items()}}
# A department's administrative level (行使层级), highest first, as the meta-schema lists them.
LEVELS = {"province": _l("Province (省级)"), "city": _l("City (市级)"),
          "district": _l("District or county (区县级)"),
          "town": _l("Town or street (乡镇街道级)"),
          "village": _l("Village or community (村社区级)")}
# A field's type as the editor names it (the JSON Schema type is what is stored).
FIELD_TYPE_NAMES = {"string": _l("Text"), "integer": _l("Whole number"),
                    "number": _l("Decimal number"), "boolean": _l("Yes or no"), "date": _l("Date"),
                    # Shown in the field rows, never offered for a new local field.
                    "object": _l("A group of fields"), "array": _l("Rows (a repeating group)")}
SAVED_MATTER = _l("Saved. Publish it, or a bundle holding it, to make it live.")
SAVED_BUNDLE = _l("Saved in the draft. Check and publish it to make it live.")
REFUSALS = {
    "code": _l("A code is 3–64 lowercase letters and digits, starting with a letter, words "
               "joined by single dashes (such as open-restaurant)."),
    "code_reserved": _l("This code names a console page: choose another."),
    "taken": _l("That code is already used by a bundle or a matter: each has its own guide "
                "address, /g/<code>."),
    "item": _l("That item cannot be added or removed here."),
    "unknown_matter": _l("No matter has that code or name: type part of its name, or its "
                         "pinyin, and choose it from the list."),
    "name": _l("A bundle needs its 简体中文 name."),
    "question": _l("A question needs a new key (lowercase letters, digits, _) and a title."),
    "question_key": _l("A key is lowercase letters, digits and _, starting with a letter "
                       "(fire_route, for example)."),
    "question_taken": _l("This bundle already asks a question with that key: choose another."),
    "answer": _l("Pick one of the question's answers."),
    "one_question": _l("A matter applies by the answers of one question: tick answers of "
                       "one question only (several answers of it are fine)."),
    "after": _l("An approval can only wait for other items of this bundle."),
    "field_key": _l("A key is lowercase letters, digits and _, starting with a letter."),
    "field_taken": _l("This matter already has a field with that key."),
    "field_library": _l("Choose one of the shared library's fields."),
    "field_type": _l("Choose one of the listed types."),
    "field_title": _l("A field needs its title in 简体中文."),
    "minimum": _l("The minimum is a number (a whole number for an integer field)."),
    "maximum": _l("The maximum is a number (a whole number for an integer field)."),
    "max_length": _l("The longest text is a whole number of characters, 0 or more."),
    "bounds_crossed": _l("The minimum is above the maximum: no value would fit."),
    "unknown_field": _l("This matter has no field with that key."),
    "material_id": _l("A material's id is 3–64 lowercase letters, digits and dashes, starting "
                      "with a letter and ending with a letter or digit."),
    "material_taken": _l("This matter already has a material with that id."),
    "material_name": _l("A material needs its name in 简体中文."),
    "necessity": _l("Choose required, optional or can be supplied later."),
    "unknown_material": _l("This matter has no material with that id."),
    "legal_days": _l("The legal time limit is a whole number of days, 0 to 365."),
    "promised_days": _l("The promised time limit is a whole number of days, 0 to 365."),
    "visits": _l("Visits on site are a whole number, 0 to 10."),
    "counting": _l("Choose working days or calendar days."),
    "promised_over_legal": _l("The promised limit cannot be longer than the legal limit."),
    "on_the_spot_days": _l("A matter decided on the spot promises 0 days."),
    "description": _l("A description needs its 简体中文 text; the other languages are optional."),
    "audience": _l("Choose people or businesses."),
    "release": _l("Choose together or per matter."),
    "theme": _l("Choose one of the listed life events or stages."),
    "lead_department": _l("The lead department is one of the departments of the bundle's "
                          "matters."),
    "question_title": _l("A question needs its title in 简体中文."),
    "fee_items": _l("A charged service lists what it charges: one item per line, as "
                    "name | standard | basis (收费项目名称 | 收费标准 | 收费依据)."),
    "question_help": _l("Help text needs its 简体中文 text; the other languages are optional."),
    "options": _l("Each option needs its own value, written before the = (value=label), "
                  "and no two options the same value."),
    "override": _l("Only a field of a matter this bundle holds can be retitled here."),
    "override_text": _l("A label or help text needs its 简体中文 text; the other languages "
                        "are optional."),
}
# Where the matter editor says a refusal: for the form posted, the input each reason is about
# (a reason without one is said above the editor only).
AT_INPUT = {
    "field-library": {"field_key": "library_key", "field_taken": "library_key",
                      "field_library": "library_key"},
    "field-local": {"field_key": "key", "field_taken": "key", "field_type": "type",
                    "field_title": "title_zh", "minimum": "minimum", "maximum": "maximum",
                    "max_length": "max_length", "bounds_crossed": "minimum",
                    "options": "options"},
    "material-new": {"material_id": "id", "material_taken": "id",
                     "material_name": "name_zh", "necessity": "necessity"},
    "material": {"necessity": "necessity"},
    "guide": {**{name: name for name in ("legal_days", "promised_days", "visits", "counting")},
              "promised_over_legal": "promised_days", "on_the_spot_days": "promised_days",
              "fee_items": "fee_items"},
}


@bp.before_request
def _guard():
    account = current_account()
    if account is None:
        return sign_in_again()
    if account.role != "administrator":
        abort(403)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    return None


def _metas() -> dict:
    return meta_schemas(current_app)


def _entry(kind: str, code: str):
    found = find_entry(get_session(), kind, code)
    if found is None:
        abort(404)
    return found


def _scope(kind: str, code: str) -> Catalog:
    """What one bundle or matter needs from the working catalog, and nothing else."""
    return scope(get_session(), kind, code)


def _page_catalog(*pages: Page) -> Catalog:
    """The listed entries with the departments they name, for their localized names."""
    rows = [entry for page in pages for entry in page.rows]
    wanted = sorted({entry.department_code for entry in rows if entry.department_code})
    departments = [] if not wanted else get_session().exec(select(CatalogEntry).where(
        CatalogEntry.kind == "department", col(CatalogEntry.code).in_(wanted))).all()
    return Catalog(document(entry) for entry in [*rows, *departments])


def _page_number(name: str) -> int:
    try:
        return max(1, int(request.args.get(name, "1")))
    except ValueError:
        return 1


def _lang() -> str:
    from onething.web.i18n import current_locale

    return current_locale()


# --- the catalog ------------------------------------------------------------------------------


@bp.get("/")
def index():
    """Bundles, matters and departments, searchable by Chinese, pinyin or initials, 50 a page."""
    session = get_session()
    query = request.args.get("q", "")
    department = request.args.get("department", "")
    level = request.args.get("level", "")
    filters = dict(query=query, department=department, level=level)
    bundles = find_entries(session, "bundle", page=_page_number("bundles"), **filters)
    matters = find_entries(session, "matter", page=_page_number("matters"), **filters)
    listed = find_entries(session, "department", page=_page_number("departments"), **filters)
    all_departments = session.exec(select(CatalogEntry).where(
        CatalogEntry.kind == "department").order_by(col(CatalogEntry.code))).all()
    context = dict(
        query=query, department=department, level=level,
        departments=Catalog(document(entry) for entry in all_departments).departments.values(),
        catalog=_page_catalog(bundles, matters, listed), bundles=bundles, matters=matters,
        listed_departments=listed,
        levels=sorted({entry.level for entry in all_departments if entry.level},
                      key=lambda level: list(LEVELS).index(level) if level in LEVELS else 9),
        level_names=LEVELS,
        page_args={key: value for key, value in request.args.items()},
    )
    template = "admin/_catalog.html" if request.headers.get("HX-Request") else "admin/index.html"
    return render_template(template, **context)


# --- bundles ----------------------------------------------------------------------------------


@bp.route("/bundles/new", methods=["GET", "POST"])
def new_bundle():
    """Start a bundle from one matter; the editor takes it from there."""
    session = get_session()
    error = None
    if request.method == "POST":
        form = request.form
        entry = _matter_typed(session, form.get("matter", ""))
        try:
            if entry is None:
                raise EditRefused("unknown_matter")
            if not form.get("name_zh", "").strip():
                raise EditRefused("name")
            matter = document(entry).data
            data = editing.new_bundle(editing.typed_code(form.get("code", "")),
                                      form.get("name_zh", ""),
                                      form.get("name_en", ""), form.get("kind", "one_thing"),
                                      matter["department"], matter["code"])
            if (find_entry(session, "bundle", data["code"]) is not None
                    or find_entry(session, "matter", data["code"]) is not None):
                raise EditRefused("taken")
            save_definition(session, "bundle", data, based_on=None,
                            saved_by=current_account().username, metas=_metas())
            return redirect(url_for("admin.bundle", code=data["code"]))
        except EditRefused as refused:
            error = REFUSALS[str(refused)]
        except DefinitionError as refused:
            error = _said(refused.problems)
    return render_template("admin/new_bundle.html", kinds=KINDS, error=error), (
        422 if error else 200)


def _matter_typed(session, typed: str):
    """The matter a typed code names, or the one whose whole name was typed (the hint says
    a name may be typed); None for none, or several."""
    typed = typed.strip()
    entry = find_entry(session, "matter", typed) if typed else None
    if entry is None and typed:
        named = [e for e in find_entries(session, "matter", query=typed, size=20).rows
                 if typed in (document(e).data.get("name") or {}).values()]
        entry = named[0] if len(named) == 1 else None
    return entry


@bp.get("/matters/choices")
def matter_choices():
    """Matters whose name, code, pinyin or initials match, as datalist options (htmx)."""
    found = find_entries(get_session(), "matter", query=request.args.get("matter", ""),
                         size=20)
    catalog = _page_catalog(found)
    return render_template("admin/_matter_options.html", catalog=catalog,
                           matters=[catalog.matters[e.code] for e in found.rows])


def _preview(catalog: Catalog, code: str) -> dict:
    """What the editor shows next to the definition: the composition, or what stops it."""
    bundle = catalog.bundles.get(code)
    if bundle is None:
        return {"composition": None, "conflict": None, "problem": _l("This bundle cannot be read.")}
    try:
        composition = compose(bundle)
    except CompositionError as conflict:
        return {"composition": None, "conflict": conflict, "problem": None}
    except (KeyError, ValueError, AnswersError) as broken:
        return {"composition": None, "conflict": None, "problem": _unreadable(broken)}
    return {"composition": composition, "conflict": None, "problem": None,
            "diagram": routing_diagram(composition.plan)}


def _unreadable(broken: Exception):
    """Why a bundle cannot be composed, for the preview to `say`: the Text it was raised with
    (said in the page's language), else its own words in the page's language's frame."""
    text = error_text(broken)
    if isinstance(text, Text):
        return text
    return _l("This bundle cannot be composed: %(reason)s", reason=text)


def _department_of(catalog: Catalog) -> dict[str, str]:
    return {code: matter.department for code, matter in catalog.matters.items()}


def _fields_of(catalog: Catalog) -> dict[str, list[str]]:
    return {code: list(matter.form.get("properties", {}))
            for code, matter in catalog.matters.items()}


def _field_title(catalog: Catalog, matter: str, key: str) -> str:
    """A matter's field as its own form labels it (through the library for a shared one)."""
    schema = catalog.matters[matter].form.get("properties", {}).get(key, {})
    return localize(resolve(schema, catalog).get("title", key), _lang())


def _refusal(refused: EditRefused, reason: str | None = None, catalog: Catalog | None = None):
    """What the editor says about a refused edit (naming the conditions that use a question,
    each matter by its name)."""
    if isinstance(refused, editing.QuestionInUse):
        names = [matter_name(code, catalog) if catalog is not None else code
                 for code in refused.items]
        return _l("Conditions still use this question or its answers: %(items)s. Change "
                  "when those apply first.", items=join_list(names))
    return REFUSALS[reason or str(refused)]


def _render_bundle(code: str, *, message=None, problems=None, status: int = 200,
                   open_condition: int | None = None, open_after: str | None = None,
                   open_question: str | None = None, open_override: str | None = None,
                   errors: dict | None = None, typed=None):
    entry = _entry("bundle", code)
    data = json.loads(entry.text)
    catalog = _scope("bundle", code)
    departments = editing.bundle_departments(data, _department_of(catalog),
                                             _bundles_of(catalog))
    context = dict(
        entry=entry, data=data, catalog=catalog, kinds=KINDS, message=message,
        problems=problems or [], versions=history(get_session(), code),
        errors=errors or {}, typed=typed or {}, departments=departments, themes=THEMES,
        audiences=AUDIENCES, releases=RELEASES, open_question=open_question,
        open_override=open_override, fields_of=_fields_of(catalog),
        field_problems=lambda name: [p for p in problems or []
                                     if getattr(p, "pointer", "").startswith(f"/{name}")],
        text_in=editing.text_in, field_title=lambda matter, key: _field_title(catalog, matter, key),
        default_lead=departments[0] if departments else None,
        condition_text=lambda when: editing.condition_text(
            when, data["questions"], lambda text: localize(text, _lang()), question_answers),
        item_code=lambda item: item.get("matter") or item.get("bundle"),
        question_answers=question_answers, open_condition=open_condition,
        open_after=open_after,
        needed=editing.needed_questions(data, catalog.matters),
        **_preview(catalog, code),
    )
    template = ("admin/_bundle_editor.html" if request.headers.get("HX-Request")
                else "admin/bundle.html")
    return render_template(template, **context), status


def _bundles_of(catalog) -> dict[str, dict]:
    """Each bundle's definition by code: the items of a 一类事's nested bundles."""
    return {code: bundle.data for code, bundle in catalog.bundles.items()}


def question_answers(schema: dict) -> list[tuple[str, str]]:
    """A question's possible answers: (JSON value, label) for the condition picker."""
    if schema.get("type") == "boolean":
        return [("true", str(_l("yes"))), ("false", str(_l("no")))]
    if "oneOf" in schema:
        return [(json.dumps(o.get("const"), ensure_ascii=False),
                 localize(o.get("title", o.get("const")), _lang())) for o in schema["oneOf"]]
    return [(json.dumps(v, ensure_ascii=False), str(v)) for v in schema.get("enum", [])]


@bp.get("/bundles/<code>")
def bundle(code: str):
    """The bundle editor, with its live preview; ?key=…&options=… fills in the form that
    adds a question (a question a matter needs, offered by the editor)."""
    typed = {name: request.args[name] for name in ("key", "options") if name in request.args}
    return _render_bundle(code, typed=typed)


def _edit(kind: str, code: str, change, **kept):
    """Apply one change to a stored definition and save it against the editor's revision.

    The answer is the editor again: with the saved definition, or with why nothing
    was saved (409 someone saved first, 422 the edit or the definition is refused).
    """
    render = _render_bundle if kind == "bundle" else _render_matter
    entry = _entry(kind, code)
    try:
        based_on = int(request.form.get("revision", ""))
    except ValueError:
        abort(400)
    try:
        changed = change(json.loads(entry.text))
        save_definition(get_session(), kind, changed, based_on=based_on,
                        saved_by=current_account().username, metas=_metas())
    except StaleEdit as stale:
        get_session().rollback()
        # Their version is shown; what was typed stays in its form, to send again.
        return render(code, status=409, message=_stale_message(stale, kind), **kept)
    except EditRefused as refused:
        # Said at the field it is about, and above the editor for a screen reader's alert;
        # what was typed is kept in its inputs.
        catalog = _scope(kind, code) if isinstance(refused, editing.QuestionInUse) else None
        errors = {reason: _refusal(refused, reason, catalog) for reason in refused.reasons}
        return render(code, status=422, message=" ".join(str(said) for said in errors.values()),
                      errors=errors, **kept)
    except DefinitionError as refused:
        problems = refused.problems if kind == "bundle" else [
            (p.pointer, p.message) for p in refused.problems]
        return render(code, status=422, problems=problems, **kept)
    if not request.headers.get("HX-Request"):
        # After the redirect, the page says it was saved (as the htmx answer does).
        return redirect(url_for(f"admin.{kind}", code=code,
                                **({"saved": 1} if kind == "matter" else {})))
    return render(code, message=SAVED_MATTER if kind == "matter" else SAVED_BUNDLE)


def _edit_bundle(code: str, change):
    return _edit("bundle", code, change)


def _edit_matter(code: str, change, posted: str | None = None):
    """A matter edit; refused, the form posted (see AT_INPUT) shows what was typed in it."""
    return _edit("matter", code, change,
                 **({"posted": posted, "typed": request.form} if posted else {}))


@bp.post("/bundles/<code>/items")
def add_item(code: str):
    """Add a matter (or a bundle, for 一类事)."""
    form = request.form
    return _edit_bundle(code, lambda data: editing.add_item(
        data, matter=form.get("matter") or None, nested=form.get("bundle") or None))


@bp.post("/bundles/<code>/items/<int:index>/remove")
def remove_item(code: str, index: int):
    """Remove an item and the edges that named it."""
    return _edit_bundle(code, lambda data: editing.remove_item(data, index))


@bp.get("/bundles/<code>/items/<int:index>/when")
def condition_picker(code: str, index: int):
    """The editor with one item's condition picker open (the others stay summaries)."""
    return _render_bundle(code, open_condition=index)


@bp.get("/bundles/<code>/after/<item>")
def after_picker(code: str, item: str):
    """The editor with one item's 'waits for' choices open."""
    return _render_bundle(code, open_after=item)


@bp.post("/bundles/<code>/items/<int:index>/when")
def set_condition(code: str, index: int):
    """Make an item apply only for some answers of one question (or always)."""
    # Radio buttons (yes/no) or checkboxes (options) named when.<question>, one value each;
    # "condition" (question=value) is the older picker's form, still understood.
    picks = [tuple(pick.partition("=")[::2]) for pick in request.form.getlist("condition")
             if pick]
    picks += [(name.removeprefix("when."), value) for name in request.form
              if name.startswith("when.") for value in request.form.getlist(name) if value]
    return _edit_bundle(code, lambda data: editing.set_condition(data, index, picks))


@bp.post("/bundles/<code>/after")
def set_after(code: str):
    """Which approval waits for which (the routing diagram's edges)."""
    waits = {key.removeprefix("after."): request.form.getlist(key)
             for key in request.form if key.startswith("after.")}
    for waiting in request.form.getlist("items"):
        waits.setdefault(waiting, [])
    # The items posted are set; the edges of the others stay as they are.
    return _edit_bundle(code, lambda data: editing.set_after(
        data, {**data.get("after", {}), **waits}))


@bp.post("/bundles/<code>/questions")
def add_question(code: str):
    """Add a scenario question (情形): yes/no, or options written one per line as value=label."""
    form = request.form
    # Refused, the form keeps what was typed (typed), its message at the input it is about.
    return _edit("bundle", code, lambda data: editing.add_question(
        data, form.get("key", "").strip(), form.get("title_zh", ""), form.get("title_en", ""),
        _options(form.get("options", "")) or None), typed=form)


@bp.post("/bundles/<code>/questions/<key>/remove")
def remove_question(code: str, key: str):
    """Remove a scenario question."""
    return _edit_bundle(code, lambda data: editing.remove_question(data, key))


@bp.post("/bundles/<code>/properties")
def set_properties(code: str):
    """Description, keywords, audience, stage, release mode and lead department."""
    scope = _scope("bundle", code)
    departments = editing.bundle_departments(json.loads(_entry("bundle", code).text),
                                             _department_of(scope), _bundles_of(scope))
    form = request.form.to_dict()
    return _edit_bundle(code, lambda data: editing.set_properties(data, form, departments))


@bp.get("/bundles/<code>/questions/<key>")
def question_editor(code: str, key: str):
    """The editor with one question's form open."""
    return _render_bundle(code, open_question=key)


@bp.post("/bundles/<code>/questions/<key>")
def set_question(code: str, key: str):
    """Edit a question in place: title, help text, options, required."""
    form = request.form.to_dict()
    # Refused, the question's form stays open with its message at the field.
    return _edit("bundle", code, lambda data: editing.set_question(
        data, key, form, _options(form.get("options", "")) or None), open_question=key)


@bp.post("/bundles/<code>/questions/<key>/move")
def move_question(code: str, key: str):
    """Ask a question one place earlier or later."""
    step = -1 if request.form.get("direction") == "up" else 1
    return _edit_bundle(code, lambda data: editing.move_question(data, key, step))


@bp.get("/bundles/<code>/overrides/<matter>")
def override_editor(code: str, matter: str):
    """The editor with one matter's field labels open for overriding."""
    return _render_bundle(code, open_override=matter)


@bp.post("/bundles/<code>/overrides/<matter>/<field>")
def set_override(code: str, matter: str, field: str):
    """This bundle's own label or help for a matter's field (empty: the matter's own)."""
    fields_of = _fields_of(_scope("bundle", code))
    form = request.form.to_dict()
    return _edit("bundle", code, lambda data: editing.set_override(
        data, matter, field, form, fields_of), open_override=matter)


@bp.get("/bundles/<code>/matters")
def find_matters(code: str):
    """Matters to add, found by Chinese text, pinyin or initials (an htmx partial)."""
    session = get_session()
    query = request.args.get("q", "")
    data = json.loads(_entry("bundle", code).text)
    present = tuple(item["matter"] for item in data["items"] if "matter" in item)
    found = find_entries(session, "matter", query=query, size=20, exclude=present)
    # 一类事: whole bundles can be items too (never itself, never one already in).
    nested = Page([], 1, 0, 10)
    if data.get("kind") == "one_class":
        held = tuple(item["bundle"] for item in data["items"] if "bundle" in item)
        nested = find_entries(session, "bundle", query=query, size=10, exclude=(*held, code))
    catalog = _page_catalog(found, nested)
    return render_template("admin/_matter_choices.html",
                           matters=[catalog.matters[e.code] for e in found.rows],
                           bundles=[catalog.bundles[e.code] for e in nested.rows],
                           code=code, catalog=catalog, revision=request.args.get("revision", ""))


def _publish(code: str) -> tuple[str, list]:
    """Check and publish one bundle or matter: (what the editor says, the problems)."""
    try:
        published = publish_services(get_session(), [code], _metas(),
                                     current_account().username)
    except DefinitionError as refused:
        get_session().rollback()
        return _l("Not published: fix these problems first."), refused.problems
    if not published:
        return _l("Nothing changed since the last publish."), []
    return _l("Published: %(versions)s.", versions=", ".join(
        f"{v.bundle_code} v{v.number}" for v in published)), []


@bp.post("/bundles/<code>/publish")
def publish(code: str):
    """Check this bundle with all it holds, and publish it if it changed (no other)."""
    message, problems = _publish(code)
    return _render_bundle(code, message=message, problems=problems,
                          status=422 if problems else 200)


@bp.get("/bundles/<code>/history")
def bundle_history(code: str):
    """Who published which version when, and a readable diff between any two."""
    versions = history(get_session(), code)
    if not versions:
        abort(404)
    newest = versions[0].number
    try:
        older = int(request.args.get("from", max(newest - 1, 1)))
        newer = int(request.args.get("to", newest))
    except ValueError:
        abort(400)
    diff = None
    # The listed versions are the ones to compare: no second query for two of them.
    by_number = {v.number: v for v in versions}
    a, b = by_number.get(older), by_number.get(newer)
    if a is not None and b is not None and a.number != b.number:
        diff = version_diff(a, b, locale=_lang())
    return render_template("admin/history.html", code=code, versions=versions, diff=diff,
                           older=older, newer=newer)


@bp.route("/bundles/<code>/rollback", methods=["GET", "POST"])
def rollback_bundle(code: str):
    """Publish an old version again as the newest, once the administrator confirmed it.

    Without confirmed=yes the answer is the confirmation step (what would change back),
    and nothing is published: applicants would get the old form at once.
    """
    versions = history(get_session(), code)
    values = request.form if request.method == "POST" else request.args
    try:
        number = int(values.get("number", ""))
    except ValueError:
        abort(404)
    by_number = {v.number: v for v in versions}
    if number not in by_number or not versions or number == versions[0].number:
        abort(404)
    if request.method == "POST" and request.form.get("confirmed") == "yes":
        rollback(get_session(), code, number, current_account().username)
        back = url_for("admin.bundle_history", code=code)
        if request.headers.get("HX-Request"):
            return "", 204, {"HX-Redirect": back}
        return redirect(back)
    diff = version_diff(versions[0], by_number[number], locale=_lang())
    return render_template("admin/rollback.html", code=code, number=number,
                           newest=versions[0].number, diff=diff)


# --- matters ----------------------------------------------------------------------------------


def _render_matter(code: str, *, text: str | None = None, problems=(), publish_problems=(),
                   message=None, status: int = 200, errors: dict | None = None,
                   posted: str | None = None, typed=None):
    entry = _entry("matter", code)
    shown = text if text is not None else entry.text
    try:
        data = parse_json(shown)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict) or problems:
        # The text typed is kept as it is; the forms show the saved matter until the text
        # is one (a {} would leave them without a time limit to show).
        data = json.loads(entry.text)
    catalog = _scope("matter", code)
    template = ("admin/_matter_editor.html" if request.headers.get("HX-Request")
                else "admin/matter.html")
    inputs = AT_INPUT.get((posted or "").partition(":")[0], {})
    return render_template(
        template, entry=entry, data=data, text=shown, problems=list(problems),
        posted=posted, typed=typed or {},
        errors={inputs[reason]: said for reason, said in (errors or {}).items()
                if reason in inputs},
        publish_problems=list(publish_problems),
        message=message, catalog=catalog, field_types=editing.FIELD_TYPES,
        necessities=editing.NECESSITIES, library=sorted(catalog.fields),
        field_type_names=FIELD_TYPE_NAMES, text_in=editing.text_in,
        # A library field's type lies behind its $ref chain: resolved, not left blank.
        field_type=lambda schema: _field_type(resolve(schema, catalog)),
        used_by=holders(get_session(), "matter", code),
    ), status


def _field_type(schema: dict):
    """A field's type as the editor's rows name it: date for a date string."""
    return "date" if schema.get("format") == "date" else schema.get("type", "")


@bp.get("/matters/<code>")
def matter(code: str):
    """The matter editor: fields, materials and guide elements as forms, and the raw JSON."""
    return _render_matter(code, message=SAVED_MATTER if request.args.get("saved") else None)


@bp.post("/matters/<code>/publish")
def publish_matter(code: str):
    """Check this matter and publish it alone (bundles holding it are published on their own)."""
    _entry("matter", code)
    message, problems = _publish(code)
    return _render_matter(code, message=message, publish_problems=problems,
                          status=422 if problems else 200)


def _stale_message(stale: StaleEdit, kind: str):
    when = china_time(stale.entry.updated_at)
    if kind == "matter":
        return _l("%(who)s saved this matter at %(when)s (Beijing time), after you opened it. "
                  "Their version is shown, and what you typed is kept in its form: send it "
                  "again.", who=stale.entry.updated_by, when=when)
    return _l("%(who)s saved this bundle at %(when)s (Beijing time), after you opened it. "
              "Their version is shown, and what you typed is kept in its form: send it again.",
              who=stale.entry.updated_by, when=when)


def _options(text: str) -> list[tuple[str, str]]:
    # A line with a label and no value ("=丁") is kept as such, to be refused: dropping it
    # would lose an answer the administrator meant to offer.
    options = []
    for line in text.splitlines():
        value, _, label = line.strip().partition("=")
        if value.strip() or label.strip():
            options.append((value.strip(), (label or value).strip()))
    return options


@bp.post("/matters/<code>/fields")
def add_field(code: str):
    """Add a field: one of the shared library, or a local one with its type and bounds."""
    form = request.form
    if form.get("source") == "library":
        library = {key: field.uri for key, field in _scope("matter", code).fields.items()}
        return _edit_matter(code, lambda data: editing.add_field(
            data, form.get("library_key", ""), library=library,
            required=bool(form.get("required"))), posted="field-library")
    return _edit_matter(code, lambda data: editing.add_field(
        data, form.get("key", "").strip(), kind=form.get("type", "string"),
        title_zh=form.get("title_zh", ""), title_en=form.get("title_en", ""),
        title_hant=form.get("title_hant", ""),
        required=bool(form.get("required")), minimum=form.get("minimum", ""),
        maximum=form.get("maximum", ""), max_length=form.get("max_length", ""),
        options=_options(form.get("options", "")) or None), posted="field-local")


@bp.post("/matters/<code>/fields/<key>/remove")
def remove_field(code: str, key: str):
    """Remove a field row."""
    return _edit_matter(code, lambda data: editing.remove_field(data, key))


@bp.post("/matters/<code>/fields/<key>/required")
def set_required(code: str, key: str):
    """Mark a field required or optional."""
    required = request.form.get("required") == "true"
    return _edit_matter(code, lambda data: editing.set_required(data, key, required))


@bp.post("/matters/<code>/materials")
def add_material(code: str):
    """Add a material row with its flags."""
    form = request.form
    return _edit_matter(code, lambda data: editing.add_material(
        data, form.get("id", "").strip(), form.get("name_zh", ""),
        form.get("necessity", "required"), bool(form.get("commitment")),
        bool(form.get("shared_data"))), posted="material-new")


@bp.post("/matters/<code>/materials/<material_id>")
def set_material(code: str, material_id: str):
    """Change a material's flags (容缺, 告知承诺, shared data)."""
    form = request.form
    return _edit_matter(code, lambda data: editing.set_material(
        data, material_id, form.get("necessity", ""), bool(form.get("commitment")),
        bool(form.get("shared_data"))), posted=f"material:{material_id}")


@bp.post("/matters/<code>/materials/<material_id>/remove")
def remove_material(code: str, material_id: str):
    """Remove a material row."""
    return _edit_matter(code, lambda data: editing.remove_material(data, material_id))


@bp.post("/matters/<code>/guide")
def set_guide(code: str):
    """Save the guide elements form (时限, 到现场次数, 地点, 时间, 电话)."""
    return _edit_matter(code, lambda data: editing.set_guide(data, request.form.to_dict()),
                        posted="guide")


def _said(problems) -> str:
    """Problems in one line, each message in the administrator's language."""
    return "; ".join(f"{p.file}#{p.pointer}: {say(p.message)}"
                     + (f" [{', '.join(p.matters)}]" if p.matters else "") for p in problems)


def _json_problems(kind: str, text: str) -> tuple[dict | None, list]:
    """Parse and validate a definition's raw JSON: (data, problems with pointers)."""
    try:
        data = parse_json(text)
    except json.JSONDecodeError as error:
        return None, [("", Text("invalid JSON: {reason} (line {line}, column {column})",
                                reason=json_reason(error.msg), line=error.lineno,
                                column=error.colno))]
    except (ValueError, RecursionError) as error:
        # A key twice, NaN, thousands of digits, nesting past any definition's, NUL.
        reason = error_text(error) if isinstance(error, ValueError) else Text("nested too deep")
        return None, [(getattr(error, "pointer", ""),
                       Text("invalid JSON: {reason}", reason=reason))]
    if not isinstance(data, dict):
        return None, [("", Text("a {kind} is a JSON object {{…}}, not {type}", kind=kind,
                                type=type(data).__name__))]
    return data, [(p.pointer, p.message) for p in meta_problems(kind, data, _metas(), "")]


@bp.post("/matters/<code>/check")
def check_matter(code: str):
    """Validate the raw JSON as it is typed: only the messages come back."""
    _, problems = _json_problems("matter", request.form.get("text", ""))
    return render_template("admin/_json_problems.html", problems=problems)


@bp.post("/matters/<code>")
def save_matter(code: str):
    """Save the raw JSON of a matter against the revision the editor loaded."""
    text = request.form.get("text", "")
    data, problems = _json_problems("matter", text)
    if not problems and data.get("code") != code:
        problems = [("/code", str(_l("The code cannot change here.")))]
    if problems:
        return _render_matter(code, text=text, problems=problems, status=422, message=_l(
            "Not saved: put right the problems listed under the text, and save again."))
    try:
        save_definition(get_session(), "matter", data,
                        based_on=int(request.form.get("revision", "0")),
                        saved_by=current_account().username, metas=_metas())
    except StaleEdit as stale:
        get_session().rollback()
        # Their version in the rows, yours kept in the raw JSON: nothing typed is lost.
        return _render_matter(code, text=text, status=409, message=_l(
            "%(who)s saved this matter at %(when)s (Beijing time), after you opened it. "
            "Your text is kept below; reload to see theirs.", who=stale.entry.updated_by,
            when=china_time(stale.entry.updated_at)))
    return _render_matter(code, message=SAVED_MATTER)


# --- config as code: export and import --------------------------------------------------------

# An uploaded import waits here, in UPLOAD_DIR (shared by every host), between its dry run
# and its confirmation, which another host may answer.
IMPORTS = "imports-pending"
MAX_IMPORT_UPLOAD = 20 * 1024 * 1024


@bp.get("/catalog/export.zip")
def export_zip():
    """The working catalog as a zip of the exact files of a schemas folder."""
    import io
    import tempfile
    import zipfile
    from pathlib import Path

    from flask import send_file

    from onething.publishing.working_catalog import export
    from onething.storage.models import utc_now

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="onething-export-") as folder:
        root = Path(folder) / "schemas"
        export(get_session(), root, schemas_root(current_app))
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(root.parent).as_posix())
    buffer.seek(0)
    name = f"onething-schemas-{utc_now():%Y%m%d-%H%M}.zip"
    return send_file(buffer, mimetype="application/zip", as_attachment=True, download_name=name)


def _imports_folder():
    from onething.web.settings import upload_dir

    folder = upload_dir(current_app) / IMPORTS
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _upload_path(upload_id: str):
    import re

    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", upload_id):
        abort(404)
    path = _imports_folder() / f"{upload_id}.zip"
    if not path.exists():
        abort(404)
    return path


def _plan(path):
    from onething.publishing.working_catalog import import_folder, plan_import

    with import_folder(path) as root:
        return plan_import(get_session(), root, _metas())


@bp.route("/catalog/import", methods=["GET", "POST"])
def import_catalog():
    """Upload a zip of a schemas folder: a dry run shows what would change, nothing changes."""
    import secrets
    import zipfile

    if request.method == "GET":
        return render_template("admin/import.html", plan=None, upload_id=None, error=None)
    upload = request.files.get("archive")
    upload_id = secrets.token_urlsafe(18)
    path = _imports_folder() / f"{upload_id}.zip"
    size = 0
    with path.open("wb") as out:
        while upload is not None and (chunk := upload.stream.read(64 * 1024)):
            size += len(chunk)
            if size > MAX_IMPORT_UPLOAD:
                out.close()
                path.unlink()
                return render_template("admin/import.html", plan=None, upload_id=None,
                                       error=_l("The archive is too large.")), 413
            out.write(chunk)
    if size == 0 or not zipfile.is_zipfile(path):
        path.unlink(missing_ok=True)
        # No file, or one that is no zip: each said as it is.
        error = _l("Choose a zip file of a schemas folder.") if size == 0 else _l(
            "This file is not a zip archive: export the schemas folder as a .zip (the "
            "console's export, or zip -r schemas.zip schemas) and choose that.")
        return render_template("admin/import.html", plan=None, upload_id=None,
                               error=error), 422
    try:
        plan = _plan(path)
    except DefinitionError as refused:
        path.unlink(missing_ok=True)
        return render_template("admin/import.html", plan=None, upload_id=None,
                               error=_said(refused.problems)), 422
    if plan.refused:
        path.unlink(missing_ok=True)
    return render_template("admin/import.html", plan=plan,
                           upload_id=None if plan.refused else upload_id, error=None), (
        422 if plan.refused else 200)


@bp.post("/catalog/import/<upload_id>")
def apply_catalog_import(upload_id: str):
    """Import what the dry run showed, all or nothing, then offer to publish."""
    from onething.publishing.working_catalog import apply_import

    path = _upload_path(upload_id)
    # Planned again: the working catalog may have changed since the dry run.
    plan = _plan(path)
    if plan.refused:
        return render_template("admin/import.html", plan=plan, upload_id=None, error=None), 422
    apply_import(get_session(), plan, imported_by=current_account().username)
    path.unlink(missing_ok=True)
    return render_template("admin/import.html", plan=plan, upload_id=None, error=None,
                           imported=True)


@bp.post("/catalog/publish")
def publish_all():
    """Check the whole working catalog and publish every changed bundle."""
    try:
        published = publish_working(get_session(), _metas(), current_account().username)
    except DefinitionError as refused:
        get_session().rollback()
        return render_template("admin/published.html", published=[],
                               problems=refused.problems), 422
    return render_template("admin/published.html", published=published, problems=[])


# --- webhooks: failed deliveries, redelivered ----------------------------------------------

# Failed deliveries shown at a time.
FAILED_PAGE_SIZE = 50
# What a delivery's last error means, in the reader's language (the stored text, an
# exception's or an HTTP status, is shown beside it for whoever runs the system).
DELIVERY_ERRORS = {
    "refused": _l("The system refused the connection: nothing listens at that address."),
    "timeout": _l("The system did not answer in time."),
    "no_host": _l("The address's host name is not known."),
    "tls": _l("The system's certificate (HTTPS) was not accepted."),
    "unreachable": _l("The system could not be reached over the network."),
    "dropped": _l("The system closed the connection without answering."),
    "window": _l("No attempt succeeded within the retry window (3 days)."),
}


def delivery_error(error: str | None) -> str | None:
    """A delivery's stored error said in words, or None when it has no known meaning."""
    kind = error_kind(error)
    if kind is None:
        return None
    if kind[0] == "http":
        return str(_l("The system answered HTTP %(status)s, not a 2xx.", status=kind[1]))
    return str(DELIVERY_ERRORS[kind[0]])


def _departments(codes) -> Catalog:
    """The departments named, for their localized names."""
    found = get_session().exec(select(CatalogEntry).where(
        CatalogEntry.kind == "department", col(CatalogEntry.code).in_(sorted(codes)))).all()
    return Catalog(document(entry) for entry in found)


@bp.get("/webhooks")
def webhooks():
    """Each department's webhook: where it points, what waits, what failed."""
    overview = webhook_overview(get_session())
    return render_template("admin/webhooks.html", overview=overview,
                           catalog=_departments(row["hook"].department_code for row in overview))


def _render_failed(department: str, *, message=None, settings_message=None, secret=None):
    session = get_session()
    hook = session.exec(select(Webhook).where(Webhook.department_code == department)).first()
    if hook is None:
        abort(404)
    page = paginate(session, failed_events(session, department), _page_number("page"),
                    FAILED_PAGE_SIZE)
    retrying = retrying_events(session, department)
    # Which case each delivery is about: the tracking numbers of the page's submissions.
    ids = {event.payload.get("submission_id") for event in [*page.rows, *retrying]
           if isinstance(event.payload, dict)} - {None}
    cases = dict(session.exec(select(Submission.id, Submission.tracking_number).where(
        col(Submission.id).in_(sorted(ids)))).all()) if ids else {}
    # And the matter, by the name its guide gives it.
    matters = service_names(session, {event.payload.get("matter") for event in
                                      [*page.rows, *retrying] if isinstance(event.payload, dict)}
                            - {None})
    context = dict(hook=hook, page=page, message=message, catalog=_departments([department]),
                   settings_message=settings_message, secret=secret, retrying=retrying,
                   cases=cases, matters=matters, delivery_error=delivery_error)
    template = ("admin/_webhook_failed.html" if request.headers.get("HX-Request")
                else "admin/webhook.html")
    return render_template(template, **context)


@bp.get("/webhooks/<department>")
def webhook(department: str):
    """A department's failed deliveries, with their errors and attempts, to redeliver."""
    count = request.args.get("redelivered", type=int)
    message = None if count is None else _l("Scheduled again: %(count)s.", count=count)
    done = {"webhook_disabled": _l("The webhook is disabled: its events wait until it is "
                                   "enabled."),
            "webhook_enabled": _l("The webhook is enabled: waiting events go out in order."),
            "unchanged": _l("Nothing changed.")}.get(request.args.get("done", ""))
    return _render_failed(department, message=message, settings_message=done)


@bp.post("/webhooks/<department>/redeliver")
def redeliver_webhook(department: str):
    """Redeliver one failed delivery (delivery_id), or all of the department's (all)."""
    session = get_session()
    hook = session.exec(select(Webhook.id).where(Webhook.department_code == department)).first()
    if hook is None:
        abort(404)
    delivery_id = request.form.get("delivery_id")
    if not delivery_id and not request.form.get("all"):
        abort(400)
    count = redeliver(session, department, current_account().username,
                      [delivery_id] if delivery_id else None)
    if not request.headers.get("HX-Request"):
        # Without JavaScript: back to the list, which says how many went out again.
        return redirect(url_for("admin.webhook", department=department, redelivered=count))
    return _render_failed(department, message=_l("Scheduled again: %(count)s.", count=count))
