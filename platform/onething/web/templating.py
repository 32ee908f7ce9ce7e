"""Template helpers: names of departments and matters, localized messages and states."""

from __future__ import annotations

import re

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from onething.accounts.applicants import signed_in_session
from onething.cases import commitments, receipts, shared
from onething.cases.decisions import decision_problem
from onething.cases.fees import amount_text, fee_formula_text, fees_due, money, task_fees
from onething.cases.forms import fields_of, find_entry, get_path, resolved_field
from onething.cases.messages import keyword_of, message_for
from onething.cases.prefill import notice_text, prefill_of, source_text
from onething.cases.views.divisions import division_name, division_note
from onething.catalog.dates import limits
from onething.catalog.units import unit_name
from onething.catalog.workdays import china_time
from onething.composer.layout import options, row_entries
from onething.guides.flow import days_text
from onething.web.i18n import (
    colon,
    comma,
    department_name,
    join_list,
    labelled,
    localized,
    matter_name,
    parenthesized,
    semicolon,
)

UPLOAD_PROBLEMS = {
    "too_large": _l("The file is larger than allowed."),
    "wrong_type": _l("Only PDF, JPEG and PNG files are accepted."),
    "renamed": _l("This file is named as a PDF, JPEG or PNG file but is not one inside (a "
                  "renamed document or photo, or a damaged file): save or scan it again as "
                  "PDF, JPEG or PNG."),
    "empty": _l("The file is empty (0 bytes): choose the file again, or another copy of it."),
    "missing_file": _l("Choose a file first."),
    "not_allowed": _l("This material cannot be handled that way."),
    "session": _l("You signed in again since this page was shown: reload it and try again. "
                  "Nothing was saved."),
}
# Why the one commitment letter was not signed (or withdrawn).
LETTER_PROBLEMS = {
    "signer_missing": _l("Enter the name of the person signing."),
    "signer_too_long": _l("The signer's name is too long (50 characters at most)."),
    "not_confirmed": _l("Tick the box to confirm that you have read the letter and commit to it."),
    "letter_changed": _l("The letter changed since you opened this page (a material was added "
                         "or removed): read it again below, then sign."),
    "nothing_to_sign": _l("Nothing needs a commitment any more."),
}
TASK_STATES = {
    "waiting": _l("Waiting for an earlier approval"),
    "pending": _l("Awaiting acceptance (待受理)"),
    "accepted": _l("Accepted, being examined"),
    "approved": _l("Approved"),
    "rejected": _l("Refused"),
    "stopped": _l("Stopped: an earlier approval was refused"),
    "closed": _l("Closed: the case could not complete"),
    "supplement": _l("Correction requested (补正)"),
}
# What an audit entry records (its `action`), as the people reading the log say it.
AUDIT_ACTIONS = {
    "accept": _l("Accepted (受理)"),
    "approve": _l("Approved"),
    "attach_certificate": _l("Certificate file attached"),
    "reject": _l("Refused"),
    "supplement": _l("Correction requested (补正)"),
    "resubmit": _l("Correction supplied by the applicant"),
    "supply_deferred": _l("Material handed in (容缺补交)"),
    "unlock": _l("Unlocked by an earlier approval"),
    "stop": _l("Stopped by an earlier refusal"),
    "hand_over": _l("Values handed over by an earlier approval"),
    "revoke": _l("Permit revoked"),
    "licence_issued": _l("Comprehensive licence issued"),
    "inspection_scheduled": _l("Joint inspection scheduled"),
    "inspection_findings": _l("Joint inspection findings recorded"),
    "licence_registered": _l("Certificate entered in the electronic licence registry"),
    "registry_import": _l("Licences imported into the electronic licence registry"),
    "instant_approval": _l("Approved at once: every rule passed on trust-A data (秒批)"),
    "instant_approval_declined": _l("Not approved at once: routed to the department"),
    "instant_approval_off": _l("Instant approval is off for this matter: routed to the "
                               "department"),
    "instant_approval_setting": _l("Instant approval (秒批) turned on or off"),
    "benefit_offered": _l("Benefit offered without applying (免申即享)"),
    "benefit_confirmed": _l("Benefit confirmed by its holder"),
    "benefit_objected": _l("Objection to a benefit's finding"),
    "status": _l("Status changed"),
    "correct": _l("Content corrected (内容已更正)"),
    "case_refused": _l("Told: another matter was refused, the case cannot complete"),
    "close": _l("Closed: the case could not complete"),
    "start_for_applicant": _l("Started at the front desk for the applicant"),
    "submit_for_applicant": _l("Submitted at the front desk for the applicant"),
    "webhook_redeliver": _l("Failed webhook deliveries scheduled again"),
    "due_date": _l("Due date counted again"),
    "special_procedure": _l("Special procedure declared (特别程序)"),
    "special_procedure_end": _l("Special procedure ended"),
    "holiday_calendar": _l("Holiday calendar entered"),
    "definition_create": _l("Definition created in the working catalog"),
    "definition_save": _l("Definition saved in the working catalog"),
    "publish": _l("Published: made live for applicants"),
    "rollback": _l("Rolled back to an earlier version"),
    "rate": _l("Rated (好差评)"),
    "rate_change": _l("Rating changed"),
    "rectification_open": _l("Rectification opened for a bad rating (差评整改)"),
    "rectification_reply": _l("Rectification: verified, fixed and answered"),
    "rectification_callback": _l("Rectification: applicant called back (回访)"),
    "rectification_close": _l("Rectification closed"),
    "account_create": _l("Account created"),
    "account_disable": _l("Account disabled"),
    "account_enable": _l("Account enabled"),
    "account_password": _l("Password reset"),
    "account_role": _l("Role changed"),
    "token_revoke": _l("API token revoked"),
    "token_create": _l("API token created"),
    "webhook_set": _l("Webhook address set, with a new secret"),
    "webhook_disable": _l("Webhook disabled"),
    "webhook_enable": _l("Webhook enabled"),
    "webhook_rotate": _l("Webhook secret rotated"),
}
ROLE_NAMES = {
    "administrator": _l("Administrator"),
    "department_staff": _l("Department staff"),
    "front_desk": _l("Front desk"),
}
# What a 404 was about, so the page can say what to do next.
NOT_FOUND = {
    "draft": _l("This draft link is not valid. Open the link you were given, or start again."),
    "submission": _l("No case matches this tracking number and access code."),
    "bundle": _l("This service is not published."),
    "task": _l("No task of your department matches."),
}


def field_message(composition, error) -> str:
    """The localized message of one field error."""
    schema = resolved_field(composition, error.path) if composition is not None else None
    return message_for(error, schema)


# A value of the wrong shape ("abc" for an ID number) fails its check digit too: the shape
# is what to put right first, and two messages at once for one typo read as two problems.
_SHAPE = {"pattern", "minLength", "maxLength"}


def field_messages(composition, errors) -> list[str]:
    """The distinct messages of a field's errors: two broken rules may say the same thing,
    and a check digit is not mentioned while the shape is wrong."""
    if {keyword_of(error) for error in errors} & _SHAPE:
        errors = [error for error in errors if keyword_of(error) != "format"]
    return list(dict.fromkeys(field_message(composition, error) for error in errors))


def field_title(composition, path: str) -> str:
    """The localized title of a field of the one form."""
    schema = resolved_field(composition, path)
    return localized(schema.get("title", path)) if schema else path


def _whose(composition, path: str) -> str:
    # A part of a group or an object says whose it is: 法定代表人 · 姓名, not 姓名 alone.
    # The field holding it, past a row's number (shareholders.0.name: shareholders).
    parent = re.sub(r"(\.\d+)*\.[^.]+$", "", path) if "." in path else ""
    title = field_title(composition, path)
    if parent and not parent.startswith("matters"):
        return f"{field_title(composition, parent)} · {title}"
    return title


def rule_line(composition, matter_code: str, rule_id: str, passed: bool) -> str:
    """A rule (智能预审, 秒批) as the task's log reads it: the field it checks and its
    outcome, and when it failed, the rule's own explanation."""
    matter = composition.bundle.catalog.matters.get(matter_code)
    rule = next((r for r in (matter.data.get("rules", []) if matter else [])
                 if r.get("id") == rule_id), None)
    if rule is None:
        return f"{rule_id}{colon()}{_('passed') if passed else _('failed')}"
    checked = _whose(composition, rule["field"]) if rule.get("field") else rule_id
    line = f"{checked}{colon()}{_('passed') if passed else _('failed')}"
    if not passed and rule.get("explanation"):
        line += f"{colon()}{localized(rule['explanation'])}"
    return line


def rule_reading_name(composition, name: str) -> str:
    """What a rule read, as staff say it: a field's title, a licence and its item."""
    head, _dot, rest = name.partition(".")
    if head == "fields":
        return _whose(composition, rest)
    if head == "licences":
        code, _dot, item = rest.partition(".")
        licence = shared.type_name(code)
        if item == "in_force":
            return _("%(licence)s in force", licence=licence)
        if item.startswith("data."):
            return f"{licence} · {shared.item_name(code, item.removeprefix('data.'))}"
        return f"{licence} · {item}" if item else licence
    return name


def reading_source_name(source: str) -> str:
    """Where a rule's reading came from: the licence registry (with the licence's number),
    a record the form was filled in from, or the applicant."""
    kind, _colon, rest = (source or "").partition(":")
    if kind == "registry":
        where, _colon, number = rest.partition(":")
        return f"{shared.source_name(where)} {number}".strip()
    if kind == "prefill":
        where = {"case": _("an earlier case"), "identity": _("the verified identity")}
        return _("filled in from %(source)s", source=where.get(rest) or shared.source_name(rest))
    if kind == "applicant":
        return _("typed by the applicant")
    return _("no value") if kind == "none" else source


def field_anchor(entry: dict | None, path: str) -> str:
    """The id a link to a field goes to: its input, the first of its choices, or its box."""
    base = "f-" + path.replace(".", "-")
    if entry is None or entry.get("required") == "produced":
        return base + "-field"
    if entry["widget"] in ("radio", "checkboxes"):
        return base + "-1"
    if entry["widget"] == "rows" or entry.get("children"):
        return base + "-field"
    return base


def error_summary(layout: dict, errors: dict, composition=None) -> list[dict]:
    """The error summary's lines, in page order: each field's title, message and anchor."""
    order = {path: number for number, path in enumerate(_paths(fields_of(layout)))}
    lines = []
    for path in sorted(errors, key=lambda p: (_place(order, p), p)):
        entry = find_entry(layout, path)
        title = localized(entry["title"]) if entry else path
        parent = find_entry(layout, path.rsplit(".", 1)[0]) if "." in path else None
        if parent is not None and parent.get("children"):
            # 姓名 alone is whose name? The group says: 法定代表人 · 姓名.
            title = f"{localized(parent['title'])} · {title}"
        for message in field_messages(composition, errors[path]):
            lines.append({"href": "#" + field_anchor(entry, path), "title": title,
                          "message": message})
    return lines


def _paths(entries: list[dict]) -> list[str]:
    """Every path of a layout's fields and of their parts, in page order."""
    paths = []
    for entry in entries:
        paths.append(entry["path"])
        paths.extend(_paths(entry.get("children", [])))
    return paths


def _place(order: dict, path: str) -> int:
    # A row's field (shareholders.0.name) sits where its group does.
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in order:
            return order[".".join(parts[:end])]
    return len(order)


def handover_title(composition, key: str) -> str:
    """The localized title of a library field a matter's approval yields."""
    field = composition.bundle.catalog.fields.get(key)
    return localized(field.name) if field is not None else key


def handover_message(composition, key: str, error) -> str:
    """Why a value an approval hands over was refused."""
    if error == "required":
        return _("Enter the value before approving.")
    field = composition.bundle.catalog.fields.get(key)
    return message_for(error, field.schema if field is not None else None)


def material_title(composition, material_id: str) -> str:
    """The localized name of a material of the one set."""
    material = next((m for m in composition.materials if m.id == material_id), None)
    return localized(material.name) if material else material_id


def display_value(entry: dict, value) -> str:
    """A submitted value as people read it: labels for choices, parts for groups."""
    if value is None:
        return "—"
    if entry.get("children") and isinstance(value, dict):
        # Each part named: three bare numbers in a row leave the reader to guess which is which.
        return semicolon().join(
            f"{localized(child['title'])} {display_value(child, value[child['key']])}"
            for child in entry["children"] if value.get(child["key"]) is not None)
    if entry.get("widget") == "rows" and isinstance(value, list):
        # One line per row, numbered, each part named.
        rows = [display_value({"children": entry["item"]}, row) for row in value
                if isinstance(row, dict)]
        return "\n".join(f"{number}. {row}" for number, row in enumerate(rows, 1))
    if entry.get("widget") == "division":
        # The place's name, not its GB/T 2260 code: people read the review, the receipt,
        # the PDF and the department's task. An unknown code stays as entered, with the
        # note that the table lacks it.
        named = division_name(value)
        if named != str(value):
            return named
        note = division_note(value)
        return f"{value} {note}" if note else str(value)
    choices = {repr(o["value"]): localized(o["title"]) for o in entry.get("options") or []}
    if isinstance(value, list):
        return join_list(choices.get(repr(v), str(v)) for v in value)
    return choices.get(repr(value), str(value))


def slice_unit(composition, matter: str, path: str) -> str:
    """The unit a matter receives a converted quantity in (" 平方米"), else nothing."""
    pair = composition.units.get((matter, path))
    return f" {localized(unit_name(pair[1]))}" if pair else ""


def corrected_values(composition, entry, matter: str) -> list[tuple[str, str, str]]:
    """A correction's audit entry as people read it: (field title, before, after) per field,
    in the unit the matter's slice holds it."""
    layout = {e["path"]: e for e in fields_of(composition.layout)}
    rows = []
    for path, after in (entry.after or {}).get("fields", {}).items():
        before = (entry.before or {}).get("fields", {}).get(path)
        field = layout.get(path, {})
        unit = slice_unit(composition, matter, path)
        rows.append((field_title(composition, path),
                     display_value(field, before) + (unit if before is not None else ""),
                     display_value(field, after) + (unit if after is not None else "")))
    return rows


NOT_ACCEPTED = _l("Not accepted (不予受理)")
# A status as a filter or a count names every task in it: "rejected" holds both refusals.
STATUS_FILTERS = {"rejected": _l("Not accepted or refused (不予受理、不予许可)")}


def status_filter_name(status: str) -> str:
    """A task status as the inbox's filter and counts name it."""
    return str(STATUS_FILTERS.get(status) or task_state_name(status))


def task_state(task) -> str:
    """A task's state, as its page, its inbox row and the applicant's receipt say it: a
    refusal before acceptance (不予受理) apart from one after examination (不予许可)."""
    if task.status == "rejected" and getattr(task, "not_accepted", False):
        return str(NOT_ACCEPTED)
    return task_state_name(task.status)


def task_state_name(status: str) -> str:
    """A task status, localized."""
    return str(TASK_STATES.get(status, status))


def audit_action_name(action: str) -> str:
    """An audit entry's action, localized (an unknown code is shown as it is)."""
    return str(AUDIT_ACTIONS.get(action, action))


def audit_actor_name(actor: str) -> str:
    """Who did it: a username, or the platform itself for what follows from another decision."""
    if actor == "system:instant":
        return _("the platform (秒批)")
    if actor == "applicant":
        return _("the applicant")
    return _("the platform") if actor == "system" else actor


def role_name(role: str) -> str:
    """An account's role, localized."""
    return str(ROLE_NAMES.get(role, role))


# Audit values that are the applicant's data: the departments see them on their task
# pages; the console, whose administrators see no case data anywhere else, names the
# field only.
_CASE_DATA_ACTIONS = {"correct", "benefit_objected"}
# "rules": each rule a matter's rules read and the values it read (秒批, 免申即享).
_CASE_DATA_KEYS = {"handover", "slice_data", "data", "values", "rules"}


# The keys an audit entry's before and after hold, as the people reading the log say them.
AUDIT_KEYS = {
    "status": _l("Status"),
    "certificate_number": _l("Certificate number"),
    "certificate_file": _l("Certificate file"),
    "reason": _l("Reason"),
    "supplement": _l("Correction requested (补正)"),
    "handover": _l("Values handed over"),
    "fields": _l("Fields"),
    "due_date": _l("Due date"),
    "why": _l("Why"),
    "special_procedure": _l("Special procedure (特别程序)"),
    "days_excluded": _l("Days not counted"),
    "holidays": _l("Holidays"),
    "workdays": _l("Weekend days worked (调休)"),
    "bundle": _l("Service"),
    "tracking_number": _l("Tracking number"),
    "refused": _l("Matter refused"),
    "name": _l("Name"),
    "display_name": _l("Name"),
    "department_code": _l("Department"),
    "role": _l("Role"),
    "disabled": _l("Disabled"),
    "revoked": _l("Revoked"),
    "url": _l("Address"),
    "active": _l("Active"),
    "secret": _l("Signing secret"),
    "expires_at": _l("Expires"),
    "legacy_signature": _l("Old-style signature accepted"),
    "redelivered": _l("Deliveries scheduled again"),
    "delivery_ids": _l("Deliveries"),
}
# Why the platform did not approve a task at once (秒批): the `reason` it records.
INSTANT_DECLINED = {
    "not_pending": _l("the task was no longer waiting for the department"),
    "rule_failed": _l("a condition of the matter was not met"),
    "not_trust_a": _l("a value came from a source not trusted enough (not level A)"),
    "produces": _l("the approval hands over values a person enters"),
    "material_owed": _l("a material accepted as missing (容缺) is still owed"),
}
# Why a due date was counted again (the `why` of a due_date entry).
DUE_REASONS = {
    "unlock": _l("the earlier approval it waited for was given"),
    "resubmit": _l("the applicant's correction arrived: the clock runs again"),
    "special_procedure": _l("a special procedure ended: its days do not count"),
    "holiday_calendar": _l("the year's holiday calendar was entered"),
}


def audit_key_name(key: str) -> str:
    """An audit value's name, localized (an unknown key is shown as it is)."""
    return str(AUDIT_KEYS.get(key, key))


def audit_changes(before: dict | None, after: dict | None,
                  action: str | None = None,
                  names: dict | None = None) -> list[tuple[str, str, str]]:
    """An audit entry's values as (name, before, after) texts, the changed ones only; the
    applicant's data withheld when the entry's `action` is given (the console). `names`
    gives matters and departments by code, for their names instead of codes."""
    before, after = before or {}, after or {}
    names = names or {}
    keys = [key for key in [*before, *(k for k in after if k not in before)]
            if before.get(key) != after.get(key) or key not in before or key not in after]
    if action is not None:
        withheld = str(_("changed (case data: shown to its departments only)"))
        shown = []
        for key in keys:
            value = after.get(key, before.get(key))
            if action in _CASE_DATA_ACTIONS or key in _CASE_DATA_KEYS:
                # Which fields, never what they held.
                fields = "、".join(sorted(value)) if isinstance(value, dict) else ""
                shown.append((audit_key_name(key), "", f"{fields} {withheld}".strip()))
            else:
                shown.append((audit_key_name(key),
                              _audit_value(key, before[key], names) if key in before else "",
                              _audit_value(key, after[key], names) if key in after else ""))
        return shown
    return [(audit_key_name(key),
             _audit_value(key, before[key], names) if key in before else "",
             _audit_value(key, after[key], names) if key in after else "") for key in keys]


def _audit_value(key: str, value, names: dict | None = None) -> str:
    import json

    from onething.cases.clock import SPECIAL_KINDS
    from onething.cases.views.desk import CASE_STATES

    names = names or {}
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key == "role" and isinstance(value, str):
        return role_name(value)
    if key == "status" and isinstance(value, str):
        return str(TASK_STATES.get(value) or CASE_STATES.get(value) or value)
    if key in ("department_code", "refused", "bundle") and isinstance(value, str):
        return localized(names[value]) if names.get(value) else value
    if key == "why" and isinstance(value, str):
        reason, _sep, kind = value.partition(":")
        text = str(DUE_REASONS.get(reason, value))
        return f"{text} ({SPECIAL_KINDS[kind]})" if kind in SPECIAL_KINDS else text
    if key == "special_procedure" and isinstance(value, dict):
        kind = value.get("kind")
        return _("%(kind)s since %(date)s: %(reason)s",
                 kind=SPECIAL_KINDS.get(kind, kind), date=value.get("since", ""),
                 reason=value.get("reason", ""))
    if key == "supplement" and isinstance(value, dict):
        text = _("%(fields)s fields, %(materials)s materials to correct",
                 fields=len(value.get("fields") or []),
                 materials=len(value.get("materials") or []))
        return f"{text}{colon()}{value['note']}" if value.get("note") else text
    if key == "certificate_file" and isinstance(value, dict):
        return str(value.get("filename") or _("a file"))
    if key == "secret" and value == "rotated":
        return _("replaced (never shown)")
    if key == "reason" and value in INSTANT_DECLINED:
        return str(INSTANT_DECLINED[value])
    if isinstance(value, str) and key == "reason" and value.startswith("rejected:"):
        code = value.removeprefix("rejected:")
        return _("stopped because %(matter)s was refused",
                 matter=localized(names[code]) if names.get(code) else code)
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str | int) for item in value):
        return "、".join(map(str, value))
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def letter_problem(code: str) -> str:
    """Why signing the commitment letter was refused."""
    return str(LETTER_PROBLEMS.get(code, _("Please check your input")))


def one_letter(composition, draft) -> dict | None:
    """The draft's one commitment letter (一书承诺): its text, what it covers, the digest a
    signature names, and the signature that covers it today (None: none to sign)."""
    data, entries = draft.data or {}, draft.materials or {}
    covered = commitments.covered_materials(composition, data, entries)
    if not covered:
        return None
    letter = commitments.bundle_letter(composition, covered)
    return {"letter": letter, "covered": covered,
            "digest": commitments.letter_digest(commitments.letter_text(letter)),
            "signature": commitments.signature(composition, data, entries),
            # Some part was signed once, but the letter has changed since.
            "stale": any((entries.get(m.id) or {}).get("signer") for m in covered)}


def upload_problem(code: str) -> str:
    """Why an upload was refused."""
    if code == "too_large":
        # The limit itself: "larger than allowed" leaves the applicant guessing.
        return _("The file is larger than the %(size)s allowed: make it smaller (scan at a "
                 "lower resolution, or as PDF) and try again.",
                 size=file_size(current_app.config["UPLOAD_MAX_BYTES"]))
    return str(UPLOAD_PROBLEMS.get(code, _("The file could not be accepted.")))


def file_size(size: int) -> str:
    """A size in bytes as people read it: 10 MB, 200 KB."""
    # A no-break space: a narrow screen never puts the number and its unit on two lines.
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g}\u00a0MB"
    return f"{max(1, round(size / 1024))}\u00a0KB"


def error_title(error: HTTPException) -> str:
    """A short localized title for an HTTP error."""
    titles = {400: _("The request could not be understood"), 404: _("Not found"),
              413: _("The file is too large"), 422: _("Please check your input"),
              500: _("Something went wrong on our side")}
    return titles.get(error.code, str(error.code))


def error_text(error: HTTPException) -> str:
    """What happened and what to do next, localized."""
    if error.code == 404 and error.description in NOT_FOUND:
        return str(NOT_FOUND[error.description])
    if error.code == 413:
        return _("Choose a smaller file. Nothing you entered was lost.")
    if error.code == 400:
        return _("Reload the page and try again. Nothing you entered was lost.")
    if error.code == 409 and error.description == "submitted":
        return _("This application was submitted: it stays as the departments received it. "
                 "Follow it on its status page.")
    return _("Please try again. If it happens again, call 12345.")


def resume_link(draft) -> str:
    """The secret link that opens a draft on another device."""
    from onething.cases.views import DRAFTS, remembered

    token = remembered(DRAFTS, draft.public_id) or ""
    return url_for("drafts.form", public_id=draft.public_id, token=token, _external=True)


def date_limits(entry: dict) -> tuple[str | None, str | None]:
    """The earliest and latest dates a date field takes today, for its input's min and max."""
    bounds = entry.get("date_bounds") or {}
    return limits({keyword: values[0] for keyword, values in bounds.items()} | {
        "allOf": [{keyword: value} for keyword, values in bounds.items()
                  for value in values[1:]]})


def limit_text(days: int, counting: str) -> str:
    """A step's promised days as lists of steps say them: '1 working day', '30 calendar days'
    (0: handled on the spot, 即办, not "0 days")."""
    return days_text(days, counting)


def staff_department_name(code: str | None) -> str:
    """A department's name for the staff's header, from the published directory (its code
    when nothing of it is published)."""
    from flask import g
    from sqlmodel import col, select

    from onething.storage.models import PublishedService
    from onething.web.extensions import get_session

    if not code:
        return ""
    if "staff_department_name" not in g:
        name = get_session().exec(select(PublishedService.department_name).where(
            col(PublishedService.department_code) == code,
            col(PublishedService.department_name).is_not(None)).limit(1)).first()
        g.staff_department_name = localized(name) if name else code
    return g.staff_department_name


def init_app(app) -> None:
    """Register the helpers as Jinja globals and filters."""
    app.jinja_env.globals.update(
        division_note=division_note, division_name=division_name, colon=colon, labelled=labelled,
        comma=comma, semicolon=semicolon, paren=parenthesized,
        department_name=department_name, matter_name=matter_name, field_message=field_message,
        staff_department_name=staff_department_name,
        field_messages=field_messages, one_letter=one_letter, letter_problem=letter_problem,
        material_states=receipts.material_states, next_steps=receipts.next_steps,
        owed_materials=receipts.owed, contact_number=receipts.contact_number,
        signed_time=receipts.signed_time,
        field_title=field_title, error_summary=error_summary, field_anchor=field_anchor,
        material_title=material_title, display_value=display_value, file_size=file_size,
        task_state=task_state, task_state_name=task_state_name, upload_problem=upload_problem,
        corrected_values=corrected_values,
        decision_problem=decision_problem, audit_action_name=audit_action_name,
        audit_actor_name=audit_actor_name, audit_changes=audit_changes, role_name=role_name,
        audit_key_name=audit_key_name,
        instant_declined=lambda reason: str(INSTANT_DECLINED.get(reason, reason)),
        not_accepted_name=lambda: str(NOT_ACCEPTED), status_filter_name=status_filter_name,
        error_title=error_title,
        error_text=error_text, resume_link=resume_link, get_path=get_path, options=options,
        row_entries=row_entries, slice_unit=slice_unit, fees_due=fees_due,
        task_fees=task_fees, fee_formula_text=fee_formula_text, amount_text=amount_text,
        money=money, date_limits=date_limits, handover_title=handover_title,
        handover_message=handover_message, days_text=days_text, limit_text=limit_text,
        needs_upload=shared.needs_upload, licence_type_name=shared.type_name,
        licence_public=shared.is_public, licence_source_name=shared.source_name,
        trust_name=shared.trust_name, licence_problem=shared.problem,
        material_problem=shared.submit_problem, prefill_of=prefill_of,
        licence_item_name=shared.item_name, rule_line=rule_line,
        rule_reading_name=rule_reading_name, reading_source_name=reading_source_name,
        prefill_source=source_text, prefill_notice=notice_text,
        signed_in_session=signed_in_session,
    )
    @app.context_processor
    def signed_in():
        """The signed-in account, for the header's "signed in as" (None for applicants)."""
        from onething.accounts.service import current_account

        # Only a session holding an account id costs a query (reloaded once per request).
        return {"signed_in_account": current_account()}

    # Every page shows moments as the hall's clock does (China Standard Time).
    app.jinja_env.filters["china_time"] = china_time
    app.jinja_env.filters["join_list"] = join_list
    app.jinja_env.filters["department_name"] = department_name
    app.jinja_env.filters["matter_name"] = matter_name
