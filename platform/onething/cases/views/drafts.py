"""The one form, the materials, review and submit: every step saves the draft first."""

from __future__ import annotations

import datetime as dt
import json
import secrets

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import select
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from onething.accounts.applicants import current_applicant
from onething.cases import commitments, shared
from onething.cases import prefill as prefilling
from onething.cases import rules as case_rules
from onething.cases.forms import (
    ADD_ROW,
    REMOVE_ROW,
    check_field,
    find_entry,
    get_path,
    merge_data,
    parse_field,
    parse_form,
    with_empty_row,
)
from onething.cases.uploads import store_upload, uploaded_entry
from onething.cases.views import (
    DRAFTS,
    SUBMISSIONS,
    _pairs,
    composition_of,
    filed_by_clerk,
    front_desk_clerk,
    load_draft,
    owned_by_applicant,
    remember,
    remembered,
    version_of,
)
from onething.cases.views.applicant import show_verified, verified_values
from onething.cases.views.divisions import division_note
from onething.cases.workflow import (
    IdempotencyKeyReused,
    SubmissionRefused,
    find_submission,
    find_submissions,
    read_draft,
    rekey_draft,
    save_draft,
    submit,
    submitted_data,
)
from onething.catalog.workdays import china_time
from onething.composer.validation import FieldError, field_errors
from onething.storage.models import Submission
from onething.web.extensions import get_session, htmx

# The button that saves a step of the form and goes to the next: its value is that section.
STEP = "_step"

bp = Blueprint("drafts", __name__, url_prefix="/d/<public_id>", template_folder="../templates")


def changes_between(old: dict, new: dict) -> dict:
    """What save_draft needs to turn old into new: None removes an emptied field."""
    changes = {key: new.get(key) for key in set(old) | set(new) if key != "matters"}
    old_matters, new_matters = old.get("matters", {}), new.get("matters", {})
    if old_matters or new_matters:
        changes["matters"] = {code: new_matters.get(code)
                              for code in set(old_matters) | set(new_matters)}
    return changes


def _errors_for(composition, data) -> dict[str, list[FieldError]]:
    return field_errors(composition, data)


def _typed_errors(composition, data: dict, answers, upto: str) -> dict[str, list[FieldError]]:
    """The errors of values typed in the parts of the form before the part `upto`."""
    sections = composition.layout["sections"]
    ids = [section["id"] for section in sections]
    # A part's fields, whose paths begin their groups' and rows' own.
    paths = {field["path"] for section in sections[:ids.index(upto) if upto in ids else None]
             for field in section["fields"]}
    return {path: found for path, found in _errors_for(
                composition, {**data, "answers": answers}).items()
            if get_path(data, path) not in (None, "", [])
            and any(path == done or path.startswith(done + ".") for done in paths)}


def precheck(draft, composition, data: dict | None = None, provider=None) -> list:
    """智能预审: the rules of the draft's matters that fail on what it holds now, blocking
    ones first, each with its explanation and field (licences read through `provider`,
    by default the deployment's)."""
    if not case_rules.has_rules(composition.matters):
        return []
    values = submitted_data(composition, data if data is not None else draft.data or {},
                            draft.answers)
    case = case_rules.Case(get_session(), values, prefill=draft.prefill,
                           applicant=draft.applicant, provider=provider)
    findings, _evaluations = case_rules.run(case, composition.matters)
    return case_rules.failures(findings)


@bp.route("/form", methods=["GET", "POST"])
def form(public_id: str):
    """The one form: saved on every post, whatever its errors; valid goes on to materials."""
    draft = load_draft(public_id)
    if draft.submitted_at:
        return to_status(draft)
    composition = composition_of(draft)
    errors: dict = {}
    findings: list = []
    shown = None
    # The identity platform's verified name, ID number and mobile: shown read-only, and
    # kept whatever a post says.
    verified = verified_values(draft, composition.layout)
    show_verified(verified)
    notice = None
    if request.method == "POST":
        old = draft.data or {}
        data = posted_data(draft, composition, verified)
        action = request.form.get(PREFILL, "")
        if action:
            data, notice = _prefill(draft, composition, data, action)
        save_draft(get_session(), draft, data=changes_between(old, data))
        get_session().commit()
        if action:
            shown = data
        elif ADD_ROW in request.form or REMOVE_ROW in request.form:
            # A row added or removed: saved, and the form shown again to go on typing.
            shown = with_empty_row(composition.layout, data, request.form.get(ADD_ROW, ""))
        elif STEP in request.form:
            # A step of the form done: saved; what was typed wrong in the parts done is
            # said there and then, beside the field (what is missing waits for the end).
            sections = [section["id"] for section in composition.layout["sections"]]
            step = request.form[STEP]
            errors = _typed_errors(composition, data, draft.answers, step)
            if not errors:
                anchor = f"#section-{step}" if step in sections else ""
                return redirect(url_for("drafts.form", public_id=public_id) + anchor)
            shown = data
        else:
            errors = _errors_for(composition, {**data, "answers": draft.answers})
            if not errors:
                # A blocking rule that fails keeps the applicant here, beside the field to
                # fix; an advisory one is said again on the review page.
                findings = [f for f in precheck(draft, composition, data) if f.blocking]
                if not findings:
                    return redirect(url_for("drafts.materials", public_id=public_id))
    if request.method == "GET" and request.args.get("check"):
        # Reached from a refusal's list (review, submit): each field says what is wrong.
        errors = _errors_for(composition, {**(draft.data or {}), "answers": draft.answers})
    status = 422 if (errors or findings) and request.method == "POST" else 200
    g.prefill = draft.prefill or {}
    return render_template("form.html", draft=draft, composition=composition,
                           data={**(shown or draft.data or {}), **verified}, errors=errors,
                           get_path=get_path, notice=notice, findings=findings,
                           earlier=_earlier_cases(draft.data or {})), status


# The button that asks for prefilling: "registry", "clear", "link" or "case:<tracking number>".
PREFILL = "_prefill"


def _earlier_cases(data: dict) -> list:
    """This browser's earlier cases (it holds their access codes) of the holder the form
    names: the ones whose answers may be offered."""
    # One query for all (up to REMEMBERED_PER_STORE) on every render of the form.
    earlier = find_submissions(get_session(), list(reversed(_pairs(SUBMISSIONS))))
    return [submission for submission in earlier if prefilling.same_holder(submission, data)]


def _prefill(draft, composition, data: dict, action: str) -> tuple[dict, tuple]:
    """Fill the form as the applicant asked; the draft's data and a notice (kind, values)."""
    prefill = dict(draft.prefill or {})
    if action == "registry":
        data, prefill, outcome = prefilling.from_registry(
            get_session(), shared.provider(get_session()), composition, data, prefill,
            identity=_identity(draft))
        notice = ("registry_" + outcome, {})
    elif action == "clear":
        # Values stay (nothing is lost); they are simply the applicant's again.
        prefill, notice = {}, ("cleared", {})
    else:
        submission = None
        if action == "link":
            parsed = prefilling.parse_receipt_link(request.form.get("_earlier_link", ""))
            submission = find_submission(get_session(), *parsed) if parsed else None
        elif action.startswith("case:"):
            tracking_number = action[5:]
            token = next((t for n, t in _pairs(SUBMISSIONS) if n == tracking_number), None)
            submission = find_submission(get_session(), tracking_number, token) \
                if token else None
        if submission is None:
            return data, ("case_not_found", {})
        if not prefilling.same_holder(submission, data):
            # Never another holder's answers, even with their access code.
            return data, ("case_other_holder", {})
        data, prefill, entries, count = prefilling.from_case(
            composition, data, prefill, draft.materials or {}, submission)
        if entries != (draft.materials or {}):
            draft.materials = entries
            flag_modified(draft, "materials")
        notice = ("case_filled", {"n": count, "tracking_number": submission.tracking_number})
        if action == "link":
            remember(SUBMISSIONS, submission.tracking_number, parse_token(request))
    draft.prefill = prefill
    flag_modified(draft, "prefill")
    return data, notice


def _identity(draft) -> dict | None:
    """The verified name, ID number and mobile of the applicant who owns the draft
    (统一身份认证), if that is who is signed in now; else None. The draft's access code
    alone (its link, a browser's kept token) opens the draft, never the owner's licences."""
    person = current_applicant()
    if not draft.applicant or person is None or person.subject != draft.applicant:
        return None
    return {"name": person.name, "id_number": person.id_number, "mobile": person.mobile}


def posted_data(draft, composition, verified: dict) -> dict:
    """The draft's data with what the form posted merged in, as every save stores it.

    What the identity platform verified and what a licence's authority certified (trust A,
    locked) are put back whatever the post said, or left out (a disabled choice is not
    posted): the form, its steps and autosave all save through here.
    """
    data = merge_data(draft.data or {}, parse_form(composition.layout, request.form),
                      composition.layout)
    data.update(verified)
    data, _tampered = prefilling.enforce_locks(data, draft.prefill or {})
    return data


def parse_token(req) -> str:
    """The access code of the receipt link the applicant pasted."""
    return prefilling.parse_receipt_link(req.form.get("_earlier_link", ""))[1]


@bp.post("/autosave")
def autosave(public_id: str):
    """Save the form as it is typed (htmx, on change): the answer says whether it was."""
    draft = load_draft(public_id)
    if draft.submitted_at:
        # What was submitted is what the departments got: nothing typed now is kept.
        return render_template("_save_status.html", problem=_(
            "This application was already submitted: changes are no longer saved.")), 409
    composition = composition_of(draft)
    old = draft.data or {}
    data = posted_data(draft, composition, verified_values(draft, composition.layout))
    save_draft(get_session(), draft, data=changes_between(old, data))
    get_session().commit()
    return render_template("_save_status.html", problem=None,
                           saved_at=china_time(dt.datetime.now(dt.UTC), "%H:%M"))


@bp.get("/check")
def check(public_id: str):
    """Check one field on blur; only its message comes back."""
    draft = load_draft(public_id)
    composition = composition_of(draft)
    path = request.args.get("field", "")
    entry = find_entry(composition.layout, path)
    if entry is None:
        abort(404, description="field")
    value = parse_field(entry, request.args)
    if value is None:
        errors = [FieldError(path, "required", "required")] if entry["required"] == "always" \
            else []
    else:
        errors = [FieldError(path, e.validator, e.message, (), e.validator_value)
                  for e in check_field(composition, entry, value)]
    note = division_note(value) if entry["widget"] == "division" else None
    response = make_response(render_template("_field_message.html", path=path, errors=errors,
                                              composition=composition, note=note))
    typed = request.args.get(path, "")
    if isinstance(value, str | int | float) and not isinstance(value, bool) \
            and entry["widget"] not in ("radio", "select") and str(value) != typed:
        # Folded (全角, a lower-case x, +86, spaces around a name): the input shows what
        # will be saved. ASCII JSON (\u escapes): a header is Latin-1 on the wire, and
        # waitress answers 500 for a header it cannot encode.
        response.headers["HX-Trigger"] = json.dumps({"onething:folded": {"value": str(value)}})
    return response


@bp.route("/materials", methods=["GET"])
def materials(public_id: str):
    """The one set of materials, with each one's state; shared data is looked up afresh."""
    draft = load_draft(public_id)
    if draft.submitted_at:
        return to_status(draft)
    composition = composition_of(draft)
    entries = draft.materials or {}
    looked_up = shared.resolve_all(get_session(), composition,
                                   {**(draft.data or {}), "answers": draft.answers}, entries,
                                   identity=_identity(draft))
    if looked_up != entries:
        save_draft(get_session(), draft, materials={
            key: looked_up.get(key) for key in set(entries) | set(looked_up)})
        get_session().commit()
    return render_template("materials.html", draft=draft, composition=composition,
                           problems={})


@bp.post("/materials/<material_id>")
def material(public_id: str, material_id: str):
    """Upload a material, mark it to be supplied later (容缺), or sign the commitment (告知承诺)."""
    # The limit applies while werkzeug streams the body, before anything is kept.
    request.max_content_length = current_app.config["UPLOAD_MAX_BYTES"] + 64 * 1024
    draft = load_draft(public_id)
    if draft.submitted_at:
        # What was submitted is what the departments got: the draft is frozen.
        abort(409, description="submitted")
    composition = composition_of(draft)
    merged = next((m for m in composition.materials if m.id == material_id), None)
    entries = dict(draft.materials or {})
    if merged is None or merged.generated or not shared.needs_upload(
            merged, entries.get(material_id)):
        # Shared data is uploaded only once the registry has said it does not hold it; the
        # application form generated from the one form, never.
        abort(404, description="material")
    action = request.form.get("action", "upload")
    problem = None
    if action == "defer" and merged.necessity == "deferrable":
        entries[material_id] = {"state": "deferred"}
    elif action == "commit" and merged.commitment:
        # Chosen, not signed: the bundle's one letter now has a part for it (一书承诺).
        entries[material_id] = {"state": "commitment"}
    elif action == "clear":
        entries.pop(material_id, None)
        if merged.shared_data:
            # Back to what the registry says, not to "nothing needed".
            found = shared.resolve(get_session(), composition, merged,
                                   {**(draft.data or {}), "answers": draft.answers}, None,
                                   identity=_identity(draft))
            if found is not None:
                entries[material_id] = found
    elif action == "upload":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            problem = "missing_file"
        else:
            stored, problem = store_upload(upload)
            if stored is not None:
                entries[material_id] = uploaded_entry(stored, upload.filename)
    else:
        problem = "not_allowed"
    if problem is None:
        save_draft(get_session(), draft, materials=_changes(draft.materials or {}, entries))
        get_session().commit()
    return _material_response(draft, composition, merged, problem)


def _changes(old: dict, new: dict) -> dict:
    # save_draft merges by material id: None removes what is undone (an upload cleared).
    return {mid: new.get(mid) for mid in set(old) | set(new)}


def _material_response(draft, composition, merged, problem):
    if htmx:
        # The one letter changes with the materials it covers: swapped in beside them.
        return render_template("_material.html", draft=draft, composition=composition,
                               material=merged, problem=problem, letter_oob=True), (
            422 if problem else 200)
    if problem:
        return render_template("materials.html", draft=draft, composition=composition,
                               problems={merged.id: problem}), 422
    return redirect(url_for("drafts.materials", public_id=draft.public_id)
                    + f"#material-{merged.id}")


@bp.get("/materials/<material_id>")
@bp.get("/commitment", defaults={"material_id": None})
def back_to_materials(public_id: str, material_id: str | None):
    """The address a refused form left in the bar, without JavaScript: reloaded, or the
    page's language switched, it opens the materials page at that material again."""
    anchor = f"#material-{material_id}" if material_id else "#commitment"
    return redirect(url_for("drafts.materials", public_id=public_id) + anchor)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """An upload over the limit: say so next to its material; the draft is untouched."""
    public_id = request.view_args.get("public_id") if request.view_args else None
    material_id = request.view_args.get("material_id") if request.view_args else None
    if not public_id or not material_id:
        return render_template("error.html", error=error), 413
    draft = load_draft(public_id)
    composition = composition_of(draft)
    merged = next((m for m in composition.materials if m.id == material_id), None)
    if merged is None:
        return render_template("error.html", error=error), 413
    if htmx:
        return render_template("_material.html", draft=draft, composition=composition,
                               material=merged, problem="too_large"), 413
    return render_template("materials.html", draft=draft, composition=composition,
                           problems={material_id: "too_large"}), 413


@bp.errorhandler(CSRFError)
def stale_form(error):
    """A clerk's upload whose CSRF token is stale (signed in again meanwhile): say so next
    to its material, as every other refusal, not as a silent 400 that htmx drops."""
    material_id = request.view_args.get("material_id") if request.view_args else None
    draft = None
    if material_id:
        try:
            draft = load_draft(request.view_args["public_id"])
        except NotFound:
            draft = None
    composition = composition_of(draft) if draft is not None else None
    merged = next((m for m in composition.materials if m.id == material_id), None) \
        if composition is not None else None
    if merged is None:
        return render_template("_error.html" if htmx else "error.html", error=error), 400
    if htmx:
        return render_template("_material.html", draft=draft, composition=composition,
                               material=merged, problem="session"), 409
    return render_template("materials.html", draft=draft, composition=composition,
                           problems={material_id: "session"}), 409


@bp.post("/commitment")
def commitment(public_id: str):
    """Sign the bundle's one commitment letter (一书承诺), or withdraw the signature."""
    draft = load_draft(public_id)
    if draft.submitted_at:
        abort(409, description="submitted")
    composition = composition_of(draft)
    data, entries = draft.data or {}, dict(draft.materials or {})
    covered = commitments.covered_materials(composition, data, entries)
    signer = " ".join(request.form.get("signer", "").split())
    problem = None
    if request.form.get("action") == "withdraw":
        entries = commitments.withdraw(composition, entries)
    elif not covered:
        problem = "nothing_to_sign"
    elif request.form.get("letter") != commitments.letter_digest(
            commitments.letter_text(commitments.bundle_letter(composition, covered))):
        # Signed is what was read: a letter changed since (another tab) is read again.
        problem = "letter_changed"
    elif not signer:
        problem = "signer_missing"
    elif len(signer) > commitments.SIGNER_MAX:
        problem = "signer_too_long"
    elif request.form.get("confirm") != "yes":
        problem = "not_confirmed"
    else:
        entries = commitments.sign(composition, data, entries, signer, dt.datetime.now(dt.UTC))
    if problem is None:
        save_draft(get_session(), draft, materials=_changes(draft.materials or {}, entries))
        get_session().commit()
    if htmx:
        return render_template("_letter.html", draft=draft, composition=composition,
                               signing_problem=problem, signer=signer), 422 if problem else 200
    if problem:
        return render_template("materials.html", draft=draft, composition=composition,
                               problems={}, signing_problem=problem, signer=signer), 422
    return redirect(url_for("drafts.materials", public_id=public_id) + "#commitment")


def to_status(draft):
    """A submitted draft's links (its resume link too) open its case's status page."""
    submission = get_session().exec(
        select(Submission).where(Submission.draft_id == draft.id)).first()
    if submission is None:
        abort(404, description="draft")
    token = remembered(DRAFTS, draft.public_id)
    if token:
        # The draft's token is its case's: this browser may open the case from now on.
        remember(SUBMISSIONS, submission.tracking_number, token)
    return redirect(url_for("status.receipt", tracking_number=submission.tracking_number))


@bp.get("/review")
def review(public_id: str):
    """Everything once more before the single submit."""
    draft = load_draft(public_id)
    if draft.submitted_at:
        return to_status(draft)
    composition = composition_of(draft)
    # A fresh key per review page: a double click or a browser retry repeats it.
    return render_template("review.html", draft=draft, composition=composition,
                           data=draft.data or {}, get_path=get_path,
                           idempotency_key=secrets.token_urlsafe(16),
                           version=version_of(draft), refused=None,
                           findings=precheck(draft, composition))


@bp.get("/submit")
def submit_address(public_id: str):
    """The refused submit's address, opened again (a restored tab, a copied link): the
    review page, where submitting starts."""
    return redirect(url_for("drafts.review", public_id=public_id), 303)


@bp.post("/submit")
def submit_draft(public_id: str):
    """Submit once: one transaction stores the submission and routes it to the departments."""
    token = remembered(DRAFTS, public_id)
    # The hot path reads the draft as one plain row, not an ORM object.
    row = read_draft(get_session(), public_id, token) if token else None
    clerk = row is None and (filed_by_clerk(public_id) or owned_by_applicant(public_id)) \
        is not None
    if clerk:
        # The clerk who filed it, or the signed-in applicant who owns it, in another
        # session: no token, and none is needed.
        row = read_draft(get_session(), public_id, None, authorised=True)
    if row is None:
        abort(404, description="draft")
    key = request.form.get("idempotency_key", "")
    if not 16 <= len(key) <= 64:
        abort(400, description="idempotency_key")
    if clerk and row.submission_id is None:
        # Only a hash of the applicant's token is kept: a new one, in the submission's
        # transaction, gives the receipt a QR code and a link that open the case.
        row, token = rekey_draft(get_session(), row)
    try:
        # A clerk's submission is put on record in the submission's transaction: both or neither.
        submission = submit(get_session(), row, key, clerk=front_desk_clerk())
    except IdempotencyKeyReused:
        # A key that submitted another draft: a forged or replayed form, never a retry.
        get_session().rollback()
        abort(409, description="idempotency_key")
    except SubmissionRefused as refused:
        get_session().rollback()
        draft = load_draft(public_id)
        composition = composition_of(draft)
        return render_template("review.html", draft=draft, composition=composition,
                               data=draft.data or {}, get_path=get_path,
                               idempotency_key=secrets.token_urlsafe(16),
                               version=version_of(draft), refused=refused,
                               # Submitting asks no platform over the network, nor does
                               # its refusal.
                               findings=precheck(draft, composition, provider=(
                                   shared.submit_provider(get_session(), draft.materials,
                                                          dt.datetime.now(dt.UTC))))), 422
    if token is not None:
        remember(DRAFTS, public_id, token)
        remember(SUBMISSIONS, submission.tracking_number, token)
    return redirect(url_for("status.receipt", tracking_number=submission.tracking_number))
