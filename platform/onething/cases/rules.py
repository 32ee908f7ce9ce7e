"""A matter's rules over a case: 智能预审 before submission, 秒批 at routing.

The values a rule reads are gathered here, each with where it came from and how far it
can be trusted (国办函〔2016〕108号's grades): a licence from the registry keeps its own
trust (the worse of it and the holder code's, since the code says whose licence it is);
a form field is trust A when it is the verified identity's or a locked value of a trust-A
licence (智能预填) unchanged, else D, the applicant's own statement; the scenario answers
are D; today is the system's. 秒批 needs every rule to pass on trust-A values only.

The evaluator is `onething.composer.logic`, the one engine 免申即享 (`benefits`) uses too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlmodel import Session, select

from onething.catalog.licences import HOLDER_RESIDENT_ID, LICENCE_TYPES
from onething.catalog.workdays import china_today
from onething.composer import logic
from onething.registry.service import FOUND, MISSING, UNAVAILABLE, holder_of, lookup
from onething.storage.models import Applicant

# The one form's fields that can carry the holder's code, in the order they are asked.
HOLDER_FIELDS = ("entity_uscc", "applicant_id_number", "legal_representative.id_number",
                 "resident_id")
# The identity platform's verified values, by the one form's field and Applicant's column.
VERIFIED_FIELDS = {"applicant_name": "name", "applicant_id_number": "id_number",
                   "applicant_mobile": "mobile"}
TRUST_ORDER = "ABCD"


def worst(*levels: str | None) -> str:
    """The least trusted of these levels (an unknown one counts as D)."""
    return max((level if level in TRUST_ORDER else "D" for level in levels),
               key=TRUST_ORDER.index, default="D")


def _at(data: dict, path: str):
    node = data
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


@dataclass
class Reading:
    """A value a rule read, where it came from and its trust."""

    value: object
    source: str
    trust: str

    def as_dict(self) -> dict:
        """Plain JSON for the audit log."""
        return {"value": self.value, "source": self.source, "trust": self.trust}


@dataclass
class Evaluation:
    """The data one matter's rules run on, and the provenance of each variable."""

    data: dict
    readings: dict[str, Reading] = field(default_factory=dict)
    unavailable: set[str] = field(default_factory=set)
    # Personal licences not looked up: the holder's code is not the verified identity's.
    withheld: set[str] = field(default_factory=set)

    def reading(self, name: str) -> Reading:
        """The provenance of a variable (a part of a licence's or field's value included)."""
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            found = self.readings.get(".".join(parts[:end]))
            if found is not None:
                return Reading(logic.lookup(self.data, name), found.source, found.trust)
        return Reading(None, "none", "D")


class Case:
    """What the rules of a case's matters see: its values, prefill and verified identity."""

    def __init__(self, session: Session, data: dict, prefill: dict | None = None,
                 applicant: str | None = None, provider=None, today: dt.date | None = None):
        self.session = session
        self.data = data
        self.prefill = prefill or {}
        self.today = today or china_today()
        self.provider = provider
        self.verified: dict[str, str] = {}
        if applicant:
            person = session.exec(select(Applicant).where(Applicant.subject == applicant)).first()
            if person is not None:
                self.verified = {path: getattr(person, column)
                                 for path, column in VERIFIED_FIELDS.items()
                                 if getattr(person, column)}
        self._licences: dict[str, tuple] = {}

    def field_trust(self, path: str, value) -> tuple[str, str]:
        """Where a form value came from and its trust."""
        if value is None:
            return "none", "D"
        if self.verified.get(path) == value:
            return "identity", "A"
        record = self.prefill.get(path)
        if isinstance(record, dict) and record.get("value") == value:
            trust = record.get("trust", "D") if record.get("locked") else "D"
            return f"prefill:{record.get('source', 'registry')}", trust
        return "applicant", "D"

    def holder(self) -> tuple[str | None, str, str]:
        """The holder's code, the field it came from and its trust."""
        for path in HOLDER_FIELDS:
            value = _at(self.data, path)
            if isinstance(value, str) and value.strip():
                source, trust = self.field_trust(path, value)
                return value.strip().upper(), source, trust
        return None, "none", "D"

    def licence(self, code: str) -> tuple[dict | None, str, str]:
        """The holder's licence of this type as rules read it, its source and trust; None
        when the registry could not answer."""
        if code not in self._licences:
            from onething.cases.shared import provider
            holder = holder_of(code, self.data)
            _, _, holder_trust = self.holder()
            for path in LICENCE_TYPES[code].holder_fields:
                value = _at(self.data, path)
                if isinstance(value, str) and value.strip().upper() == holder:
                    holder_trust = self.field_trust(path, value)[1]
                    break
            if LICENCE_TYPES[code].holder == HOLDER_RESIDENT_ID and holder_trust != "A":
                # Anyone can type anyone's ID number: what a person's licence says is told
                # only to that person, signed in (or read by the system for them).
                self._licences[code] = (None, "registry:withheld", "D")
                return self._licences[code]
            found = lookup(self.provider or provider(self.session), holder or "", code,
                           self.today)
            if found.state == UNAVAILABLE:
                self._licences[code] = (None, "registry:unavailable", "D")
            elif found.state == MISSING:
                self._licences[code] = ({"found": False, "in_force": False, "data": {}},
                                        "registry", holder_trust)
            else:
                record = found.record
                self._licences[code] = ({
                    "found": True, "in_force": found.state == FOUND, "trust": record.trust,
                    "number": record.number, "issued_on": record.issued_on.isoformat(),
                    "expires_on": record.expires_on.isoformat() if record.expires_on else None,
                    "data": dict(record.data)},
                    f"registry:{record.source}:{record.number}", worst(record.trust, holder_trust))
        return self._licences[code]

    def evaluation(self, matter) -> Evaluation:
        """The data a matter's rules run on, with the provenance of every variable."""
        own = (self.data.get("matters") or {}).get(matter.code) or {}
        fields = {}
        result = Evaluation({})
        for key in matter.form.get("properties", {}):
            shared = key in self.data and key not in own
            value = own.get(key) if key in own else self.data.get(key)
            fields[key] = value
            path = key if shared else f"matters.{matter.code}.{key}"
            source, trust = self.field_trust(path, value)
            if isinstance(value, dict):
                # A group of fields (the legal representative): each part its own trust.
                for part, sub in value.items():
                    sub_source, sub_trust = self.field_trust(f"{path}.{part}", sub)
                    result.readings[f"fields.{key}.{part}"] = Reading(sub, sub_source, sub_trust)
            result.readings[f"fields.{key}"] = Reading(value, source, trust)
        answers = self.data.get("answers") or {}
        for key, value in answers.items():
            result.readings[f"answers.{key}"] = Reading(value, "applicant", "D")
        code, source, trust = self.holder()
        holder = {"code": code, "birth_date": logic.birth_date_of(code)}
        for key, value in holder.items():
            result.readings[f"holder.{key}"] = Reading(value, source, trust)
        licences = {}
        for rule in matter.data.get("rules", []):
            for name in logic.reads(rule["logic"]):
                parts = name.split(".")
                if parts[0] == "licences" and len(parts) > 1 and parts[1] in LICENCE_TYPES \
                        and parts[1] not in licences:
                    value, lsource, ltrust = self.licence(parts[1])
                    if value is None:
                        (result.withheld if lsource == "registry:withheld"
                         else result.unavailable).add(parts[1])
                        continue
                    licences[parts[1]] = value
                    result.readings[f"licences.{parts[1]}"] = Reading(value, lsource, ltrust)
        today = self.today.isoformat()
        result.readings["today"] = Reading(today, "system", "A")
        result.data = {"fields": fields, "answers": answers, "holder": holder,
                       "licences": licences, "today": today}
        return result


@dataclass
class Finding:
    """A rule's outcome on a case, as the applicant and the audit log see it."""

    matter: str
    outcome: logic.Outcome
    # The field the applicant is sent to (a path of the one form), if any.
    path: str | None
    # The registry could not answer for a licence the rule reads: it is not held against
    # the applicant (a warning, never a refusal).
    unknown: bool = False
    # The rule reads a personal licence of someone not signed in: the department checks it
    # after submission; the page says nothing of what the registry holds.
    withheld: bool = False

    @property
    def blocking(self) -> bool:
        """Whether the submission is refused for it."""
        return not self.outcome.passed and self.outcome.blocking and not self.unknown \
            and not self.withheld


def _field_path(matter, data: dict, key: str | None) -> str | None:
    if not key:
        return None
    head = key.split(".")[0]
    own = (data.get("matters") or {}).get(matter.code) or {}
    return f"matters.{matter.code}.{key}" if head in own else key


def run(case: Case, matters) -> tuple[list[Finding], dict[str, Evaluation]]:
    """Every rule of these matters evaluated on the case; and each matter's evaluation."""
    findings, evaluations = [], {}
    for matter in matters:
        rules = matter.data.get("rules", [])
        if not rules:
            continue
        evaluation = case.evaluation(matter)
        evaluations[matter.code] = evaluation
        for outcome in logic.evaluate(rules, evaluation.data):
            licences = {name.split(".")[1] for name in outcome.reads
                        if name.startswith("licences.")}
            unknown = bool(licences & evaluation.unavailable)
            withheld = bool(licences & evaluation.withheld)
            target = outcome.rule.get("field") or next(
                (name.removeprefix("fields.") for name in outcome.reads
                 if name.startswith("fields.")), None)
            findings.append(Finding(matter.code, outcome, _field_path(matter, case.data, target),
                                    unknown, withheld))
    return findings, evaluations


def has_rules(matters) -> bool:
    """Whether any of these matters declares rules (else nothing here is asked)."""
    return any(matter.data.get("rules") for matter in matters)


def failures(findings: list[Finding]) -> list[Finding]:
    """The findings the applicant is told about: failed rules, blocking ones first."""
    failed = [f for f in findings if not f.outcome.passed]
    return sorted(failed, key=lambda f: not f.blocking)


def trace(evaluation: Evaluation, outcomes) -> list[dict]:
    """What the audit log keeps of rules that ran: each rule, its result, the values it
    read with their source and trust."""
    return [{"rule": outcome.id, "passed": outcome.passed,
             "values": {name: evaluation.reading(name).as_dict() for name in outcome.reads}}
            for outcome in outcomes]


def all_trust_a(evaluation: Evaluation, outcomes) -> bool:
    """Whether every value every rule read is trust A."""
    return all(evaluation.reading(name).trust == "A"
               for outcome in outcomes for name in outcome.reads)
