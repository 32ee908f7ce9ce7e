"""The JSON API for departments' own business systems: their tasks, slices, files, decisions.

Each department's system holds a bearer token (`onething token add`); the
database keeps only its SHA-256. A missing, unknown, revoked or expired token
is 401. Everything is looked up through the token's department, so another
department's task is 404, exactly as in the web inbox. A decision carries an
idempotency key: posting it again returns the first answer and changes nothing
more. The OpenAPI document at /api/v1/openapi.json describes all of it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import Blueprint, g, jsonify, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from onething.cases.handover import produced_fields, read_values
from onething.publishing.versions import bundle_of, get_version
from onething.storage.models import (
    MAX_ROW_ID,
    TASK_STATUSES,
    ApiDecision,
    ApiToken,
    AuditEntry,
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
}


def new_token(session: Session, department: str, name: str, days: int = 365) -> str:
    """Create a token for a department's system; return it (it is never shown again)."""
    token = "ot_" + secrets.token_urlsafe(32)
    session.add(ApiToken(department_code=department, name=name,
                         token_hash=hashlib.sha256(token.encode()).hexdigest(),
                         expires_at=utc_now() + dt.timedelta(days=days)))
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
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return _error("unauthorized", 401)
    digest = hashlib.sha256(header.removeprefix("Bearer ").strip().encode()).hexdigest()
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
        "reason": task.reason,
    }
    if full:
        data["fields"] = task.slice_data
        data["materials"] = [
            {**{k: v for k, v in m.items() if k != "file"},
             **({"url": url_for("api.material", task_id=task.id, material_id=m["id"],
                                _external=True)} if m.get("state") == "uploaded" else {})}
            for m in task.slice_materials]
    return data


@bp.get("/tasks")
def tasks():
    """The department's tasks, optionally of one status."""
    statement = (select(Task, Submission.tracking_number)
                 .join(Submission, col(Submission.id) == col(Task.submission_id))
                 .where(Task.department_code == g.api_department).order_by(col(Task.id)))
    if request.args.get("status"):
        if request.args["status"] not in TASK_STATUSES:
            return _error("invalid", 422)
        statement = statement.where(Task.status == request.args["status"])
    rows = get_session().exec(statement.limit(1000)).all()
    return jsonify({"tasks": [task_json(task, number) for task, number in rows]})


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


@bp.post("/tasks/<row_id:task_id>/decisions")
def post_decision(task_id: int):
    """Take a decision; the same idempotency key always gets the first answer."""
    from onething.cases.decisions import DecisionRefused, decide, decision_problem

    session = get_session()
    found = _task(task_id)
    if found is None:
        return _error("not_found", 404)
    body = request.get_json(silent=True)
    if (not isinstance(body, dict) or not isinstance(body.get("idempotency_key"), str)
            or not 8 <= len(body["idempotency_key"]) <= 200
            or body.get("action") not in ("accept", "approve", "reject", "close")
            or set(body) - {"idempotency_key", "action", "certificate_number", "reason",
                            "produced"}
            or not isinstance(body.get("produced", {}), dict)
            # Texts are texts: a number or a list here is a malformed call, not a 500.
            or any(not isinstance(body.get(key, ""), str)
                   for key in ("certificate_number", "reason"))):
        return _error("invalid", 422)
    earlier = session.exec(select(ApiDecision).where(
        ApiDecision.department_code == g.api_department,
        ApiDecision.idempotency_key == body["idempotency_key"])).first()
    if earlier is not None:
        if earlier.task_id != task_id or earlier.request != body:
            return _error("key_reused", 422)
        response = jsonify(earlier.response)
        response.status_code = earlier.status_code
        return response
    submission = session.get(Submission, found.submission_id)
    number = submission.tracking_number
    produced = None
    try:
        if body["action"] == "approve" and found.status == "accepted" \
                and produced_fields(found):
            catalog = bundle_of(get_version(session, submission.bundle_version_id)).catalog
            produced, errors = read_values(catalog, found, body.get("produced", {}))
            if errors:
                raise DecisionRefused("produced")
        decide(session, found, body["action"], f"api:{g.api_department}",
               certificate_number=body.get("certificate_number"), reason=body.get("reason"),
               produced=produced)
        status, payload = 200, task_json(found, number)
    except DecisionRefused as refused:
        status = 409 if refused.task is not None else 422
        payload = {"error": refused.code, "message": decision_problem(refused),
                   "task": task_json(found, number)}
    session.add(ApiDecision(department_code=g.api_department,
                            idempotency_key=body["idempotency_key"], task_id=task_id,
                            request=body, status_code=status, response=payload))
    try:
        session.commit()
    except IntegrityError:
        # The same key raced in from a retry: its answer is the one to give.
        session.rollback()
        return post_decision(task_id)
    response = jsonify(payload)
    response.status_code = status
    return response


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of this API."""
    return jsonify(OPENAPI)


_TASK = {
    "type": "object",
    "required": ["id", "tracking_number", "matter", "status", "waits_for", "due_date"],
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
        "fields": {"type": "object"},
        "materials": {"type": "array", "items": {"type": "object"}},
    },
}
_ERROR = {"type": "object", "required": ["error", "message"],
          "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                         "task": {"$ref": "#/components/schemas/Task"}}}


_TASK_ID = {"name": "task_id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}}


def _responses(ok: dict, *codes: int) -> dict:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
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
        "schemas": {"Task": _TASK, "Error": _ERROR},
    },
    "paths": {
        "/tasks": {"get": {
            "operationId": "listTasks",
            "parameters": [{"name": "status", "in": "query", "required": False,
                            "schema": {"enum": list(TASK_STATUSES)}}],
            "responses": _responses({"description": "the department's tasks", "content": {
                "application/json": {"schema": {"type": "object", "required": ["tasks"],
                                                "properties": {"tasks": {
                                                    "type": "array", "items": {
                                                        "$ref": "#/components/schemas/Task"}}}}}}},
                422),
        }},
        "/tasks/{task_id}": {"get": {
            "operationId": "getTask",
            "parameters": [_TASK_ID],
            "responses": _responses({"description": "the task with its slice", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Task"}}}}, 404),
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
                    "action": {"enum": ["accept", "approve", "reject", "close"]},
                    "certificate_number": {"type": "string", "pattern": "\\S"},
                    "reason": {"type": "string", "pattern": "\\S"},
                    "produced": {
                        "description": "Approving a matter that yields values (办结产出, e.g. "
                                       "the new entity's entity_uscc) gives them, by field key; "
                                       "the task's `produces` names them.",
                        "type": "object", "additionalProperties": {"type": ["string", "number"]}},
                },
                # Approving names the certificate; refusing gives the reason.
                "allOf": [
                    {"if": {"properties": {"action": {"const": "approve"}}},
                     "then": {"required": ["certificate_number"]}},
                    {"if": {"properties": {"action": {"enum": ["reject", "close"]}}},
                     "then": {"required": ["reason"]}},
                ]}}}},
            "responses": _responses({"description": "the task after the decision", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Task"}}}},
                404, 409, 422),
        }},
    },
}
