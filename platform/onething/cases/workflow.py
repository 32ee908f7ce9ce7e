"""Drafts and submission: from the one form in progress to routed department tasks.

An applicant resumes a draft with its public id plus a secret token that only
they hold (the database keeps its SHA-256). Submitting a draft validates it
against the composition of its pinned bundle version and, in one transaction,
stores the submission (受理) and one task per step of the routing plan, each
with only its step's slice of the data and materials.

Submitting is idempotent: a double click, a retry after a lost response or two
racing requests all end with the one submission of the draft, because the
database's unique constraints on the draft and the idempotency key decide.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import hashlib
import hmac
import logging
import re
import secrets
import threading
import unicodedata
from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, insert, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified, set_committed_value
from sqlmodel import Session, col, select

from onething.cases import events, holidays, shared
from onething.cases import rules as case_rules
from onething.cases.parties import party_of
from onething.catalog.workdays import WORKING_DAYS, DueDate, china_today, due_date
from onething.composer.compose import (
    RESERVED_KEYS,
    AnswersError,
    Composition,
    compose,
    compose_submitted,
)
from onething.composer.materials import MergedMaterial
from onething.composer.routing import RoutingPlan
from onething.composer.validation import FieldError, field_errors
from onething.publishing.versions import bundle_at, bundle_of, get_version
from onething.storage.db import DriverStatement
from onething.storage.models import (
    AuditEntry,
    BundleVersion,
    Draft,
    StoredFile,
    Submission,
    Task,
    Webhook,
    utc_now,
)

# secrets.token_urlsafe(24): 192 bits, beyond guessing even with the public id known.
TOKEN_BYTES = 24
PUBLIC_ID_BYTES = 16
# Crockford's base32: no I, L, O or U, so a number read out over the phone survives.
CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_SUFFIX_LENGTH = 6
# Tries at a fresh tracking number if one collides (32**6 per day makes this rare).
_SUBMIT_ATTEMPTS = 5

MATERIAL_STATES = ("uploaded", "deferred", "commitment")


class SubmissionRefused(Exception):
    """A draft that cannot be submitted yet, with every reason keyed by field or material."""

    def __init__(
        self,
        *,
        field_errors: dict[str, list[FieldError]] | None = None,
        material_errors: dict[str, str] | None = None,
        answer_errors: dict[str, list[FieldError]] | None = None,
        rule_failures: list | None = None,
    ):
        self.field_errors = field_errors or {}
        # 智能预审: the blocking rules that failed (cases.rules.Finding), each with its
        # explanation and the field it is about.
        self.rule_failures = rule_failures or []
        self.material_errors = material_errors or {}
        self.answer_errors = answer_errors or {}
        parts = [
            *(f"{path}: {errors[0].message}" for path, errors in self.answer_errors.items()),
            *(f"{path}: {errors[0].message}" for path, errors in self.field_errors.items()),
            *(f"material {mid}: {reason}" for mid, reason in self.material_errors.items()),
            *(f"rule {f.matter}/{f.outcome.id}" for f in self.rule_failures),
        ]
        super().__init__("submission refused: " + "; ".join(parts))


class DraftSubmitted(Exception):
    """A submitted draft is frozen: what was submitted is what the departments got."""


class IdempotencyKeyReused(Exception):
    """An idempotency key that already submitted another draft."""


def token_hash(token: str) -> str:
    """The SHA-256 (hex) of a secret token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


# --- drafts -----------------------------------------------------------------------------------


def create_draft(
    session: Session, version: BundleVersion, created_by: str | None = None,
    answers: dict | None = None,
) -> tuple[Draft, str]:
    """Start a draft on a bundle version; return it with its secret resume token; commit.

    A front-desk clerk's (`created_by`) draft is put on record (audit log) in the
    same transaction.
    """
    token = secrets.token_urlsafe(TOKEN_BYTES)
    draft = Draft(
        public_id=secrets.token_urlsafe(PUBLIC_ID_BYTES),
        token_hash=token_hash(token),
        bundle_version_id=version.id,
        created_by=created_by,
        answers=copy.deepcopy(answers or {}),
    )
    session.add(draft)
    if created_by is not None:
        session.flush()  # the draft's id, for the audit entry
        session.add(AuditEntry(actor=created_by, action="start_for_applicant",
                               subject=f"draft:{draft.id}",
                               after={"bundle": version.bundle_code}))
    session.commit()
    return draft, token


def _token_matches(stored_hash: str, token: str | None) -> bool:
    if not isinstance(token, str):
        return False
    # Constant time: how long the comparison takes must not reveal the hash.
    return hmac.compare_digest(stored_hash, token_hash(token))


def find_draft(session: Session, public_id: str, token: str | None) -> Draft | None:
    """The draft with this public id if the token is its own; None otherwise."""
    draft = session.exec(select(Draft).where(Draft.public_id == public_id)).first()
    if draft is None or not _token_matches(draft.token_hash, token):
        return None
    return draft


def _merge(current: dict, changes: dict) -> dict:
    # Given keys replace, None removes, the rest stays.
    merged = copy.deepcopy(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def save_draft(
    session: Session,
    draft: Draft,
    *,
    answers: dict | None = None,
    data: dict | None = None,
    materials: dict | None = None,
) -> Draft:
    """Save what is given into a draft and commit; what is not given stays as it was.

    `answers` replace the questionnaire's answers whole (it is one page, posted
    together). `data` merges: each given top-level field replaces the stored
    one, `matters` replaces only the namespaces it names, each whole; a None
    value removes a field or namespace. `materials` merges by material id
    the same way.
    """
    if draft.submitted_at is not None:
        raise DraftSubmitted(f"draft {draft.public_id} was submitted")
    if answers is not None:
        draft.answers = copy.deepcopy(answers)
        flag_modified(draft, "answers")
    if data is not None:
        changes = dict(data)
        merged_matters = None
        if "matters" in changes:
            given = changes.pop("matters")
            stored = draft.data.get("matters")
            merged_matters = _merge(stored if isinstance(stored, dict) else {}, given or {})
        merged = _merge(draft.data, changes)
        if merged_matters is not None:
            merged["matters"] = merged_matters
        draft.data = merged
        flag_modified(draft, "data")
    if materials is not None:
        draft.materials = _merge(draft.materials, materials)
        flag_modified(draft, "materials")
    draft.updated_at = utc_now()
    session.add(draft)
    session.commit()
    return draft


# --- submission -------------------------------------------------------------------------------


def typed_tracking_number(typed: str) -> str:
    """A 受理编号 as people type one, read as it was printed: full-width characters, lower
    case, spaces, any dash or none ("OT20261202RH9PS1"), the date without its "OT", and
    after the dash the letters Crockford base32 never uses as the digits they look like
    (O is 0, I and L are 1)."""
    number = re.sub(r"\s+", "", unicodedata.normalize("NFKC", typed)).upper()
    number = re.sub(r"[\u2010-\u2015\u2212_]", "-", number)
    if number[:1].isdigit():
        number = "OT" + number
    if re.match(r"OT\d{8}[0-9A-Z]", number):
        number = number[:10] + "-" + number[10:]
    head, dash, tail = number.partition("-")
    return head + dash + tail.translate(str.maketrans("OIL", "011"))


def new_tracking_number(day: dt.date) -> str:
    """A fresh 受理编号: OT, the date, a dash and six random Crockford base32 characters."""
    suffix = "".join(secrets.choice(CROCKFORD_ALPHABET) for _ in range(TRACKING_SUFFIX_LENGTH))
    return f"OT{day:%Y%m%d}-{suffix}"


def submitted_data(composition: Composition, draft_data: dict, answers: dict) -> dict:
    """The draft's data cut to the composition's fields, with the answers it was composed for.

    The result shares values with its arguments: submitting reads a draft fresh from the
    database and serializes the result at once, so copying would only cost time.
    """
    properties = composition.schema["properties"]
    data: dict[str, Any] = {"answers": answers}
    for key, value in draft_data.items():
        if key in properties and key not in RESERVED_KEYS:
            data[key] = value
    namespaces = properties.get("matters", {}).get("properties", {})
    given = draft_data.get("matters")
    if isinstance(given, dict):
        # Whole namespaces of applicable matters only: a stray key inside one is the
        # applicant's to fix (the validator names it), a whole inapplicable matter is not.
        matters = {code: v for code, v in given.items() if code in namespaces}
        if matters:
            data["matters"] = matters
    return data


def _material_state(stored: set[str], material: MergedMaterial, entry: Any,
                    uploadable: bool = False) -> tuple[dict | None, str | None]:
    # Returns what the submission records for one material, or the reason it is refused.
    if material.generated:
        # Drawn from the one form: each department's copy of the application PDF is it.
        return {"state": "generated"}, None
    if not material.upload and not uploadable:
        return {"state": "shared"}, None
    state = entry.get("state") if isinstance(entry, dict) else None
    if state is None:
        if material.letter and material.necessity != "optional":
            return None, "unsigned"  # signed online in the one letter, never "missing"
        if material.necessity == "required":
            return None, "missing"
        if material.necessity == "deferrable":
            # 容缺受理: not handing it over yet is exactly what deferrable allows.
            return {"state": "deferred"}, None
        return None, None
    if state not in MATERIAL_STATES:
        return None, "invalid_state"
    if state == "deferred" and material.necessity != "deferrable":
        return None, "not_deferrable"
    if state == "commitment":
        if not (material.commitment or material.letter):
            return None, "no_commitment"
        # Chosen is not signed: the one letter names the signer and the time.
        if not (entry.get("signer") and entry.get("signed_at") and entry.get("letter")):
            return None, "unsigned"
    if state == "uploaded":
        sha256 = entry.get("file")
        if not isinstance(sha256, str):
            return None, "missing"
        # A department must be able to open every file it is routed.
        if sha256 not in stored:
            return None, "unknown_file"
    # Flat JSON read for this request only: a shallow copy is a copy.
    return dict(entry), None


@functools.lru_cache(maxsize=64)
def _stored_files(count: int) -> DriverStatement:
    # One statement per number of files, each compiled once: a draft names a handful.
    sha256 = StoredFile.__table__.c.sha256
    return DriverStatement(sa_select(sha256).where(
        sha256.in_([bindparam(f"f{i}", type_=sha256.type) for i in range(count)])))


def check_materials(session: Session, composition: Composition, draft_materials: dict,
                    data: dict) -> tuple[dict[str, dict], dict[str, str]]:
    """The materials the answers and the entered values call for, as the submission records
    them, and the refused ones."""
    recorded: dict[str, dict] = {}
    errors: dict[str, str] = {}
    # One query for every file the draft names, rather than one per material.
    named = sorted({entry.get("file") for entry in draft_materials.values()
                    if isinstance(entry, dict) and isinstance(entry.get("file"), str)})
    stored = set()
    if named:
        found = _stored_files(len(named)).rows(
            session.connection(), {f"f{i}": sha256 for i, sha256 in enumerate(named)})
        stored = {sha256 for (sha256,) in found}
    for material in composition.materials_for(data):
        entry = draft_materials.get(material.id)
        if material.shared_data and material.licence_code:
            record, reason = _shared_state(session, composition, material, data, entry, stored)
        else:
            record, reason = _material_state(stored, material, entry)
        if reason is not None:
            errors[material.id] = reason
        elif record is not None:
            recorded[material.id] = record
    # 一书承诺: one signature covers exactly the commitments submitted, all at once; a
    # letter signed before a part was added or removed is not the letter submitted.
    committed = {mid for mid, record in recorded.items() if record["state"] == "commitment"}
    times = {recorded[mid]["signed_at"] for mid in committed}
    for mid in committed:
        if set(recorded[mid].get("covers") or [mid]) != committed or len(times) > 1:
            errors[mid] = "unsigned"
    for mid in errors:
        recorded.pop(mid, None)
    return recorded, errors


def _shared_state(session: Session, composition: Composition, material: MergedMaterial,
                  data: dict, entry: Any, stored: set[str]) -> tuple[dict | None, str | None]:
    # Checked again without the network (shared.recheck): the registry kept here, else the
    # lookup the materials page recorded, if recent.
    matter = shared.issued_in_case(composition, material.licence_code)
    if matter is not None:
        return {"state": "in_case", "matter": matter}, None  # 本次同步办理: nothing to fetch
    state = entry.get("state") if isinstance(entry, dict) else None
    if state in MATERIAL_STATES:
        record, reason = _material_state(stored, material, entry, uploadable=True)
        if record is not None and state == "uploaded":
            record["trust"] = "C"  # uploaded by the applicant (国办函〔2016〕108号)
        return record, reason
    record, reason = shared.recheck(session, material, data, entry, dt.datetime.now(dt.UTC))
    if reason not in (None, "licence_lookup_stale") and material.necessity != "required":
        # Not in the registry: what need not be handed over yet (容缺, optional) need not be.
        return _material_state(stored, material, None, uploadable=True)
    return record, reason


def _answer_errors(error: AnswersError) -> dict[str, list[FieldError]]:
    found: dict[str, list[FieldError]] = {}
    for item in error.errors:
        parts = ["answers", *(str(p) for p in item.absolute_path)]
        if item.validator == "required" and isinstance(item.instance, dict):
            paths = [".".join([*parts, name]) for name in item.validator_value
                     if name not in item.instance]
        else:
            paths = [".".join(parts)]
        for path in paths:
            found.setdefault(path, []).append(
                FieldError(path, item.validator, item.message, (), item.validator_value)
            )
    return found


class DraftRow(NamedTuple):
    """What submitting reads of a draft: one row joined with its version and submission."""

    id: int
    public_id: str
    token_hash: str
    bundle_version_id: int
    bundle_code: str
    digest: str
    answers: dict
    data: dict
    materials: dict
    submission_id: int | None
    # How many departments' systems want events: when none do, submitting asks no more.
    webhooks: int
    # What the rules (智能预审) see besides the values: the prefill record and the owner.
    prefill: dict | None
    applicant: str | None
    # The holiday calendar's version: its cached overrides serve while it is unchanged.
    holiday_years: int
    holidays_entered_at: dt.datetime | None


_DRAFT = Draft.__table__.c
_VERSION = BundleVersion.__table__.c
_SUBMISSION = Submission.__table__.c
_WEBHOOK = Webhook.__table__.c
# Submitting is the hot path: one round trip tells the draft, the bundle it is pinned to
# (whose cached composition then needs no query), whether it was submitted already,
# whether any department's system listens for events (asked for by name only then), what
# the rules read of the draft besides its values, and whether the holiday calendar changed
# (the due dates' cached overrides then need no query either).
_DRAFT_ROW = (
    sa_select(_DRAFT.id, _DRAFT.public_id, _DRAFT.token_hash, _DRAFT.bundle_version_id,
              _VERSION.bundle_code, _VERSION.digest, _DRAFT.answers, _DRAFT.data,
              _DRAFT.materials, _SUBMISSION.id.label("submission_id"),
              sa_select(func.count()).select_from(Webhook.__table__)
              .where(_WEBHOOK.active.is_(True)).scalar_subquery().label("webhooks"),
              _DRAFT.prefill, _DRAFT.applicant, *holidays.VERSION_COLUMNS)
    .join_from(Draft.__table__, BundleVersion.__table__,
               _VERSION.id == _DRAFT.bundle_version_id)
    .outerjoin(Submission.__table__, _SUBMISSION.draft_id == _DRAFT.id)
)
_DRAFT_BY_PUBLIC_ID = DriverStatement(_DRAFT_ROW.where(_DRAFT.public_id == bindparam("public_id")))
_DRAFT_BY_ID = DriverStatement(_DRAFT_ROW.where(_DRAFT.id == bindparam("id")))


def read_draft(session: Session, public_id: str, token: str | None,
               authorised: bool = False) -> DraftRow | None:
    """The draft with this public id, read for submitting, if the token is its own (or the
    caller authorised the request otherwise: the clerk who filed it)."""
    rows = _DRAFT_BY_PUBLIC_ID.rows(session.connection(), {"public_id": public_id})
    row = DraftRow(*rows[0]) if rows else None
    return row if row is not None and (
        authorised or _token_matches(row.token_hash, token)) else None


def rekey_draft(session: Session, row: DraftRow) -> tuple[DraftRow, str]:
    """Give an unsubmitted draft a new secret token (not committed): the clerk who filed it,
    submitting from a session without the old one, then hands the applicant a receipt
    that works. The old token stops opening the draft."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.execute(update(Draft).where(col(Draft.id) == row.id)
                    .values(token_hash=token_hash(token)))
    return row._replace(token_hash=token_hash(token)), token


def _existing_submission(session: Session, draft_id: int, idempotency_key: str
                         ) -> Submission | None:
    """The submission of this draft, or of this key; a key of another draft is an error."""
    # One query for both.
    found = session.exec(select(Submission).where(
        or_(Submission.draft_id == draft_id, Submission.idempotency_key == idempotency_key)
    )).all()
    mine = next((s for s in found if s.draft_id == draft_id), None)
    if mine is not None:
        return mine
    if found:
        raise IdempotencyKeyReused(f"idempotency key {idempotency_key!r} belongs to another draft")
    return None


def _key_is_free(session: Session, row: DraftRow, idempotency_key: str) -> None:
    """Raise IdempotencyKeyReused if the key submitted another draft."""
    # Only on the way to a refusal: a reused key is the clearer error. A valid draft
    # learns it from the unique constraint instead, which costs no query.
    _existing_submission(session, row.id, idempotency_key)


# SQLite has one writer at a time; waiting writers sleep in its busy handler with
# growing pauses, which made the slowest submits take over a second under load.
# Queueing them on a lock in the process is fair and wakes the next one at once.
_SQLITE_WRITER = threading.Lock()


def _writer(session: Session):
    """Hold the process's SQLite write lock (nothing for PostgreSQL) for one transaction."""
    bind = session.get_bind()
    return _SQLITE_WRITER if bind.dialect.name == "sqlite" else contextlib.nullcontext()


def submit(session: Session, draft: Draft | DraftRow, idempotency_key: str, *,
           today: dt.date | None = None, clerk: str | None = None) -> Submission:
    """Validate a draft and, in one transaction, store its submission and route its tasks.

    A front-desk `clerk` submitting on the applicant's behalf is put on record
    (audit log) in the same transaction. Returns the existing submission when
    the draft was already submitted (same or another key). Raises
    SubmissionRefused, writing nothing, when answers, fields or materials are
    not acceptable, and IdempotencyKeyReused when the key submitted another
    draft.
    """
    row = draft
    if isinstance(draft, Draft):
        # Read afresh: what is stored is what gets submitted, not unsaved changes.
        row = DraftRow(*_DRAFT_BY_ID.rows(session.connection(), {"id": draft.id})[0])
    if row.submission_id is not None:
        return session.get(Submission, row.submission_id)

    bundle = bundle_at(session, row.bundle_version_id, row.bundle_code, row.digest)
    # A copy: compose caches the composition, which must not share the draft's dict.
    answers = copy.deepcopy(row.answers)
    try:
        composition = compose(bundle, answers)
    except AnswersError as error:
        _key_is_free(session, row, idempotency_key)
        raise SubmissionRefused(answer_errors=_answer_errors(error)) from error
    data = submitted_data(composition, row.data, answers)
    errors = field_errors(composition, data)
    materials, material_errors = check_materials(session, composition, row.materials, data)
    today = today or china_today()
    case, blocking = None, []
    if not errors and case_rules.has_rules(composition.matters):
        # 智能预审: a failing blocking rule refuses the submission, as a field error would
        # (on fields that are valid: a rule over a malformed value says nothing more).
        # The rules read licences without the network too (shared.submit_provider).
        case = case_rules.Case(session, data, prefill=row.prefill, applicant=row.applicant,
                               today=today, provider=shared.submit_provider(
                                   session, row.materials, dt.datetime.now(dt.UTC)))
        findings, _ = case_rules.run(case, composition.matters)
        blocking = [finding for finding in findings if finding.blocking]
    if errors or material_errors or blocking:
        _key_is_free(session, row, idempotency_key)
        raise SubmissionRefused(field_errors=errors, material_errors=material_errors,
                                rule_failures=blocking)
    # The hot path's statements raise the driver's errors, the rest SQLAlchemy's.
    conflicts = (IntegrityError, session.get_bind().dialect.loaded_dbapi.IntegrityError)
    for _ in range(_SUBMIT_ATTEMPTS):
        try:
            with _writer(session):
                submission = _store(session, row, idempotency_key, composition, data,
                                    materials, today, clerk)
        except conflicts:
            session.rollback()
            # Another request submitted this draft (or used this key) first: theirs wins.
            existing = _existing_submission(session, row.id, idempotency_key)
            if existing is not None:
                return existing
            continue  # otherwise the tracking number collided: draw another
        except BaseException:
            session.rollback()
            raise
        if isinstance(draft, Draft):
            # The caller's draft learns it was submitted without another round trip.
            set_committed_value(draft, "submitted_at", submission.submitted_at)
        if case is not None and any("instant_approval" in m.data for m in composition.matters):
            from onething.cases import instant
            try:
                instant.approve_at_routing(session, submission.id, bundle.catalog, case)
            except Exception:
                # The case is submitted and routed: a 秒批 that fails leaves its tasks with
                # the departments, as if it were off, and the applicant gets the receipt.
                session.rollback()
                logging.getLogger(__name__).exception("instant approval of %s failed",
                                                      submission.tracking_number)
        return submission
    raise RuntimeError("could not draw a free tracking number")


def _store(session: Session, draft: DraftRow, idempotency_key: str, composition: Composition,
           data: dict, materials: dict, today: dt.date, clerk: str | None) -> Submission:
    # Compiled statements on the driver's cursor, not ORM objects: this is the hot path,
    # and the unit of work's bookkeeping cost more than the writes themselves.
    now = utc_now()
    values = {
        "tracking_number": new_tracking_number(today),
        "draft_id": draft.id,
        "bundle_version_id": draft.bundle_version_id,
        "idempotency_key": idempotency_key,
        "answers": data["answers"],
        "data": data,
        "materials": materials,
        "status": "routed",
        "submitted_at": now,
        "token_hash": draft.token_hash,
        "lead_department": composition.plan.lead_department,
        # What the applicant's answers saved them, summed by the statistics: composed
        # already, so storing it costs five integers on the insert.
        **realised_savings(composition.savings),
    }
    connection = session.connection()
    # The unique constraints (draft, key, tracking number) speak here, before any task.
    ((submission_id,),) = _INSERT_SUBMISSION.rows(connection, values)
    rows = []
    # Waiting steps get the plan's estimate; their clocks start when they unlock.
    due_dates = step_due_dates(composition.plan, today, holidays.overrides(
        session, (draft.holiday_years, draft.holidays_entered_at)))
    for step in composition.plan.steps:
        due = due_dates[step.matter]
        slice_data = step.slice.project(data)
        rows.append({
            "submission_id": submission_id,
            "department_code": step.department,
            "matter_code": step.matter,
            "bundle_code": draft.bundle_code,
            "status": "waiting" if step.waits_for else "pending",
            "waits_for": list(step.waits_for),
            "slice_data": slice_data,
            "slice_materials": [{"id": mid, **materials[mid]}
                                for mid in step.slice.materials if mid in materials],
            "promised_days": step.promised_days,
            "due_date": due.date,
            "due_estimated": due.estimated,
            "counting": step.counting,
            "clock_started_on": None if step.waits_for else today,
            "paused_days": 0,
            "supplements": 0,
            # The driver's statement fills no column's default: each is given.
            "not_accepted": False,
            "created_at": now,
            "updated_at": now,
            "handover": step.handover,
            **party_of(slice_data),
        })
    _INSERT_TASK.execute_many(connection, rows)
    _MARK_SUBMITTED.execute(connection, {"draft_id": draft.id, "now": now}).close()
    # The outbox in the same transaction: an event exactly when the routing happened.
    listening = events.listening(session) if draft.webhooks else set()
    if listening & {row["department_code"] for row in rows}:
        routed = connection.execute(_TASKS_OF, {"submission_id": submission_id}).all()
        events.enqueue(session, "task.routed", routed, listening)
    if clerk is not None:
        session.add(AuditEntry(actor=clerk, action="submit_for_applicant",
                               subject=f"submission:{submission_id}",
                               after={"tracking_number": values["tracking_number"]}))
    session.commit()
    # Built after the commit, from what was written: the caller reads it, nobody saves it.
    return Submission(id=submission_id, **values)


def realised_savings(savings) -> dict[str, int]:
    """The submission's columns of what one applicant's case saved them."""
    return {f"saved_{name}": max(getattr(savings, name).saved, 0)
            for name in ("forms", "fields", "materials", "visits", "days")}


def step_due_dates(plan: RoutingPlan, today: dt.date,
                   overrides: Mapping[dt.date, bool] | None = None) -> dict[str, DueDate]:
    """Each step's due date for a case submitted today, counted as its matter's limit says."""
    steps = {step.matter: step for step in plan.steps}
    # matter -> (the date its count runs from, working days since then, its due date).
    # Working-day steps one after another count from the submission in one go, so a
    # step's due date is its plan's finish day in working days; a calendar-day step
    # (自然日) counts from the due date of what it waits for, and later steps from its own.
    counted: dict[str, tuple[dt.date, int, DueDate]] = {}

    def count(code: str) -> tuple[dt.date, int, DueDate]:
        if code not in counted:
            step = steps[code]
            before = [count(c) for c in step.waits_for if c in steps]
            start, offset, last = max(before, key=lambda b: b[2].date,
                                      default=(today, 0, DueDate(today, False)))
            if step.counting == WORKING_DAYS:
                offset += step.promised_days
                due = due_date(start, offset, step.counting, overrides)
            else:
                due = due_date(last.date, step.promised_days, step.counting, overrides)
                start, offset = due.date, 0
            counted[code] = (start, offset, DueDate(due.date, last.estimated or due.estimated))
        return counted[code]

    return {code: count(code)[2] for code in steps}


_SUBMISSION_COLUMNS = ("tracking_number", "draft_id", "bundle_version_id", "idempotency_key",
                       "answers", "data", "materials", "status", "submitted_at", "token_hash",
                       "lead_department", "saved_forms", "saved_fields", "saved_materials",
                       "saved_visits", "saved_days")
_INSERT_SUBMISSION = DriverStatement(
    insert(Submission).values({name: bindparam(name) for name in _SUBMISSION_COLUMNS})
    .returning(col(Submission.id)))
_TASK_COLUMNS = ("submission_id", "department_code", "matter_code", "bundle_code", "status",
                 "waits_for", "slice_data", "slice_materials", "promised_days", "due_date",
                 "due_estimated", "counting", "clock_started_on", "paused_days", "supplements",
                 "created_at", "updated_at", "handover", "party_name", "party_code",
                 "not_accepted")


# The driver's executemany, one row's statement: psycopg pipelines the rows in one round
# trip. A multi-row INSERT of a plan's tasks (a hundred parameters) was parsed anew by
# psycopg at every submit (it caches queries of at most 50): 0.2 ms of CPU more.
# Typed by their columns, as the values would be otherwise only by the first row's.
_INSERT_TASK = DriverStatement(insert(Task).values(
    {name: bindparam(name, type_=Task.__table__.c[name].type) for name in _TASK_COLUMNS}))


_TASKS_OF = sa_select(Task.__table__.c.id, Task.__table__.c.submission_id,
                      Task.__table__.c.department_code, Task.__table__.c.matter_code,
                      Task.__table__.c.status).where(
    Task.__table__.c.submission_id == bindparam("submission_id"))
_MARK_SUBMITTED = DriverStatement(
    update(Draft).where(col(Draft.id) == bindparam("draft_id"))
    .values(submitted_at=bindparam("now"))
)


def find_submission(session: Session, tracking_number: str, token: str | None
                    ) -> Submission | None:
    """The submission with this tracking number if the token is its draft's; None otherwise."""
    number = tracking_number.strip().upper()
    submission = session.exec(
        select(Submission).where(Submission.tracking_number == number)
    ).first()
    if submission is None or not _token_matches(submission.token_hash, token):
        return None
    return submission


def find_submissions(session: Session, pairs: list[tuple[str, str]]) -> list[Submission]:
    """The submissions of these (tracking number, token) pairs whose token is theirs, in the
    pairs' order, read in one query."""
    wanted = [(number.strip().upper(), token) for number, token in pairs]
    found = {s.tracking_number: s for s in session.exec(select(Submission).where(
        col(Submission.tracking_number).in_({number for number, _ in wanted})))} \
        if wanted else {}
    return [found[number] for number, token in wanted
            if number in found and _token_matches(found[number].token_hash, token)]


def submission_composition(session: Session, submission: Submission) -> Composition:
    """A submitted case's composition, on the bundle version it is pinned to (every matter
    when its answers do not fit: compose_submitted)."""
    return compose_submitted(bundle_of(get_version(session, submission.bundle_version_id)),
                             submission.answers)


def tasks_of(session: Session, submission: Submission) -> list[Task]:
    """The tasks a submission was routed into, in the order of its routing plan."""
    statement = select(Task).where(Task.submission_id == submission.id).order_by(col(Task.id))
    return list(session.exec(statement).all())
