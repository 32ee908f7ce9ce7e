"""Lifecycle in the console: accounts, API tokens, webhooks and the audit log (issue 17)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlmodel import Session, select

from onething.accounts import service
from onething.departments.api import new_token
from onething.departments.webhooks import set_webhook
from onething.storage.models import Account, ApiToken, AuditEntry, Webhook
from test_admin import PASSWORD, add_account, sign_in, token_of


def console(app, client):
    """A signed-in administrator's browser and its CSRF token."""
    add_account(app, "admin", "administrator")
    return client, sign_in(client)


def audit_entries(app, **where) -> list[AuditEntry]:
    with Session(app.extensions["onething.engine"]) as session:
        statement = select(AuditEntry).order_by(AuditEntry.id)
        for key, value in where.items():
            statement = statement.where(getattr(AuditEntry, key) == value)
        return list(session.exec(statement).all())


def account(app, username: str) -> Account:
    with Session(app.extensions["onething.engine"]) as session:
        return session.exec(select(Account).where(Account.username == username)).one()


def test_passwords_are_kept_as_scrypt_hashes(app, client, monkeypatch, cheap_password_hashes):
    # What the hall runs, not the tests' cheap method (tests/conftest.py).
    monkeypatch.setattr(service, "PASSWORD_METHOD", cheap_password_hashes)
    add_account(app, "admin", "administrator")
    assert account(app, "admin").password_hash.startswith("scrypt:")
    sign_in(client)
    assert client.get("/admin/").status_code == 200


def test_a_disabled_user_is_refused_at_the_next_request(app, client):
    browser, csrf = console(app, client)
    add_account(app, "staff", "department_staff", "sn-amr")
    staff = app.test_client()
    sign_in(staff, "staff")
    assert staff.get("/inbox/").status_code == 200
    old_cookie = staff.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    response = browser.post("/admin/users/staff/disabled", data={"disabled": "1",
                                                                  "csrf_token": csrf})
    assert response.status_code == 302
    # The same session cookie, the next request: signed out, back to the sign-in page.
    assert staff.get("/inbox/").headers["Location"].startswith("/login")
    again = staff.post("/login", data={"username": "staff", "password": PASSWORD,
                                       "csrf_token": token_of(staff.get("/login").text)})
    assert again.status_code == 401
    entry = audit_entries(app, action="account_disable")[-1]
    assert (entry.actor, entry.subject) == ("admin", "account:staff")
    assert (entry.before["disabled"], entry.after["disabled"]) == (False, True)
    enabled = browser.post("/admin/users/staff/disabled", data={"disabled": "0",
                                                                "csrf_token": csrf},
                           headers={"HX-Request": "true"})
    assert enabled.status_code == 200 and "<html" not in enabled.text
    assert audit_entries(app, action="account_enable")
    # Enabled again, the sessions of before stay ended (a copy of the cookie included).
    revived = app.test_client()
    revived.set_cookie(app.config["SESSION_COOKIE_NAME"], old_cookie)
    assert revived.get("/inbox/").headers["Location"].startswith("/login")
    assert staff.post("/login", data={"username": "staff", "password": PASSWORD,
                                      "csrf_token": token_of(staff.get("/login").text)}
                      ).status_code == 302


def test_the_last_administrator_can_be_neither_disabled_nor_demoted(app, client):
    browser, csrf = console(app, client)
    add_account(app, "other", "administrator")
    # Another administrator may disable "other"; then "admin" is the last one.
    assert browser.post("/admin/users/other/disabled",
                        data={"disabled": "1", "csrf_token": csrf}).status_code == 302
    demoted = browser.post("/admin/users/admin/role?lang=en",
                           data={"role": "front_desk", "csrf_token": csrf})
    assert demoted.status_code == 422
    assert "At least one enabled administrator must remain" in demoted.text
    assert account(app, "admin").role == "administrator"
    # Disabling oneself is refused as well (the button is not even shown).
    refused = browser.post("/admin/users/admin/disabled?lang=en",
                           data={"disabled": "1", "csrf_token": csrf},
                           headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "your own account" in refused.text
    assert not account(app, "admin").disabled
    assert not audit_entries(app, action="account_role")


def test_the_last_administrator_is_kept_by_the_services_too(app, session):
    from onething.accounts.service import ChangeRefused, create_account, set_disabled, set_role
    from onething.storage.models import AccountCreate

    only = create_account(session, AccountCreate(username="root", display_name="root",
                                                 role="administrator", password=PASSWORD))
    for change in (lambda: set_disabled(session, only, True, "someone"),
                   lambda: set_role(session, only, "front_desk", None, "someone")):
        try:
            change()
        except ChangeRefused as refused:
            assert refused.code == "last_administrator"
        else:
            raise AssertionError("the last administrator was changed")
        session.rollback()
    assert session.get(Account, only.id).role == "administrator"


def test_a_password_reset_and_a_role_change_are_audited_without_the_password(app, client):
    browser, csrf = console(app, client)
    add_account(app, "desk", "front_desk")
    short = browser.post("/admin/users/desk/password?lang=en",
                         data={"password": "short", "confirm": "short", "csrf_token": csrf})
    assert short.status_code == 422 and "at least 10 characters" in short.text
    differ = browser.post("/admin/users/desk/password?lang=en",
                          data={"password": "a new long one", "confirm": "another long one",
                                "csrf_token": csrf})
    assert differ.status_code == 422
    assert browser.post("/admin/users/desk/password",
                        data={"password": "a new long one", "confirm": "a new long one",
                              "csrf_token": csrf}).status_code == 302
    desk = app.test_client()
    assert desk.post("/login", data={"username": "desk", "password": "a new long one",
                                     "csrf_token": token_of(desk.get("/login").text)}
                     ).status_code == 302
    # Staff need a department of the catalog; then the role changes.
    missing = browser.post("/admin/users/desk/role", data={"role": "department_staff",
                                                           "csrf_token": csrf})
    assert missing.status_code == 422 and account(app, "desk").role == "front_desk"
    assert browser.post("/admin/users/desk/role", data={
        "role": "department_staff", "department": "sn-fire", "csrf_token": csrf}
    ).status_code == 302
    changed = account(app, "desk")
    assert (changed.role, changed.department_code) == ("department_staff", "sn-fire")
    entries = audit_entries(app, subject="account:desk")
    assert [e.action for e in entries] == ["account_password", "account_role"]
    assert entries[1].before["role"] == "front_desk"
    assert entries[1].after == {"display_name": "desk", "role": "department_staff",
                                "department_code": "sn-fire", "disabled": False}
    text = repr([(e.before, e.after) for e in entries])
    assert "a new long one" not in text and changed.password_hash not in text
    assert changed.password_hash.split("$")[0] not in text  # not even the method
    page = browser.get("/admin/users/desk?lang=en").text
    assert "Role changed" in page and "Password reset" in page


def test_a_revoked_token_is_refused_at_once(app, client):
    browser, csrf = console(app, client)
    with Session(app.extensions["onething.engine"]) as session:
        token = new_token(session, "sn-amr", "amr system")
        token_id = session.exec(select(ApiToken.id)).one()
    api = app.test_client()
    assert api.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}
                   ).status_code == 200
    listing = browser.get("/admin/tokens?lang=en").text
    assert "amr system" in listing and "valid" in listing and token not in listing
    assert browser.post(f"/admin/tokens/{token_id}/revoke",
                        data={"csrf_token": csrf}).status_code == 302
    assert api.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}
                   ).status_code == 401
    assert "revoked" in browser.get("/admin/tokens?lang=en").text
    entry = audit_entries(app, action="token_revoke")[0]
    assert (entry.actor, entry.subject, entry.after["revoked"]) == (
        "admin", f"token:{token_id}", True)
    assert browser.post("/admin/tokens/999999/revoke", data={"csrf_token": csrf}
                        ).status_code == 404


def test_a_webhook_is_disabled_enabled_and_given_a_new_secret_shown_once(app, client):
    browser, csrf = console(app, client)
    with Session(app.extensions["onething.engine"]) as session:
        old = set_webhook(session, "sn-amr", "https://example.org/hook")
    page = browser.get("/admin/webhooks/sn-amr?lang=en").text
    assert "Disable the webhook" in page and old not in page
    assert browser.post("/admin/webhooks/sn-amr/active", data={"active": "0",
                                                               "csrf_token": csrf}
                        ).headers["Location"].startswith("/admin/webhooks/sn-amr")
    with Session(app.extensions["onething.engine"]) as session:
        assert not session.exec(select(Webhook)).one().active
    partial = browser.post("/admin/webhooks/sn-amr/active?lang=en",
                           data={"active": "1", "csrf_token": csrf},
                           headers={"HX-Request": "true"})
    assert "<html" not in partial.text and "Disable the webhook" in partial.text
    # Unconfirmed (one click), nothing changes: the department's checks would fail.
    unconfirmed = browser.post("/admin/webhooks/sn-amr/rotate?lang=en",
                               data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    assert unconfirmed.status_code == 422 and "Tick the box to confirm" in unconfirmed.text
    with Session(app.extensions["onething.engine"]) as session:
        assert session.exec(select(Webhook)).one().secret == old
    rotated = browser.post("/admin/webhooks/sn-amr/rotate?lang=en",
                           data={"csrf_token": csrf, "confirm": "yes"})
    assert rotated.status_code == 200
    secret = re.search(r'<code class="secret">(whsec_[^<]+)</code>', rotated.text).group(1)
    with Session(app.extensions["onething.engine"]) as session:
        assert session.exec(select(Webhook)).one().secret == secret != old
    assert secret not in browser.get("/admin/webhooks/sn-amr").text  # shown only once
    actions = [e.action for e in audit_entries(app, subject="webhook:sn-amr")]
    assert actions == ["webhook_disable", "webhook_enable", "webhook_rotate"]
    assert secret not in repr([(e.before, e.after) for e in audit_entries(app)])


def test_the_console_shows_a_webhooks_address_without_its_password_or_token(app, client):
    browser, csrf = console(app, client)
    with Session(app.extensions["onething.engine"]) as session:
        set_webhook(session, "sn-amr", "https://erp:s3cret@hooks.example.org:8443/in?token=abc123")
    # Anyone near the administrator's phone reads the pages; the audit log is read widely.
    browser.post("/admin/webhooks/sn-amr/active", data={"active": "0", "csrf_token": csrf})
    for page in (browser.get("/admin/webhooks").text, browser.get("/admin/webhooks/sn-amr").text,
                 repr([(e.before, e.after) for e in audit_entries(app)])):
        assert "hooks.example.org:8443/in" in page
        assert "s3cret" not in page and "abc123" not in page


def test_the_tokens_page_asks_before_revoking_and_reads_on_a_phone(app, client):
    browser, _ = console(app, client)
    with Session(app.extensions["onething.engine"]) as session:
        new_token(session, "sn-amr", "amr \"system\"", days=30)
    page = browser.get("/admin/tokens?lang=en").text
    # The name as typed, quotes and all, escaped inside the attribute.
    assert 'hx-confirm="Revoke the token amr &#34;system&#34;? The department' in page
    assert '<table class="cards tokens">' in page and 'data-label="State: "' in page


def test_the_audit_viewer_filters_by_person_case_action_and_dates(app, client):
    browser, csrf = console(app, client)
    for name in ("desk", "clerk"):
        add_account(app, name, "front_desk")
    browser.post("/admin/users/desk/disabled", data={"disabled": "1", "csrf_token": csrf})
    browser.post("/admin/users/clerk/disabled", data={"disabled": "1", "csrf_token": csrf})
    browser.post("/admin/users/clerk/disabled", data={"disabled": "0", "csrf_token": csrf})
    with Session(app.extensions["onething.engine"]) as session:
        session.add(AuditEntry(actor="someone", action="account_enable", subject="account:x",
                               at=dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)))
        session.commit()

    def rows(query: str) -> list[str]:
        page = browser.get(f"/admin/audit?lang=en&{query}", headers={"HX-Request": "true"})
        assert page.status_code == 200 and "<html" not in page.text
        return re.findall(r'<tr data-entry="\d+">.*?</tr>', page.text, re.S)

    assert len(rows("")) == 4
    assert len(rows("actor=admin")) == 3
    assert len(rows("case=account:clerk")) == 2
    found = rows("action=account_disable")
    assert len(found) == 2 and all("Account disabled" in row for row in found)
    assert "Disabled: <del>no</del> → <ins>yes</ins>" in found[0]
    assert len(rows("since=2026-01-10&until=2026-01-10")) == 1
    assert len(rows("until=2026-01-09")) == 0
    bad = browser.get("/admin/audit?lang=en&since=yesterday")
    assert bad.status_code == 422 and "A date is written like" in bad.text
    chinese = browser.get("/admin/audit?action=account_disable").text
    assert "account_disable</td>" not in chinese


def test_the_audit_viewer_finds_a_case_by_its_tracking_number(app, client):
    from onething.storage.models import Submission, Task
    from test_web import fill, start, submit, upload_everything

    browser, _ = console(app, client)
    applicant = app.test_client()
    draft = start(applicant)
    fill(applicant, draft)
    upload_everything(applicant, draft)
    submit(applicant, draft)
    with Session(app.extensions["onething.engine"]) as session:
        submission = session.exec(select(Submission)).one()
        task_id = session.exec(select(Task.id)).first()
        session.add(AuditEntry(actor="staff", action="accept", subject=f"task:{task_id}"))
        session.add(AuditEntry(actor="staff", action="accept", subject="task:999999"))
        session.commit()
        number = submission.tracking_number
    page = browser.get(f"/admin/audit?lang=en&case={number.lower()}").text
    assert f"task:{task_id}" in page and "task:999999" not in page


def test_the_audit_viewer_is_for_administrators_only(app, client):
    add_account(app, "desk", "front_desk")
    assert client.get("/admin/audit").headers["Location"].startswith("/login")
    sign_in(client, "desk")
    for url in ("/admin/audit", "/admin/users", "/admin/tokens"):
        assert client.get(url).status_code == 403


@pytest.mark.parametrize("query", [{"until": "9999-12-31"}, {"since": "0001-01-01"},
                                   {"since": "2027-W01-1"}])
def test_the_audit_viewer_refuses_dates_out_of_range_with_a_message(app, client, query):
    from test_admin import add_account, sign_in

    add_account(app, "admin", "administrator")
    sign_in(client)
    assert client.get("/admin/audit", query_string=query).status_code == 422


def test_a_password_reset_ends_the_sessions_signed_in_with_the_old_one(app, client):
    browser, csrf = console(app, client)
    add_account(app, "desk", "front_desk")
    desk = app.test_client()
    assert desk.post("/login", data={"username": "desk", "password": PASSWORD,
                                     "csrf_token": token_of(desk.get("/login").text)}
                     ).status_code == 302
    assert desk.get("/desk/").status_code == 200
    assert browser.post("/admin/users/desk/password",
                        data={"password": "a new long one", "confirm": "a new long one",
                              "csrf_token": csrf}).status_code == 302
    # The browser that knew the old password is signed out at its next request.
    assert desk.get("/desk/").status_code == 302
    # The administrator's own session, untouched, goes on.
    assert browser.get("/admin/users").status_code == 200


def test_signing_out_ends_the_session_a_copied_cookie_included(app, client):
    add_account(app, "staff", "department_staff", "sn-amr")
    csrf = token_of(client.get("/login").text)
    assert client.post("/login", data={"username": "staff", "password": PASSWORD,
                                       "csrf_token": csrf}).status_code == 302
    name = app.config["SESSION_COOKIE_NAME"]
    # The cookie copied to another browser (a shared computer, a stolen cookie) opens
    # the inbox as well, until the sign-out.
    copy = app.test_client()
    copy.set_cookie(name, client.get_cookie(name).value)
    assert copy.get("/inbox/").status_code == 200
    page = client.get("/inbox/").text
    left = client.post("/logout", data={"csrf_token": token_of(page)})
    assert left.status_code == 302
    # Said on the sign-in page, where the next person at a shared desk signs in.
    assert 'id="you-signed-out"' in client.get(left.headers["Location"]).text
    assert client.get("/inbox/").headers["Location"].startswith("/login")
    assert copy.get("/inbox/").headers["Location"].startswith("/login")
    # Signing in again opens a session of its own.
    csrf = token_of(client.get("/login").text)
    assert client.post("/login", data={"username": "staff", "password": PASSWORD,
                                       "csrf_token": csrf}).status_code == 302
    assert client.get("/inbox/").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example", "/\t/evil.example", "/\n/evil.example",
                                    "/\\evil.example", "https://evil.example/", "evil",
                                    "/ /evil.example", "/\x7f/evil.example", ""])
def test_a_sign_in_never_sends_anyone_off_the_site(target):
    from onething.accounts.service import safe_next

    assert safe_next(target) is None


def test_a_sign_in_goes_back_to_the_page_it_came_from():
    from onething.accounts.service import safe_next

    assert safe_next("/inbox/?status=pending&q=%E6%B5%B7") == "/inbox/?status=pending&q=%E6%B5%B7"
