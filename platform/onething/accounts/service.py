"""Accounts and signing in: who may use the console, a department's inbox, the front desk.

Passwords are kept as werkzeug scrypt hashes. A signed-in browser holds only
the account id in its signed session cookie; each request reloads the account,
so disabling one takes effect at once. Every form of a signed-in page carries a
CSRF token (Flask-WTF), htmx requests send it as a header, and failed sign-ins
are limited per address and per name, counted in the database so that every
process shares one count.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

from flask import abort, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, col, delete, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from onething.storage.models import (
    ROLES,
    Account,
    AccountCreate,
    Applicant,
    AuditEntry,
    SignInFailure,
    utc_now,
)

MIN_PASSWORD_LENGTH = 10
SESSION_KEY = "account_id"
# A fingerprint of the password hash and the account's session key beside the id: a
# password reset or a sign-out changes it, so every session signed in before ends at its
# next request, a copy of its cookie too.
STAMP_KEY = "account_stamp"


def _stamp(account: Account) -> str:
    return session_stamp(account.password_hash, account.session_key)


def session_stamp(secret: str, session_key: str) -> str:
    """What a session cookie carries beside whom it signs in (an account, an applicant):
    it matches only while their secret and session key are what they were at sign-in."""
    return hashlib.sha256((secret + session_key).encode()).hexdigest()[:16]


def new_session_key() -> str:
    """A fresh session key (accounts and applicants): the sessions stamped before end."""
    return secrets.token_hex(16)


# werkzeug's scrypt: about a tenth of a second per hash or check, on purpose. (The tests,
# which sign in hundreds of times, set a cheap method here; see tests/conftest.py.)
PASSWORD_METHOD = "scrypt"


def _hashed(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


@functools.cache
def _dummy_hash() -> str:
    # Checked when the username is unknown, so a wrong name costs as long as a wrong
    # password. Made on first use: hashing on import slowed every start and CLI command.
    return _hashed("not a real password")


class AccountRefused(ValueError):
    """An account that cannot be created or changed as asked."""


# Why a change to an account was refused: localized in the console, English on the command line.
CHANGE_REFUSALS = {
    "last_administrator": _l("At least one enabled administrator must remain: enable or "
                             "appoint another one first."),
    "role": _l("Choose one of the roles."),
    "department": _l("Department staff belong to one department of the catalog; the other "
                     "roles to none."),
    "password": _l("A password has at least %(n)s characters.", n=MIN_PASSWORD_LENGTH),
    "self": _l("You cannot disable your own account."),
}


class ChangeRefused(AccountRefused):
    """A change to an account that would break a rule; `code` names which."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code

    def __str__(self) -> str:
        return str(CHANGE_REFUSALS[self.code])


def create_account(session: Session, new: AccountCreate, actor: str | None = None) -> Account:
    """Create an account (its password hashed), audited when an actor is named; commit."""
    if new.role not in ROLES:
        raise AccountRefused(f"unknown role {new.role!r}: one of {', '.join(ROLES)}")
    if (new.role == "department_staff") != (new.department_code is not None):
        raise AccountRefused("department staff, and only they, belong to a department")
    if len(new.password) < MIN_PASSWORD_LENGTH:
        raise AccountRefused(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if session.exec(select(Account).where(Account.username == new.username)).first():
        raise AccountRefused(f"the username {new.username!r} is taken")
    account = Account(**new.model_dump(exclude={"password"}),
                      password_hash=_hashed(new.password))
    session.add(account)
    if actor is not None:
        _audit(session, actor, "account_create", account, None, snapshot(account))
    session.commit()
    return account


def snapshot(account: Account) -> dict:
    """What the audit log keeps of an account: never its password or hash."""
    return {"display_name": account.display_name, "role": account.role,
            "department_code": account.department_code, "disabled": account.disabled}


def _audit(session: Session, actor: str, action: str, account: Account, before: dict | None,
           after: dict | None) -> None:
    session.add(AuditEntry(actor=actor, action=action, subject=f"account:{account.username}",
                           before=before, after=after))


def _other_enabled_administrators(session: Session, account: Account) -> int:
    return session.exec(select(func.count()).select_from(Account).where(
        Account.role == "administrator", col(Account.disabled).is_(False),
        Account.id != account.id)).one()


def _keeps_an_administrator(session: Session, account: Account) -> None:
    # Refused when this change would leave no enabled administrator to undo it. The
    # administrators' rows are held until the change commits (row locks on PostgreSQL,
    # the write lock on SQLite): two administrators disabling each other at once would
    # otherwise each count the other as still enabled.
    if account.role == "administrator" and not account.disabled:
        session.execute(update(Account).where(col(Account.role) == "administrator")
                        .values(disabled=Account.__table__.c.disabled))
        if _other_enabled_administrators(session, account) == 0:
            session.rollback()
            raise ChangeRefused("last_administrator")


def find_account(session: Session, username: str) -> Account | None:
    """The account with this username, if any."""
    if "\x00" in username:
        return None
    return session.exec(select(Account).where(Account.username == username)).first()


def accounts_statement():
    """Every account, by role then username, for the console and `onething user list`."""
    return select(Account).order_by(col(Account.role), col(Account.username))


def set_disabled(session: Session, account: Account, disabled: bool, actor: str) -> bool:
    """Disable or enable an account, audited; commit. False when it already was so."""
    if account.disabled == disabled:
        return False
    if disabled:
        if actor == account.username:
            raise ChangeRefused("self")
        _keeps_an_administrator(session, account)
    before = snapshot(account)
    account.disabled = disabled
    if disabled:
        # Enabled again later, the account starts afresh: no session of before comes back.
        account.session_key = new_session_key()
    _audit(session, actor, "account_disable" if disabled else "account_enable", account,
           before, snapshot(account))
    session.add(account)
    session.commit()
    return True


def set_password(session: Session, account: Account, password: str, actor: str) -> None:
    """Give an account a new password (hashed), audited without it; commit."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ChangeRefused("password")
    account.password_hash = _hashed(password)
    # The log says that it changed, never to what.
    _audit(session, actor, "account_password", account, None, {"password": "changed"})
    session.add(account)
    session.commit()


def set_role(session: Session, account: Account, role: str, department: str | None,
             actor: str) -> bool:
    """Change an account's role (and department, for staff), audited; commit.
    False when nothing changes."""
    from onething.publishing.working_catalog import find_entry

    department = department or None
    if role not in ROLES:
        raise ChangeRefused("role")
    if (role == "department_staff") != (department is not None) or (
            department is not None and find_entry(session, "department", department) is None):
        raise ChangeRefused("department")
    if (account.role, account.department_code) == (role, department):
        return False
    if role != "administrator":
        _keeps_an_administrator(session, account)
    before = snapshot(account)
    account.role, account.department_code = role, department
    _audit(session, actor, "account_role", account, before, snapshot(account))
    session.add(account)
    session.commit()
    return True


def authenticate(session: Session, username: str, password: str) -> Account | None:
    """The enabled account with this username and password, else None."""
    if "\x00" in username:
        return None  # no username holds one, and PostgreSQL refuses it in a query
    account = session.exec(select(Account).where(Account.username == username)).first()
    if account is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(account.password_hash, password) or account.disabled:
        return None
    return account


def sign_in(account: Account) -> None:
    """Remember the account in this browser's session, under a fresh session (the caller
    ends whoever else is signed in here first: applicants.end_someone_elses_session)."""
    # A new session on sign-in: nothing planted before it survives (session fixation).
    kept = {key: session[key] for key in ("draft_tokens", "submission_tokens") if key in session}
    session.clear()
    session.update(kept)
    session[SESSION_KEY] = account.id
    session[STAMP_KEY] = _stamp(account)
    session.permanent = True


def sign_out() -> None:
    """Forget the account in this browser, and end its sessions everywhere: a cookie is
    a bearer token, and a copy of it (a shared computer, a stolen cookie) must not outlive
    the sign-out."""
    # A desk computer is shared: the next clerk must not open the cases this one filed.
    end_sessions(current_account(), (SESSION_KEY, STAMP_KEY, "draft_tokens",
                                     "submission_tokens"), "account")


def end_sessions(person: Account | Applicant | None, keys: tuple[str, ...], name: str) -> None:
    """End a signed-in person's sessions everywhere, by drawing their session key anew,
    and forget `keys` of this browser's session (and `g.<name>`)."""
    if person is not None:
        from onething.web.extensions import get_session

        person.session_key = new_session_key()
        get_session().add(person)
        get_session().commit()
    for key in keys:
        session.pop(key, None)
    g.pop(name, None)


def current_account() -> Account | None:
    """The signed-in account of this request (reloaded, so a disabled one is out at once)."""
    if "account" not in g:
        from onething.web.extensions import get_session

        account_id = session.get(SESSION_KEY)
        account = get_session().get(Account, account_id) if account_id else None
        g.account = account if account is not None and not account.disabled and \
            hmac.compare_digest(session.get(STAMP_KEY, ""), _stamp(account)) else None
    return g.account


def sign_in_again():
    """The answer to a request that needs an account and has none: to the sign-in page,
    coming back here after. A browser whose sign-in ended under it (its account was
    disabled, or its password changed) is told so there (ended=1); with htmx, the
    whole page goes, not a partial swapped into the old one."""
    ended = bool(session.get(SESSION_KEY))
    if ended:
        sign_out()
    target = url_for("auth.login", next=request.full_path.rstrip("?"),
                     **({"ended": "1"} if ended else {}))
    if request.headers.get("HX-Request"):
        return "", 401, {"HX-Redirect": target}
    return redirect(target)


def role_required(*roles: str):
    """A view decorator: sign in first (HTML redirect), and hold one of these roles (403)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            account = current_account()
            if account is None:
                return sign_in_again()
            if account.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def staff_guard(blueprint, *roles: str) -> None:
    """Guard every view of a staff blueprint: signed in, holding one of the roles (department
    staff unless named), and a CSRF token on anything but a read."""
    from onething.web.extensions import csrf

    @blueprint.before_request
    @role_required(*(roles or ("department_staff",)))
    def _guard():
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()


def safe_next(target: str | None) -> str | None:
    """A post-sign-in target on this site only (never //evil.example or https://…)."""
    # Browsers drop tabs and line breaks from a URL ("/\t/evil.example" is "//evil…"), and
    # one in a Location header is no header at all: any whitespace or control is refused.
    if not target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


# Accounts of the demo (README lists them): one per role, on the demo catalog's departments.
DEMO_PASSWORD = "onething-demo"
DEMO_ACCOUNTS = (
    ("admin", "管理员（演示）", "administrator", None),
    ("amr", "市场监管局（演示）", "department_staff", "sn-amr"),
    ("fire", "消防救援大队（演示）", "department_staff", "sn-fire"),
    ("urban", "城管局（演示）", "department_staff", "sn-urban-mgmt"),
    ("tobacco", "烟草专卖局（演示）", "department_staff", "sn-tobacco"),
    # The elderly allowance (高龄津贴): its 秒批 switch and the cases 免申即享 files.
    ("civil", "民政局（演示）", "department_staff", "sn-civil-affairs"),
    ("desk", "综合窗口（演示）", "front_desk", None),
)


def add_demo_accounts(session: Session) -> None:
    """Create the demo accounts that are missing (their departments must exist)."""
    from onething.publishing.working_catalog import entries

    departments = {e.code for e in entries(session, "department")}
    existing = set(session.exec(select(Account.username).where(
        col(Account.username).in_([account[0] for account in DEMO_ACCOUNTS]))).all())
    for username, name, role, department in DEMO_ACCOUNTS:
        if department is not None and department not in departments:
            continue
        if username in existing:
            continue
        create_account(session, AccountCreate(username=username, display_name=name, role=role,
                                              department_code=department,
                                              password=DEMO_PASSWORD))


# --- the sign-in limit ------------------------------------------------------------------------

_LIMIT = re.compile(r"^\s*(\d+)\s*(?:per|/)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$")
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_limit(text: str) -> tuple[int, dt.timedelta]:
    """'10 per 5 minutes' as (10, 5 minutes); ValueError for anything else."""
    found = _LIMIT.match(text) if isinstance(text, str) else None  # 10, read as JSON: no period
    if found is None or int(found[1]) < 1:
        raise ValueError(f"not a limit like '10 per 5 minutes': {text!r}")
    return int(found[1]), dt.timedelta(seconds=int(found[2] or 1) * _UNITS[found[3]])


# One address may be a whole hall behind its NAT: it is allowed this many times a name's
# failures, so one person's typos never lock out the colleagues beside them.
ADDRESS_FACTOR = 10


def record_attempt(session: Session, limit: str, address: str, username: str) -> int:
    """Count a sign-in attempt as failed before its password is checked; commit; its id.

    Counted first, then checked (`blocked_until`): of attempts sent at once, none can
    pass the limit between another's check and its record. A successful one, or one the
    limit refused, is then forgotten (`forget_attempt`): only failures count.
    """
    _allowed, period = parse_limit(limit)
    session.exec(delete(SignInFailure).where(
        col(SignInFailure.failed_at) < utc_now() - period))
    attempt = SignInFailure(address=address[:64], username=_name_key(username))
    session.add(attempt)
    session.commit()
    return attempt.id


def forget_attempt(session: Session, attempt_id: int) -> None:
    """A sign-in that succeeded, or was refused by the limit before its password was
    read: neither is a failure."""
    session.exec(delete(SignInFailure).where(col(SignInFailure.id) == attempt_id))
    session.commit()


def blocked_until(session: Session, limit: str, address: str,
                  username: str) -> dt.datetime | None:
    """When this address or this name may try again, if its failures (the attempt under
    way included) are past the limit; None when the attempt may go on."""
    allowed, period = parse_limit(limit)
    since = utc_now() - period
    until = None
    for column, value, most in ((SignInFailure.address, address[:64], allowed * ADDRESS_FACTOR),
                                (SignInFailure.username, _name_key(username), allowed)):
        times = session.exec(select(SignInFailure.failed_at).where(
            column == value, col(SignInFailure.failed_at) > since)
            .order_by(col(SignInFailure.failed_at).desc()).limit(most + 1)).all()
        if len(times) > most:
            # Free again when the oldest of the last failures leaves the period.
            free = min(times) + period
            until = free if until is None else max(until, free)
    return until


def _name_key(username: str) -> str:
    return username.strip().lower()[:200]
