"""The JSON API for departments' own business systems: their tasks, slices, files, decisions.

Each department's system holds a bearer token (`onething token add`); the
database keeps only its SHA-256. A missing, unknown, revoked or expired token
is 401. Everything is looked up through the token's department, so another
department's task is 404, exactly as in the web inbox. A decision carries an
idempotency key: posting it again returns the first answer and changes nothing
more. The OpenAPI document at /api/v1/openapi.json describes all of it.

A system keeps up with its department's work by syncing: GET /tasks lists tasks in
the order they last changed, (updated_at, id), a page at a time, and each page
gives the cursor to continue from. A task that changes again is listed again,
after the cursor. A change is listed once it is API_SETTLE_SECONDS old: a
transaction that stamped its time before another's but commits after it would
otherwise land behind a cursor already handed out, and never be seen.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import secrets

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from onething.cases.decisions import (
    CERTIFICATE_LENGTH,
    REASON_LENGTH,
    correctable_fields,
    refused_elsewhere,
)
from onething.cases.handover import produced_fields, read_values
from onething.cases.messages import message_for
from onething.publishing.versions import bundle_of, get_version
from onething.storage.models import (
    MAX_ROW_ID,
    RECTIFICATION_STATUSES,
    TASK_STATUSES,
    ApiDecision,
    ApiToken,
    AuditEntry,
    PermitRevocation,
    Rating,
    Rectification,
    Submission,
    Task,
    utc_now,
)
from onething.web.extensions import get_session

bp = Blueprint("api", __name__, url_prefix="/api/v1")

ERRORS = {
    "unauthorized": _l("A valid API token is needed (Authorization: Bearer …)."),
    "not_found": _l("No task of your department matches."),
    "invalid": _l("The request body is not a valid decision."),
    "key_reused": _l("This idempotency key was used for another decision."),
    "certificate_not_approved": _l("A certificate file is attached to an approved task only."),
    "certificate_wrong_type": _l("The certificate file is not a PDF, JPEG or PNG file."),
    "certificate_too_large": _l("The certificate file is larger than the upload limit."),
    "certificate_empty": _l("The certificate file is empty (0 bytes)."),
}
# Why a query parameter of the task list was refused, by parameter.
PARAMETER_ERRORS = {
    "status": _l("status is one of: pending, accepted, supplement, waiting, approved, "
                 "rejected, stopped, closed."),
    "limit": _l("limit is a whole number from 1 to 500."),
    "cursor": _l("This cursor was not given by this API: continue from the last next_cursor "
                 "you received, or start again from updated_after."),
    "updated_after": _l("updated_after is a date and time with its offset (RFC 3339), such "
                        "as 2026-12-01T08:00:00Z or 2026-12-01T16:00:00+08:00."),
    "cursor_and_updated_after": _l("Give either cursor or updated_after, not both: a cursor "
                                   "already says where to continue."),
    "unknown": _l("The task list takes only status, limit, cursor and updated_after, each "
                  "once."),
    "after": _l("after is the id of the last row you received, a whole number."),
    "unknown_ratings": _l("This list takes only after and limit (and status for "
                          "rectifications), each once."),
    "rectification_status": _l("status is one of: open, replied, closed."),
}
# Tasks per page of the list: by default, and at most.
PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
# The answers the HTTP layer gives (app._error_page), in a system's terms.
HTTP_ERRORS = {
    400: _l("The request could not be read (a NUL character in it, or a malformed body); "
            "nothing was changed."),
    404: _l("No such address in this API: check the path and the task id (a positive "
            "number)."),
    405: _l("This address does not take that method: the Allow header lists those it does."),
    413: _l("The body is larger than this API takes (a certificate's file: UPLOAD_MAX_BYTES); "
            "nothing was changed."),
}
PRODUCED_UNKNOWN = _l("This matter hands over only these values when approved: {keys}.")
PRODUCED_REQUIRED = _l("Give this value: the matters that wait for this one receive it.")
_LIST_PARAMETERS = {"status", "limit", "cursor", "updated_after"}
# What a listed task shows, read without its slice (a page of 500 would read 500 slices).
_LISTED = (Task.id, Task.matter_code, Task.status, Task.waits_for, Task.due_date,
           Task.due_estimated, Task.promised_days, Task.certificate_number, Task.handover,
           Task.reason, Task.not_accepted, Task.updated_at, Submission.tracking_number)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# RFC 3339 date-time. A "+" sent unencoded in a query string arrives as a space: read it so.
_MOMENT = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
                     r"(?:([Zz])|([+ -])(\d{2}):(\d{2}))")


def new_token(session: Session, department: str, name: str, days: int = 365,
              actor: str | None = None) -> str:
    """Create a token for a department's system; return it (it is never shown again).

    Audited (`token_create`, never the token) when the `actor` is given."""
    token = "ot_" + secrets.token_urlsafe(32)
    row = ApiToken(department_code=department, name=name,
                   token_hash=hashlib.sha256(token.encode()).hexdigest(),
                   expires_at=utc_now() + dt.timedelta(days=days))
    session.add(row)
    if actor is not None:
        session.flush()
        session.add(AuditEntry(actor=actor, action="token_create", subject=f"token:{row.id}",
                               after={"department_code": department, "name": name,
                                      "expires_at": row.expires_at.isoformat()}))
    session.commit()
    return token


def tokens_statement():
    """Every API token, newest first (its hash stays in the database)."""
    return select(ApiToken).order_by(col(ApiToken.id).desc())


def revoke_token(session: Session, token_id: int, actor: str) -> ApiToken | None:
    """Revoke a token at once, audited; commit. None when there is no such token."""
    token = session.get(ApiToken, token_id)
    if token is None or token.revoked:
        return token
    token.revoked = True
    session.add(token)
    session.add(AuditEntry(actor=actor, action="token_revoke", subject=f"token:{token.id}",
                           before={"name": token.name, "department_code": token.department_code,
                                   "revoked": False},
                           after={"name": token.name, "department_code": token.department_code,
                                  "revoked": True}))
    session.commit()
    return token


def _error(code: str, status: int, **extra):
    response = jsonify({"error": code, "message": str(ERRORS.get(code, code)), **extra})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="onething"'
    return response


@bp.before_request
def _authenticate():
    if request.endpoint == "api.openapi":
        return None
    # The scheme's name is read in any case (RFC 9110: "bearer" is "Bearer").
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return _error("unauthorized", 401)
    digest = hashlib.sha256(given.strip().encode("utf-8", "surrogateescape")).hexdigest()
    token = get_session().exec(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    if token is None or token.revoked or token.expires_at <= utc_now():
        return _error("unauthorized", 401)
    g.api_department = token.department_code
    return None


def _task(task_id: int) -> Task | None:
    return get_session().exec(select(Task).where(
        Task.id == task_id, Task.department_code == g.api_department)).first()


def task_json(task: Task, tracking_number: str, full: bool = False) -> dict:
    """A task as the API shows it; `full` adds its slice and materials."""
    data = {
        "id": task.id, "tracking_number": tracking_number, "matter": task.matter_code,
        "status": task.status, "waits_for": task.waits_for,
        "due_date": task.due_date.isoformat(), "due_estimated": task.due_estimated,
        "promised_days": task.promised_days, "certificate_number": task.certificate_number,
        "produces": (task.handover or {}).get("produces", []),
        "reason": task.reason, "not_accepted": task.not_accepted,
        "updated_at": task.updated_at.isoformat(),
    }
    if full:
        # Revoked by its department after approval (the permit no longer stands).
        revocation = get_session().exec(select(PermitRevocation).where(
            PermitRevocation.task_id == task.id)).first()
        data["revoked"] = ({"reason": revocation.reason,
                            "revoked_at": revocation.revoked_at.isoformat()}
                           if revocation else None)
        data["case_refused"] = refused_elsewhere(get_session(), task)
        # 特别程序 (a hearing, an inspection…): its days do not count, and no decision but
        # acceptance is taken until the department ends it (in the web inbox).
        data["special_procedure"] = task.special_procedure
        # The clock stands (a correction asked, a special procedure) since that day.
        data["paused_since"] = task.paused_since.isoformat() if task.paused_since else None
        data["fields"] = task.slice_data
        # What a correction may name: whole fields of the one form, as the applicant's
        # correction page asks them again.
        data["correctable"] = correctable_fields(get_session(), task)
        # An open correction request (补正): what the applicant was asked to correct.
        data["supplement"] = ({key: task.supplement.get(key) for key in
                               ("fields", "materials", "note")} if task.supplement else None)
        data["certificate_file"] = (
            {"filename": task.certificate_file.get("filename"),
             "content_type": task.certificate_file.get("content_type")}
            if task.certificate_file else None)
        data["materials"] = [
            {**{k: v for k, v in m.items() if k != "file"},
             **({"url": url_for("api.material", task_id=task.id, material_id=m["id"],
                                _external=True)} if m.get("state") == "uploaded" else {}),
             # The generated application form is the slice's application PDF.
             **({"url": url_for("api.application_pdf", task_id=task.id, _external=True)}
                if m.get("state") == "generated" else {})}
            for m in task.slice_materials]
    return data


def encode_cursor(updated_at: dt.datetime, task_id: int) -> str:
    """The opaque cursor of a position in the sync order: after (updated_at, task_id)."""
    micros = (updated_at - _EPOCH) // dt.timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}.{task_id}".encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[dt.datetime, int] | None:
    """The position a cursor of encode_cursor names; None for anything else."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text):
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except ValueError:  # binascii.Error and UnicodeDecodeError both are
        return None
    match = re.fullmatch(r"(-?\d{1,18})\.(\d{1,10})", raw)
    if match is None or int(match[2]) > MAX_ROW_ID:
        return None
    try:
        return _EPOCH + dt.timedelta(microseconds=int(match[1])), int(match[2])
    except OverflowError:
        return None


def parse_moment(text: str) -> dt.datetime | None:
    """An RFC 3339 date-time with its offset, in UTC; None when it is not one."""
    match = _MOMENT.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    offset = dt.timedelta(0)
    if match[9]:
        if int(match[11]) > 59:
            return None
        offset = (-1 if match[9] == "-" else 1) * dt.timedelta(hours=int(match[10]),
                                                             minutes=int(match[11]))
    try:
        # A leap second (23:59:60) is the last moment of its minute here.
        moment = dt.datetime(year, month, day, hour, minute, min(second, 59),
                             int((match[7] or "0")[:6].ljust(6, "0")), dt.timezone(offset))
        return moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def _refuse(reason: str, parameter: str | None = None):
    """A 422 naming the parameter at fault (by default the reason's own) and why."""
    return _error("invalid_parameter", 422, parameter=parameter or reason,
                  message=str(PARAMETER_ERRORS[reason]))


@bp.get("/tasks")
def tasks():
    """The department's tasks in the order they last changed, a page at a time, to sync."""
    args = request.args
    # A parameter this list does not know (page, since, offset…) would be ignored and the
    # caller would read the same page forever: it is refused instead. `lang` picks the
    # language of the messages, as everywhere.
    for name in args:
        if name != "lang" and (name not in _LIST_PARAMETERS or len(args.getlist(name)) > 1):
            return _refuse("unknown", name)
    status = args.get("status")
    if status is not None and status not in TASK_STATUSES:
        return _refuse("status")
    limit = PAGE_SIZE
    if "limit" in args:
        if not re.fullmatch(r"\d{1,3}", args["limit"]) or not \
                1 <= int(args["limit"]) <= MAX_PAGE_SIZE:
            return _refuse("limit")
        limit = int(args["limit"])
    if "cursor" in args and "updated_after" in args:
        return _refuse("cursor_and_updated_after", "cursor")
    position = None
    if "cursor" in args:
        position = decode_cursor(args["cursor"])
        if position is None:
            return _refuse("cursor")
    elif "updated_after" in args:
        moment = parse_moment(args["updated_after"])
        if moment is None:
            return _refuse("updated_after")
        # After every task of that moment: (moment, the largest id).
        position = (max(moment, _EPOCH), MAX_ROW_ID)
    statement = (select(*_LISTED)
                 .join(Submission, col(Submission.id) == col(Task.submission_id))
                 .where(Task.department_code == g.api_department)
                 .order_by(col(Task.updated_at), col(Task.id)).limit(limit + 1))
    if status is not None:
        statement = statement.where(Task.status == status)
    if position is not None:
        statement = statement.where(tuple_(col(Task.updated_at), col(Task.id)) > position)
    settle = current_app.config["API_SETTLE_SECONDS"]
    if settle:
        statement = statement.where(
            col(Task.updated_at) <= utc_now() - dt.timedelta(seconds=settle))
    rows = get_session().exec(statement).all()
    listed = rows[:limit]
    if listed:
        position = (listed[-1].updated_at, listed[-1].id)
    next_cursor = encode_cursor(*(position or (_EPOCH, 0)))
    query = {"status": status} if status is not None else {}
    return jsonify({
        "tasks": [task_json(row, row.tracking_number) for row in listed],
        "has_more": len(rows) > limit,
        "next_cursor": next_cursor,
        "next": url_for("api.tasks", cursor=next_cursor, limit=limit, **query, _external=True),
    })


@bp.get("/tasks/<row_id:task_id>")
def task(task_id: int):
    """One task with its slice: its fields and its materials (download links)."""
    found = _task(task_id)
    if found is None:
        return _error("not_found", 404)
    number = get_session().get(Submission, found.submission_id).tracking_number
    return jsonify(task_json(found, number, full=True))


@bp.get("/tasks/<row_id:task_id>/materials/<material_id>")
def material(task_id: int, material_id: str):
    """Download one uploaded material of the task's slice."""
    from flask import send_file

    from onething.cases.uploads import slice_material

    task = _task(task_id)
    found = slice_material(task, material_id) if task is not None else None
    if found is None:
        return _error("not_found", 404)
    entry, path = found
    return send_file(path, mimetype=entry["content_type"], as_attachment=True,
                     download_name=entry.get("filename") or material_id)


@bp.get("/tasks/<row_id:task_id>/application.pdf")
def application_pdf(task_id: int):
    """The application form (申请表) of the task's slice only, as a PDF drawn on request."""
    from flask import Response

    from onething.cases.application import slice_pdf
    from onething.cases.workflow import submission_composition

    task = _task(task_id)
    if task is None:
        return _error("not_found", 404)
    submission = get_session().get(Submission, task.submission_id)
    composition = submission_composition(get_session(), submission)
    name = f"{submission.tracking_number}-{task.matter_code}.pdf"
    return Response(slice_pdf(task, submission, composition), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "private, no-store"})


DECISION_ACTIONS = ("accept", "approve", "reject", "close", "supplement")
DECISION_KEYS = ("idempotency_key", "action", "certificate_number", "reason", "produced",
                 "fields", "materials")
# Why a decision's body was refused, said to the department's developer with the field.
BODY_PROBLEMS = {
    "body": _l("The request body is not a JSON object (Content-Type: application/json)."),
    "idempotency_key": _l("idempotency_key is a text of 8 to 200 characters, new for each "
                          "decision."),
    "action": _l("action is one of: accept, approve, reject, close, supplement."),
    "unknown": _l("A decision takes only idempotency_key, action, certificate_number, reason, "
                  "produced, fields and materials."),
    "produced": _l("produced is an object: the values the approval hands over, by name."),
    "list": _l("fields and materials are lists of texts (slice paths, material ids)."),
    "correction_only": _l("fields and materials belong to a correction (action supplement) "
                          "only."),
    "text": _l("certificate_number and reason are texts."),
}


# The body's field a decision's refusal is about, by its code (decisions.DECISION_PROBLEMS).
REFUSAL_FIELDS = {
    "certificate_number": "certificate_number", "certificate_too_long": "certificate_number",
    "reason": "reason", "close_reason": "reason", "supplement_note": "reason",
    "reason_too_long": "reason", "produced": "produced", "code_taken": "produced",
    "supplement_items": "fields",
}


def decision_body_problem(body) -> tuple[str, str] | None:
    """The first field of a decision's body that is malformed, and why; None if none is."""
    if not isinstance(body, dict):
        return "body", "body"
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not 8 <= len(key) <= 200:
        return "idempotency_key", "idempotency_key"
    if body.get("action") not in DECISION_ACTIONS:
        return "action", "action"
    unknown = sorted(set(body) - set(DECISION_KEYS))
    if unknown:
        return unknown[0], "unknown"
    if not isinstance(body.get("produced", {}), dict):
        return "produced", "produced"
    for name in ("fields", "materials"):
        # A correction names slice paths and material ids: lists of texts, and only a
        # correction names them.
        if name in body and body["action"] != "supplement":
            return name, "correction_only"
        value = body.get(name, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return name, "list"
    for name in ("certificate_number", "reason"):
        # Texts are texts: a number or a list here is a malformed call, not a 500.
        if not isinstance(body.get(name, ""), str):
            return name, "text"
    return None


@bp.post("/tasks/<row_id:task_id>/decisions")
def post_decision(task_id: int):
    """Take a decision; the same idempotency key always gets the first answer."""
    from onething.cases.decisions import DecisionRefused, decide, decision_problem

    session = get_session()
    found = _task(task_id)
    if found is None:
        return _error("not_found", 404)
    body = request.get_json(silent=True)
    problem = decision_body_problem(body)
    if problem is not None:
        field, reason = problem
        return _error("invalid", 422, field=field, message=str(BODY_PROBLEMS[reason]))
    earlier = _answered(body)
    if earlier is not None:
        if earlier.task_id != task_id or earlier.request != body:
            return _error("key_reused", 422)
        response = jsonify(earlier.response)
        response.status_code = earlier.status_code
        return response
    submission = session.get(Submission, found.submission_id)
    number = submission.tracking_number
    produced = None
    unknown = sorted(set(body.get("produced", {})) - set(produced_fields(found)))
    if unknown:
        # A value the matter does not hand over would be dropped: the caller meant
        # something, and is told what the matter takes instead.
        return _error("produced", 422, field=f"produced.{unknown[0]}",
                      message=str(PRODUCED_UNKNOWN).format(
                          keys=", ".join(produced_fields(found)) or "—"),
                      task=task_json(found, number))
    try:
        if body["action"] == "approve" and found.status == "accepted" \
                and produced_fields(found):
            catalog = bundle_of(get_version(session, submission.bundle_version_id)).catalog
            produced, errors = read_values(catalog, found, body.get("produced", {}))
            if errors:
                # The first value at fault, and what is wrong with it, as the inbox says.
                key, (error, *_) = next(iter(errors.items()))
                field = catalog.fields.get(key)
                return _error("produced", 422, field=f"produced.{key}",
                              message=str(PRODUCED_REQUIRED) if error == "required" else
                              message_for(error, field.schema if field else None),
                              task=task_json(found, number))

        answer = {}

        def keep_answer(task: Task) -> None:
            # Under its key in the decision's own transaction: a retry racing this request
            # finds the decision and its answer together, or neither.
            answer.update(task_json(task, number))
            session.add(ApiDecision(department_code=g.api_department,
                                    idempotency_key=body["idempotency_key"], task_id=task_id,
                                    request=body, status_code=200, response=answer))

        decide(session, found, body["action"], f"api:{g.api_department}",
               certificate_number=body.get("certificate_number"), reason=body.get("reason"),
               fields=body.get("fields"), materials=body.get("materials"),
               produced=produced, record=keep_answer)
    except IntegrityError:
        session.rollback()
        if _answered(body) is None:
            raise
        # The same key raced in from a retry and committed first: its answer is the one.
        return post_decision(task_id)
    except DecisionRefused as refused:
        # Refused, nothing changed: not kept under the key, so the corrected request can
        # carry the same key (a retry of the refused one is refused again).
        session.rollback()
        if refused.task is not None and _answered(body) is not None:
            # Refused because a retry of this very request decided the task meanwhile.
            return post_decision(task_id)
        payload = {"error": refused.code, "message": decision_problem(refused),
                   "task": task_json(found, number)}
        if refused.code in REFUSAL_FIELDS:
            payload["field"] = REFUSAL_FIELDS[refused.code]
        response = jsonify(payload)
        response.status_code = 409 if refused.task is not None else 422
        return response
    return jsonify(answer)


def _answered(body: dict) -> ApiDecision | None:
    """The decision stored under this request's idempotency key, if any."""
    return get_session().exec(select(ApiDecision).where(
        ApiDecision.department_code == g.api_department,
        ApiDecision.idempotency_key == body["idempotency_key"])).first()


class _Body:
    """The raw request body read as an upload (store_upload reads a `stream`)."""

    def __init__(self, stream):
        self.stream = stream


@bp.put("/tasks/<row_id:task_id>/certificate")
def put_certificate(task_id: int):
    """Attach (or replace) the issued certificate's file of an approved task."""
    from werkzeug.http import parse_options_header

    from onething.cases.uploads import store_upload

    session = get_session()
    found = _task(task_id)
    if found is None:
        return _error("not_found", 404)
    if found.status != "approved":
        return _error("certificate_not_approved", 409)
    stored, problem = store_upload(_Body(request.stream))
    if problem:
        session.rollback()
        return _error(f"certificate_{problem}", {"too_large": 413, "empty": 422}.get(
            problem, 415))
    _, options = parse_options_header(request.headers.get("Content-Disposition", ""))
    filename = (options.get("filename") or "certificate").strip()[:200] or "certificate"
    entry = {"file": stored.sha256, "filename": filename,
             "content_type": stored.content_type}
    if found.certificate_file != entry:
        before = found.certificate_file
        found.certificate_file = entry
        session.add(found)
        session.add(AuditEntry(actor=f"api:{g.api_department}", action="attach_certificate",
                               subject=f"task:{found.id}",
                               before={"certificate_file": before},
                               after={"certificate_file": entry}))
    session.commit()
    submission = session.get(Submission, found.submission_id)
    return jsonify(task_json(found, submission.tracking_number, full=True))
def _rows_after(model, parameters: set[str]):
    """Parse `after` and `limit` (and refuse anything else) for a list read in id order."""
    args = request.args
    for name in args:
        if name != "lang" and (name not in parameters or len(args.getlist(name)) > 1):
            return _refuse("unknown_ratings", name)
    after = 0
    if "after" in args:
        if not re.fullmatch(r"\d{1,10}", args["after"]) or int(args["after"]) > MAX_ROW_ID:
            return _refuse("after")
        after = int(args["after"])
    limit = PAGE_SIZE
    if "limit" in args:
        if not re.fullmatch(r"\d{1,3}", args["limit"]) or not \
                1 <= int(args["limit"]) <= MAX_PAGE_SIZE:
            return _refuse("limit")
        limit = int(args["limit"])
    statement = (select(model, Submission.tracking_number)
                 .join(Submission, col(Submission.id) == col(model.submission_id))
                 .where(model.department_code == g.api_department, col(model.id) > after)
                 .order_by(col(model.id)).limit(limit + 1))
    return statement, limit, after


def _page_json(key: str, rows: list, limit: int, after: int, shape) -> dict:
    listed = rows[:limit]
    last = listed[-1][0].id if listed else after
    return {key: [shape(row[0], row[1]) for row in listed], "has_more": len(rows) > limit,
            "next_after": last}


def rating_json(rating: Rating, tracking_number: str) -> dict:
    """A rating as the API shows it: what the rated department needs to follow it up."""
    return {"id": rating.id, "tracking_number": tracking_number, "task_id": rating.task_id,
            "scope": "case" if rating.task_id is None else "task",
            "matter": rating.matter_code, "bundle": rating.bundle_code, "level": rating.level,
            "tags": rating.tags, "comment": rating.comment, "channel": rating.channel,
            "created_at": rating.created_at.isoformat(),
            "updated_at": rating.updated_at.isoformat()}


def rectification_json(row: Rectification, tracking_number: str) -> dict:
    """A rectification as the API shows it."""
    return {"id": row.id, "rating_id": row.rating_id, "tracking_number": tracking_number,
            "matter": row.matter_code, "bundle": row.bundle_code, "level": row.level,
            "status": row.status, "opened_at": row.opened_at.isoformat(),
            "due_date": row.due_date.isoformat(), "due_estimated": row.due_estimated,
            "verified": row.verified, "fix": row.fix, "reply": row.reply,
            "callback_result": row.callback_result,
            "closed_at": row.closed_at.isoformat() if row.closed_at else None}


@bp.get("/ratings")
def ratings_list():
    """The department's ratings (好差评), in the order they were first given."""
    parsed = _rows_after(Rating, {"after", "limit"})
    if not isinstance(parsed, tuple):
        return parsed
    statement, limit, after = parsed
    rows = get_session().exec(statement).all()
    return jsonify(_page_json("ratings", rows, limit, after, rating_json))


@bp.get("/rectifications")
def rectifications_list():
    """The department's rectifications of bad ratings (差评整改), oldest first."""
    parsed = _rows_after(Rectification, {"after", "limit", "status"})
    if not isinstance(parsed, tuple):
        return parsed
    statement, limit, after = parsed
    status = request.args.get("status")
    if status is not None:
        if status not in RECTIFICATION_STATUSES:
            return _refuse("rectification_status", "status")
        statement = statement.where(Rectification.status == status)
    rows = get_session().exec(statement).all()
    return jsonify(_page_json("rectifications", rows, limit, after, rectification_json))
@bp.post("/tasks/<row_id:task_id>/revocation")
def post_revocation(task_id: int):
    """Revoke the department's approved permit with a reason; a second revocation is 409."""
    from onething.cases.licences import PROBLEMS, RevocationRefused, revoke

    found = _task(task_id)
    if found is None:
        return _error("not_found", 404)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or set(body) - {"reason"} \
            or not isinstance(body.get("reason", ""), str):
        return _error("invalid", 422)
    try:
        revocation = revoke(get_session(), found, f"api:{g.api_department}", body.get("reason"))
    except RevocationRefused as refused:
        response = jsonify({"error": refused.code, "message": str(PROBLEMS[refused.code])})
        response.status_code = 409 if refused.code in ("not_approved", "revoked") else 422
        return response
    return jsonify({"task_id": found.id, "reason": revocation.reason,
                    "revoked_at": revocation.revoked_at.isoformat()})


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of this API."""
    return jsonify(OPENAPI)


_TASK = {
    "type": "object",
    "required": ["id", "tracking_number", "matter", "status", "waits_for", "due_date",
                 "updated_at"],
    "properties": {
        "id": {"type": "integer"}, "tracking_number": {"type": "string"},
        "matter": {"type": "string"},
        "status": {"enum": list(TASK_STATUSES)},
        "waits_for": {"type": "array", "items": {"type": "string"}},
        "due_date": {"type": "string", "format": "date"},
        "due_estimated": {"type": "boolean"}, "promised_days": {"type": "integer"},
        "certificate_number": {"type": ["string", "null"]},
        "produces": {"type": "array", "items": {"type": "string"}},
        "reason": {"type": ["string", "null"]},
        "not_accepted": {"type": "boolean",
                         "description": "Refused before it was accepted (不予受理), not "
                                        "after examination (不予许可); status is rejected."},
        "updated_at": {"type": "string", "format": "date-time",
                       "description": "When the task last changed: routed, decided, "
                                      "unlocked, stopped, handed values, corrected."},
        "special_procedure": {
            "type": ["object", "null"],
            "description": "A special procedure (特别程序) under way: kind (hearing, inspection, "
                           "expert_review, other), reason, since (a date). Its days do not "
                           "count; only accept is taken until the department ends it.",
            "properties": {"kind": {"type": "string"}, "reason": {"type": "string"},
                           "since": {"type": "string", "format": "date"}}},
        "paused_since": {"type": ["string", "null"], "format": "date",
                         "description": "The day the task's clock stopped (a correction "
                                        "asked, a special procedure), while it stands."},
        "case_refused": {"type": "array", "items": {"type": "string"},
                         "description": "The case's matters another department refused: the "
                                        "case cannot complete, and an open task may be "
                                        "closed. Telling it moves `updated_at`."},
        "fields": {"type": "object"},
        "correctable": {"type": "array", "items": {"type": "string"},
                        "description": "The paths of `fields` a correction (action "
                                       "supplement) may name: whole fields of the one form "
                                       "the applicant can be asked again, not a value another "
                                       "matter handed over."},
        "materials": {"type": "array", "items": {"type": "object"}},
        "revoked": {"type": ["object", "null"],
                    "description": "The approved permit's revocation by its department: "
                                   "reason and time (null while it stands)."},
        "supplement": {"type": ["object", "null"],
                       "description": "The open correction request (补正): fields, materials "
                                      "and the note to the applicant."},
        "certificate_file": {"type": ["object", "null"],
                             "description": "The issued certificate's file, if attached: its "
                                            "filename and content type."},
    },
}
_ERROR = {"type": "object", "required": ["error", "message"],
          "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                         "parameter": {"type": "string",
                                       "description": "the query parameter refused"},
                         "field": {"type": "string",
                                   "description": "the field of the request body refused"},
                         "task": {"$ref": "#/components/schemas/Task"}}}
_LIST_QUERY = [
    {"name": "status", "in": "query", "required": False,
     "description": "Only tasks in this status now.",
     "schema": {"enum": list(TASK_STATUSES)}},
    {"name": "limit", "in": "query", "required": False,
     "description": "Tasks per page.",
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                "default": PAGE_SIZE}},
    {"name": "cursor", "in": "query", "required": False,
     "description": "Continue after the position a page's `next_cursor` gave (opaque). "
                    "Not with `updated_after`.",
     "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "maxLength": 64}},
    {"name": "updated_after", "in": "query", "required": False,
     "description": "Only tasks that changed after this moment (RFC 3339, with its "
                    "offset). Not with `cursor`.",
     "schema": {"type": "string", "format": "date-time"}},
]
_TASK_PAGE = {
    "type": "object", "required": ["tasks", "has_more", "next_cursor", "next"],
    "properties": {
        "tasks": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
        "has_more": {"type": "boolean",
                     "description": "More tasks follow now: fetch `next` at once."},
        "next_cursor": {"type": "string",
                        "description": "Where the next page starts: after the last task "
                                       "listed (or where this page started, when it is "
                                       "empty). Keep it to sync again later."},
        "next": {"type": "string", "format": "uri",
                 "description": "The next page's URL: the same status and limit, from "
                                "`next_cursor`."},
    },
}


_RATING = {
    "type": "object",
    "required": ["id", "tracking_number", "scope", "level", "tags", "channel", "created_at"],
    "properties": {
        "id": {"type": "integer"}, "tracking_number": {"type": "string"},
        "task_id": {"type": ["integer", "null"]},
        "scope": {"enum": ["task", "case"],
                  "description": "A matter's task (一事一评) or the whole case's window "
                                 "service (一次一评)."},
        "matter": {"type": ["string", "null"]}, "bundle": {"type": "string"},
        "level": {"type": "integer", "minimum": 1, "maximum": 5,
                  "description": "5 非常满意 … 1 非常不满意; 1 and 2 are bad ratings."},
        "tags": {"type": "array",
                 "items": {"enum": ["attitude", "efficiency", "materials", "system"]}},
        "comment": {"type": ["string", "null"]},
        "channel": {"enum": ["online", "window"]},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
_RECTIFICATION = {
    "type": "object",
    "required": ["id", "rating_id", "tracking_number", "level", "status", "due_date"],
    "properties": {
        "id": {"type": "integer"}, "rating_id": {"type": "integer"},
        "tracking_number": {"type": "string"}, "matter": {"type": ["string", "null"]},
        "bundle": {"type": "string"}, "level": {"type": "integer"},
        "status": {"enum": list(RECTIFICATION_STATUSES)},
        "opened_at": {"type": "string", "format": "date-time"},
        "due_date": {"type": "string", "format": "date"}, "due_estimated": {"type": "boolean"},
        "verified": {"type": ["string", "null"]}, "fix": {"type": ["string", "null"]},
        "reply": {"type": ["string", "null"]},
        "callback_result": {"type": ["string", "null"]},
        "closed_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
_AFTER_QUERY = [
    {"name": "after", "in": "query", "required": False,
     "description": "Only rows after this id: the previous page's `next_after`.",
     "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ROW_ID}},
    {"name": "limit", "in": "query", "required": False, "description": "Rows per page.",
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                "default": PAGE_SIZE}},
]


def _list_of(key: str, item: str) -> dict:
    return {"type": "object", "required": [key, "has_more", "next_after"],
            "properties": {key: {"type": "array",
                                 "items": {"$ref": f"#/components/schemas/{item}"}},
                           "has_more": {"type": "boolean"},
                           "next_after": {"type": "integer",
                                          "description": "Continue with ?after= this."}}}


_TASK_ID = {"name": "task_id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}}


_ERROR_BODY = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _responses(ok: dict, *codes: int) -> dict:
    error = _ERROR_BODY
    responses = {"200": ok, "400": {"description": "a malformed request", **error},
                 "401": {"description": "no valid token", **error}}
    for code in codes:
        responses[str(code)] = {"description": {404: "not a task of your department",
                                                409: "not decidable in this state",
                                                422: "invalid request"}[code], **error}
    return responses


OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "OneThing departments' API", "version": "1"},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Task": _TASK, "TaskPage": _TASK_PAGE, "Error": _ERROR,
                    "Rating": _RATING, "Rectification": _RECTIFICATION},
    },
    "paths": {
        "/ratings": {"get": {
            "operationId": "listRatings",
            "summary": "The department's ratings (好差评), in the order first given",
            "description": "A rating changed later keeps its place; the `rating.changed` "
                           "webhook event says when.",
            "parameters": _AFTER_QUERY,
            "responses": _responses({"description": "a page of ratings", "content": {
                "application/json": {"schema": _list_of("ratings", "Rating")}}}, 422),
        }},
        "/rectifications": {"get": {
            "operationId": "listRectifications",
            "summary": "The department's rectifications of bad ratings (差评整改)",
            "parameters": [*_AFTER_QUERY, {
                "name": "status", "in": "query", "required": False,
                "schema": {"enum": list(RECTIFICATION_STATUSES)}}],
            "responses": _responses({"description": "a page of rectifications", "content": {
                "application/json": {"schema": _list_of("rectifications",
                                                        "Rectification")}}}, 422),
        }},
        "/tasks": {"get": {
            "operationId": "listTasks",
            "summary": "Sync the department's tasks, in the order they last changed",
            "description": (
                "Tasks ordered by (updated_at, id), a page at a time. Start without a "
                "cursor (everything) or with `updated_after`; follow `next` while "
                "`has_more`; keep `next_cursor` and continue from it later. A task that "
                "changes again (a decision, unlocked, stopped, values handed over, "
                "corrected) is listed again after the cursor; none is skipped. Changes "
                "are listed once they are a few seconds old (API_SETTLE_SECONDS)."),
            "parameters": _LIST_QUERY,
            "responses": _responses({"description": "a page of the department's tasks",
                                     "content": {"application/json": {
                                         "schema": {"$ref": "#/components/schemas/TaskPage"}}}},
                                    422),
        }},
        "/tasks/{task_id}": {"get": {
            "operationId": "getTask",
            "parameters": [_TASK_ID],
            "responses": _responses({"description": "the task with its slice", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Task"}}}}, 404),
        }},
        "/tasks/{task_id}/certificate": {"put": {
            "operationId": "attachCertificate",
            "summary": "Attach the issued certificate's file to an approved task",
            "description": "The body is the file itself (PDF, JPEG or PNG, by its first "
                           "bytes); `Content-Disposition: attachment; filename=…` names it. "
                           "Sending it again replaces it; each change is audited. The "
                           "applicant downloads it from the status page.",
            "parameters": [_TASK_ID,
                           {"name": "Content-Disposition", "in": "header", "required": False,
                            "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {
                kind: {"schema": {"type": "string", "format": "binary"}}
                for kind in ("application/pdf", "image/jpeg", "image/png")}},
            "responses": {**_responses({"description": "the task with its certificate file",
                                        "content": {"application/json": {"schema": {
                                            "$ref": "#/components/schemas/Task"}}}}, 404, 409),
                          "413": {"description": "larger than the upload limit", **_ERROR_BODY},
                          "415": {"description": "not a PDF, JPEG or PNG file",
                                  **_ERROR_BODY},
                          "422": {"description": "an empty file (0 bytes)", **_ERROR_BODY}},
        }},
        "/tasks/{task_id}/materials/{material_id}": {"get": {
            "operationId": "getMaterial",
            "description": "A file the applicant handed in for the task's slice: the `url` "
                           "of a material whose state is `uploaded`. Never another "
                           "department's.",
            "parameters": [_TASK_ID, {"name": "material_id", "in": "path", "required": True,
                                      "schema": {"type": "string"}}],
            "responses": _responses({"description": "the file, as it was handed in",
                                     "content": {kind: {"schema": {"type": "string",
                                                                   "format": "binary"}}
                                                 for kind in ("application/pdf", "image/jpeg",
                                                              "image/png")}}, 404),
        }},
        "/tasks/{task_id}/application.pdf": {"get": {
            "operationId": "getApplicationForm",
            "description": "The application form (申请表) of the task's slice only, as a PDF "
                           "drawn on request: its fields, materials and signed commitments.",
            "parameters": [_TASK_ID],
            "responses": _responses({"description": "the slice's application form",
                                     "content": {"application/pdf": {"schema": {
                                         "type": "string", "format": "binary"}}}}, 404),
        }},
        "/tasks/{task_id}/decisions": {"post": {
            "operationId": "decide",
            "parameters": [_TASK_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["idempotency_key", "action"],
                "additionalProperties": False,
                "properties": {
                    "idempotency_key": {"type": "string", "minLength": 8, "maxLength": 200},
                    # close: only in a case with a refused matter (else 422), with a reason.
                    # supplement: ask the applicant to correct fields or materials (补正).
                    "action": {"enum": ["accept", "approve", "reject", "close",
                                        "supplement"]},
                    "certificate_number": {"type": "string", "pattern": "\\S",
                                           "maxLength": CERTIFICATE_LENGTH},
                    "reason": {"type": "string", "pattern": "\\S", "maxLength": REASON_LENGTH},
                    "produced": {
                        "description": "Approving a matter that yields values (办结产出, e.g. "
                                       "the new entity's entity_uscc) gives them, by field key; "
                                       "the task's `produces` names them.",
                        "type": "object", "additionalProperties": {"type": ["string", "number"]}},
                    "fields": {
                        "description": "supplement: the fields to correct, from the task's "
                                       "`correctable` (whole fields: a group's row or an "
                                       "address's part is corrected with its field).",
                        "type": "array", "items": {"type": "string"}},
                    "materials": {
                        "description": "supplement: the ids of the task's materials the "
                                       "applicant uploaded (state `uploaded`) to upload again.",
                        "type": "array", "items": {"type": "string"}},
                },
                # Approving names the certificate; refusing gives the reason.
                "allOf": [
                    {"if": {"properties": {"action": {"const": "approve"}}},
                     "then": {"required": ["certificate_number"]}},
                    # A correction says what to correct and how, whole (一次性告知).
                    {"if": {"properties": {"action": {"enum": ["reject", "close",
                                                               "supplement"]}}},
                     "then": {"required": ["reason"]}},
                    {"if": {"properties": {"action": {"const": "supplement"}}},
                     "then": {"anyOf": [{"required": ["fields"]}, {"required": ["materials"]}]}},
                ]}}}},
            "responses": _responses({"description": "the task after the decision", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Task"}}}},
                404, 409, 422),
        }},
        "/tasks/{task_id}/revocation": {"post": {
            "operationId": "revoke",
            "description": "Revoke the department's approved permit (一业一证: the comprehensive "
                           "licence then reads partly revoked). Audited; a second revocation "
                           "of the same permit, or of a task not approved, is 409.",
            "parameters": [_TASK_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["reason"], "additionalProperties": False,
                "properties": {"reason": {"type": "string", "pattern": "\\S",
                                          "maxLength": 2000}}}}}},
            "responses": _responses({"description": "the revocation", "content": {
                "application/json": {"schema": {
                    "type": "object", "required": ["task_id", "reason", "revoked_at"],
                    "properties": {"task_id": {"type": "integer"},
                                   "reason": {"type": "string"},
                                   "revoked_at": {"type": "string", "format": "date-time"}}}}}},
                404, 409, 422),
        }},
    },
}
