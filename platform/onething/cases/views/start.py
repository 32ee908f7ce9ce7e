"""The bundle start page: scenario questions (情形) that show, as they are answered,
which matters apply, what to prepare, how many trips and how long."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from onething.accounts.applicants import applicant_subject
from onething.cases.forms import parse_form
from onething.cases.views import DRAFTS, front_desk_clerk, remember
from onething.cases.views.applicant import claim
from onething.cases.workflow import create_draft
from onething.composer.compose import (
    AnswersError,
    compose,
    merged_questions,
    stage_conditions,
)
from onething.composer.layout import describe_field
from onething.composer.scenario import answer_errors, holds
from onething.composer.validation import FieldError
from onething.publishing.versions import bundle_of, latest_version
from onething.web.extensions import get_session, htmx

bp = Blueprint("start", __name__, template_folder="../templates")


def question_layout(bundle) -> dict:
    """The questionnaire laid out as form sections: the bundle's own questions first, then
    one section per nested bundle (a stage of a 一类事), asked only when that stage applies.
    """
    questions = merged_questions(bundle)
    sections = [{"id": "questions", "title": None, "condition": None,
                 "keys": list(bundle.questions.get("properties", {})),
                 "required": set(bundle.questions.get("required", []))}]
    asked = set(sections[0]["keys"])
    for code, (child, condition) in stage_conditions(bundle).items():
        keys = [k for k in child.questions.get("properties", {}) if k not in asked]
        asked.update(keys)
        if keys:
            sections.append({"id": f"stage-{code}", "title": child.name, "condition": condition,
                             "keys": keys, "required": set(child.questions.get("required", []))})
    sometimes = sometimes_required(questions)
    for section in sections:
        section["fields"] = []
        for key in section.pop("keys"):
            entry = describe_field(key, key, questions["properties"][key], bundle.catalog)
            entry["required"] = "always" if key in section["required"] else (
                "conditional" if key in sometimes else "optional")
            section["fields"].append(entry)
        del section["required"]
    return {"sections": sections}


def sometimes_required(schema: dict) -> set[str]:
    """The questions an answer can make required (if/then, dependentRequired): never
    labelled optional, for they are not always."""
    found: set[str] = set()

    def walk(node, conditional: bool) -> None:
        if not isinstance(node, dict):
            return
        if conditional:
            found.update(key for key in node.get("required", []) if isinstance(key, str))
        for key in ("then", "else"):
            walk(node.get(key), True)
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in node.get(key) or []:
                walk(sub, conditional or key != "allOf")
        for sub in (node.get("dependentSchemas") or {}).values():
            walk(sub, True)
        for keys in (node.get("dependentRequired") or {}).values():
            found.update(key for key in keys if isinstance(key, str))

    walk(schema, False)
    return found


def unasked(bundle, layout: dict, answers: dict) -> dict[str, list[str]]:
    """The questions an answer can make required ("conditional"), and those of them the
    answers so far do not ("hidden"): the start page hides the second (onething.js), asking
    消防安全检查办理方式 only once the place is a public gathering place. Without
    JavaScript every question stays shown."""
    conditional = [entry["key"] for entry in layout["sections"][0]["fields"]
                   if entry["required"] == "conditional"]
    questions = merged_questions(bundle)
    hidden = []
    for key in conditional:
        others = {name: value for name, value in answers.items() if name != key}
        if not any(error.validator == "required" and not error.path
                   and key in error.validator_value
                   for error in answer_errors(questions, others)):
            hidden.append(key)
    return {"conditional": conditional, "hidden": hidden}


def asked_only(bundle, layout: dict, answers: dict) -> dict:
    """The answers without those to questions the other answers do not ask: a choice made
    before a change hid its question (an answer to the fire route, then "not a public
    gathering place") is not the applicant's answer any more, and must not steer which
    matters or materials apply."""
    while True:
        hidden = set(unasked(bundle, layout, answers)["hidden"]) & set(answers)
        if not hidden:
            return answers
        answers = {key: value for key, value in answers.items() if key not in hidden}


def applicable_sections(layout: dict, answers: dict) -> list[dict]:
    """The stage sections the answers so far leave in."""
    return [section for section in layout["sections"][1:]
            if holds(section["condition"], answers)]


def preview(bundle, answers: dict) -> dict:
    """What applies so far: exact once every question is answered, provisional before."""
    try:
        composition = compose(bundle, answers)
    except AnswersError:
        general = compose(bundle)
        matters = [m for m in general.matters if holds(general.conditions[m.code], answers)]
        materials = [m for m in general.materials if holds(m.condition, answers)]
        return {"complete": False, "matters": matters, "materials": materials}
    return {"complete": True, "matters": composition.matters,
            "materials": composition.materials, "plan": composition.plan,
            "savings": composition.savings}


def published_bundle(code: str):
    """The newest published version of a bundle and the bundle itself; 404 if unpublished."""
    version = latest_version(get_session(), code)
    if version is None:
        abort(404, description="bundle")
    return version, bundle_of(version)


@bp.route("/b/<code>", methods=["GET", "POST"])
def start(code: str):
    """Show the questions (full page, or only the live panel for htmx); POST starts a draft."""
    version, bundle = published_bundle(code)
    layout = question_layout(bundle)
    answers = asked_only(bundle, layout, parse_form(
        layout, request.form if request.method == "POST" else request.args))
    errors = {}
    if request.method == "POST":
        for error in answer_errors(merged_questions(bundle), answers):
            # Every question a "required" leaves unanswered is named, not only the first.
            keys = [error.path[0]] if error.path else (
                [k for k in error.validator_value if k not in answers] or [""])
            for key in keys:
                errors.setdefault(str(key), error)
        if not errors:
            # 一窗受理 / 帮办代办: a front-desk clerk filling it in for the applicant is on
            # record, on the draft and in the audit log.
            draft, token = create_draft(get_session(), version, created_by=front_desk_clerk(),
                                        answers=answers)
            remember(DRAFTS, draft.public_id, token)
            subject = applicant_subject()
            if subject is not None:
                # 我的办件: the signed-in applicant's from the start, on any device.
                claim(draft, subject)
            return redirect(url_for("drafts.form", public_id=draft.public_id))
    errors_by_path = {key: [FieldError(key, e.validator, e.message, (), e.validator_value)]
                      for key, e in errors.items()}
    context = {"bundle": bundle, "version": version, "layout": layout, "answers": answers,
               "stages": applicable_sections(layout, answers),
               "unasked": unasked(bundle, layout, answers),
               "errors_by_path": errors_by_path, "preview": preview(bundle, answers)}
    if htmx and request.method == "GET":
        return render_template("_situation.html", oob=True, **context)
    return render_template("start.html", **context), 422 if errors else 200
