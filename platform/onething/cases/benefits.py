"""免申即享: a benefit offered to every holder the registry shows eligible, without applying.

A benefit matter names the licence type whose holders are examined (`population`: the
household registers, say) and which of its rules decide eligibility. `run` examines
every holder of that type in the registry with the same evaluator as 智能预审 and 秒批,
and offers the benefit to each holder whose eligibility rules all pass on trust-A data.
One offer per holder and matter, however often the run: running it twice offers nothing
twice. An offer holds the evidence (each rule, the values it read, their source and trust).

The holder answers on a page reached by a signed, expiring link (itsdangerous, salted
for offers, signed with the app's SECRET_KEY): a real hall sends it by SMS; here the CLI
prints it, and 我的办件 shows it to the signed-in holder. Confirming is one click: it
becomes an application of the matter filed for the holder from the registry's data, so
the department receives a case like any other, or the system approves it at once when
the matter is instantly approvable (秒批). The holder may object instead, with a reason.
Offers, confirmations and objections are audited.
"""

from __future__ import annotations

import datetime as dt
import secrets

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from onething.cases import rules as case_rules
from onething.cases.refusals import Refusal
from onething.catalog.licences import HOLDER_USCC, licence_type
from onething.catalog.workdays import china_today
from onething.composer import logic
from onething.publishing.versions import latest_version
from onething.registry.providers import LocalRegistry
from onething.storage.models import AuditEntry, BenefitOffer, Licence, utc_now

SALT = "onething.benefit-offer"
REASON_LENGTH = 2000


class OfferRefused(Refusal):
    """An answer that does not fit the offer: answered already, expired, no reason."""


def holder_field(population: str) -> str:
    """The one form's field that carries a holder of this licence type."""
    kind = licence_type(population)
    return "entity_uscc" if kind is not None and kind.holder == HOLDER_USCC \
        else "applicant_id_number"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def link_token(offer: BenefitOffer, secret_key: str) -> str:
    """The signed token of an offer's link: its public id and when it was signed."""
    return _serializer(secret_key).dumps(offer.public_id)


def offer_of(session: Session, token: str, secret_key: str, catalog=None
             ) -> BenefitOffer | None:
    """The offer a signed link names, if the signature holds and it has not expired."""
    try:
        # The longest an offer lasts bounds every link; each offer's own days, below.
        public_id = _serializer(secret_key).loads(token, max_age=366 * 86400)
    except (BadSignature, SignatureExpired):
        return None
    offer = session.exec(select(BenefitOffer).where(BenefitOffer.public_id == public_id)).first()
    if offer is None or (offer.status == "offered" and offer.expires_on < china_today()):
        return None
    return offer


def eligible(session: Session, matter, holder: str, today: dt.date
             ) -> tuple[bool, list[dict]]:
    """Whether the holder passes the benefit's eligibility rules on trust-A data; the trace."""
    benefit = matter.data["benefit"]
    key = holder_field(benefit["population"])
    data = {key: holder}
    # The holder code is the registry's own: as trusted as the registry.
    prefill = {key: {"value": holder, "trust": "A", "locked": True, "source": "registry"}}
    case = case_rules.Case(session, data, prefill=prefill, provider=LocalRegistry(session),
                           today=today)
    evaluation = case.evaluation(matter)
    chosen = [rule for rule in matter.data.get("rules", [])
              if rule["id"] in benefit["eligibility"]]
    outcomes = logic.evaluate(chosen, evaluation.data)
    passed = bool(outcomes) and all(o.passed for o in outcomes) \
        and case_rules.all_trust_a(evaluation, outcomes)
    return passed, case_rules.trace(evaluation, outcomes)


def run(session: Session, matter, actor: str, today: dt.date | None = None
        ) -> tuple[list[BenefitOffer], int, int]:
    """Offer the benefit to every eligible holder without an offer yet; commit.

    Returns the new offers, how many holders were eligible and how many were examined.
    Only the built-in registry is examined: a provincial platform answers for one holder,
    it is not a list of everyone.
    """
    today = today or china_today()
    benefit = matter.data["benefit"]
    holders = session.exec(select(Licence.holder_code, Licence.holder_name).where(
        Licence.type_code == benefit["population"], col(Licence.revoked).is_(False))
        .order_by(Licence.holder_code)).all()
    offered = set(session.exec(select(BenefitOffer.holder_code).where(
        BenefitOffer.matter_code == matter.code)).all())
    created, eligible_count, seen = [], 0, set()
    for code, name in holders:
        if code in seen:
            continue
        seen.add(code)
        passed, trace = eligible(session, matter, code, today)
        if not passed:
            continue
        eligible_count += 1
        if code in offered:
            continue
        offer = BenefitOffer(public_id=secrets.token_urlsafe(16), matter_code=matter.code,
                             holder_code=code, holder_name=name[:200], evidence=trace,
                             expires_on=today + dt.timedelta(days=benefit["offer_days"]))
        session.add(offer)
        try:
            session.flush()
        except IntegrityError:
            # Another run offered it in between: the unique constraint keeps it once.
            session.rollback()
            continue
        session.add(AuditEntry(actor=actor, action="benefit_offered",
                               subject=f"offer:{offer.id}", before={},
                               after={"matter": matter.code, "rules": trace}))
        session.commit()
        created.append(offer)
    return created, eligible_count, len(seen)


def _answer(session: Session, offer: BenefitOffer, status: str, **values) -> None:
    # Compare and set: of two clicks at once, one answers, the other finds it answered.
    changed = session.execute(update(BenefitOffer).where(
        col(BenefitOffer.id) == offer.id, col(BenefitOffer.status) == "offered")
        .values(status=status, decided_at=utc_now(), **values))
    if changed.rowcount != 1:
        session.rollback()
        raise OfferRefused("answered")


def confirm(session: Session, offer: BenefitOffer, actor: str, applicant: str | None = None):
    """The holder's one click: the offer becomes a case of the matter, filed for them from
    the registry's data. Returns the submission and its access token (None when it was
    confirmed before: confirming twice is confirming once, the same case).

    A signed-in holder's (`applicant`) case is theirs: 我的办件 lists it.
    """
    from onething.cases.workflow import SubmissionRefused, create_draft, save_draft, submit
    from onething.storage.models import Submission

    if offer.status == "confirmed" and offer.submission_id is not None:
        return session.get(Submission, offer.submission_id), None
    if offer.status != "offered":
        raise OfferRefused("answered")
    version = latest_version(session, offer.matter_code)
    if version is None:
        raise OfferRefused("withdrawn")
    draft, token = create_draft(session, version)
    key = holder_field(_population(session, version, offer.matter_code))
    data = {key: offer.holder_code}
    if key == "applicant_id_number":
        data["applicant_name"] = offer.holder_name
    else:
        data["entity_name"] = offer.holder_name
    # Both values are the registry's (trust A): recorded so, as a prefilled value would be.
    draft.prefill = {path: {"value": value, "trust": "A", "locked": True, "source": "registry"}
                     for path, value in data.items()}
    draft.applicant = applicant
    save_draft(session, draft, data=data)
    try:
        submission = submit(session, draft, f"benefit-{offer.public_id}")
    except SubmissionRefused as refused:
        session.rollback()
        raise OfferRefused("not_fileable") from refused
    try:
        _answer(session, offer, "confirmed", submission_id=submission.id)
    except OfferRefused:
        session.refresh(offer)
        if offer.status == "confirmed" and offer.submission_id is not None:
            # A second click at the same moment: the first one's case is the case.
            return session.get(Submission, offer.submission_id), None
        raise
    session.add(AuditEntry(actor=actor, action="benefit_confirmed", subject=f"offer:{offer.id}",
                           before={"status": "offered"},
                           after={"status": "confirmed",
                                  "tracking_number": submission.tracking_number}))
    session.commit()
    session.refresh(offer)
    return submission, token


def _population(session: Session, version, matter_code: str) -> str:
    from onething.publishing.versions import bundle_of
    matter = bundle_of(version).catalog.matters[matter_code]
    return matter.data["benefit"]["population"]


def object_to(session: Session, offer: BenefitOffer, reason: str | None, actor: str) -> None:
    """The holder objects to the finding, with a reason; audited; commit."""
    reason = (reason or "").strip()
    if not reason:
        raise OfferRefused("reason")
    if len(reason) > REASON_LENGTH:
        raise OfferRefused("too_long")
    if offer.status != "offered":
        raise OfferRefused("answered")
    _answer(session, offer, "objected", objection=reason)
    session.add(AuditEntry(actor=actor, action="benefit_objected", subject=f"offer:{offer.id}",
                           before={"status": "offered"},
                           after={"status": "objected", "reason": reason}))
    session.commit()
    session.refresh(offer)


def offers_of(session: Session, holder_code: str | None) -> list[BenefitOffer]:
    """The offers made to a holder, newest first (我的办件)."""
    if not holder_code:
        return []
    return list(session.exec(select(BenefitOffer).where(
        BenefitOffer.holder_code == holder_code.strip().upper())
        .order_by(col(BenefitOffer.id).desc())).all())
