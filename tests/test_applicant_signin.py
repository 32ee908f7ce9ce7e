"""Applicants' sign-in (统一身份认证) against a real OpenID Connect provider in the test process:
我的办件, drafts claimed and found on another device, verified fields, and every failure."""

from __future__ import annotations

import re
import socket

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from oidc_provider import PERSON, Running, callback_path, follow_authorization
from onething.storage.models import Applicant, Draft

NEWBORN = {"household_follows": "mother", "parents_married": "true",
           "need_bank_card_function": "false"}


@pytest.fixture
def idp():
    running = Running()
    yield running
    running.stop()


class SignedInBrowser(FlaskClient):
    """A browser whose posts carry the page's CSRF token once someone is signed in, as the
    pages' forms (and htmx's header) do: a signed-in session's posts need it."""

    def open(self, *args, **kwargs):
        method = kwargs.get("method") or (args[0].method if args and hasattr(args[0], "method")
                                          else "GET")
        if method == "POST" and self.get_cookie("session") is not None:
            page = super().open("/", method="GET").text
            found = re.search(r'"X-CSRFToken": "([^"]+)"', page)
            if found:
                kwargs["headers"] = {**dict(kwargs.get("headers") or {}),
                                     "X-CSRFToken": found.group(1)}
        return super().open(*args, **kwargs)


@pytest.fixture
def signin_app(blank_engine, tmp_path, idp):
    from onething.web.app import create_app

    url = blank_engine.url.render_as_string(hide_password=False)
    app = create_app({"TESTING": True, "DATABASE_URL": url, **idp.config()},
                     instance_path=tmp_path / "instance")
    app.test_client_class = SignedInBrowser
    yield app
    app.extensions["onething.engine"].dispose()


def sign_in(client, next_url: str | None = None):
    """Go through the provider as a browser would; the callback's answer."""
    started = client.get("/applicant/signin", query_string={"next": next_url} if next_url else {})
    assert started.status_code == 302, started.text[:300]
    return client.get(callback_path(follow_authorization(started.headers["Location"])))


def start_newborn(client) -> str:
    response = client.post("/b/newborn", data=NEWBORN)
    assert response.status_code == 302, response.text[:500]
    return response.headers["Location"].removesuffix("/form")


def test_sign_in_is_off_when_not_configured(client):
    assert "/applicant/signin" not in client.get("/").text
    assert client.get("/applicant/signin").status_code == 404
    assert client.get("/applicant/cases").status_code == 404
    # Anonymous applying is as it was.
    assert client.get(f"{start_newborn(client)}/form").status_code == 200


def test_the_authorization_request_carries_pkce_state_and_nonce(signin_app, idp):
    client = signin_app.test_client()
    assert 'href="/applicant/signin' in client.get("/").text
    location = client.get("/applicant/signin").headers["Location"]
    assert location.startswith(f"{idp.url}/authorize?")
    query = dict(re.findall(r"[?&]([^=&]+)=([^&]*)", location))
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert query["client_id"] == "onething-hall" and "openid" in query["scope"]
    # The verifier is never sent to the browser.
    assert "code_verifier" not in location


def test_a_signed_in_applicant_finds_drafts_on_another_device(signin_app, idp):
    phone = signin_app.test_client()
    someone_elses = start_newborn(phone)  # left in the browser by somebody else
    anonymous = start_newborn(phone)  # started before signing in, from its own page
    answer = sign_in(phone, f"{anonymous}/form")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"{anonymous}/form")
    mine = phone.get("/applicant/cases").text
    assert anonymous.removeprefix("/d/") in mine and "张三" in mine
    # Only the draft the sign-in started from is claimed: not the other one this browser
    # held, nor is the signed-in person's identity written into it.
    assert someone_elses.removeprefix("/d/") not in mine
    assert 'value="110101199003071233"' not in phone.get(f"{someone_elses}/form").text
    # The claimed draft got the verified identity.
    form = phone.get(f"{anonymous}/form").text
    assert 'value="110101199003071233"' in form and 'value="13800138000"' in form
    started = start_newborn(phone)

    laptop = signin_app.test_client()  # another device: no tokens, no cookie
    assert laptop.get(f"{started}/form").status_code == 404
    assert sign_in(laptop).status_code == 302
    listed = laptop.get("/applicant/cases").text
    assert started.removeprefix("/d/") in listed and anonymous.removeprefix("/d/") in listed
    assert laptop.get(f"{started}/form").status_code == 200

    # A copy of the laptop's cookie opens the applicant's cases until the sign-out.
    copy = signin_app.test_client()
    name = signin_app.config["SESSION_COOKIE_NAME"]
    copy.set_cookie(name, laptop.get_cookie(name).value)
    assert copy.get("/applicant/cases").status_code == 200
    # Signing out forgets the applicant and every draft this browser kept, and ends the
    # applicant's sessions: the copy's and the phone's too.
    assert laptop.post("/applicant/signout").status_code == 302
    assert copy.get("/applicant/cases").status_code == 302
    assert phone.get("/applicant/cases").status_code == 302
    assert laptop.get(f"{started}/form").status_code == 404
    assert laptop.get("/applicant/cases").status_code == 302
    with Session(signin_app.extensions["onething.engine"]) as db:
        owners = {d.public_id: d.applicant for d in db.exec(select(Draft))}
        assert owners[someone_elses.removeprefix("/d/")] is None  # never claimed
        del owners[someone_elses.removeprefix("/d/")]
        assert len(set(owners.values())) == 1 and None not in owners.values()
        stored = db.exec(select(Applicant)).one()
        # Only a hash of issuer and sub is kept as the subject.
        assert PERSON["sub"] not in stored.subject and len(stored.subject) == 64


def test_verified_fields_are_readonly_and_a_tampered_post_cannot_change_them(signin_app):
    client = signin_app.test_client()
    sign_in(client)
    draft = start_newborn(client)
    form = client.get(f"{draft}/form").text
    for path, value in (("applicant_name", "张三"), ("applicant_id_number", "110101199003071233"),
                        ("applicant_mobile", "13800138000")):
        tag = re.search(rf'<input id="f-{path}"[^>]*>', form, re.S).group(0)
        assert f'value="{value}"' in tag and "readonly" in tag, tag
        assert f'id="f-{path}-verified"' in form
    # A hand-made post tries to change all three: the verified values stay.
    client.post(f"{draft}/form", data={"applicant_name": "李四",
                                       "applicant_id_number": "11010119900307123X",
                                       "applicant_mobile": "13900000000"})
    with Session(signin_app.extensions["onething.engine"]) as db:
        data = db.exec(select(Draft)).one().data
    assert data["applicant_name"] == "张三"
    assert data["applicant_id_number"] == "110101199003071233"
    assert data["applicant_mobile"] == "13800138000"
    # Another field of the same post is saved as usual.
    client.post(f"{draft}/form", data={"child_name": "张小宝", "applicant_name": "李四"})
    with Session(signin_app.extensions["onething.engine"]) as db:
        data = db.exec(select(Draft)).one().data
    assert data["child_name"] == "张小宝" and data["applicant_name"] == "张三"


def test_an_anonymous_draft_keeps_editable_fields(signin_app):
    client = signin_app.test_client()
    draft = start_newborn(client)
    tag = re.search(r'<input id="f-applicant_name"[^>]*>', client.get(f"{draft}/form").text,
                    re.S).group(0)
    assert "readonly" not in tag


def assert_not_signed_in(client):
    page = client.get("/").text
    assert 'href="/applicant/signin' in page and "/applicant/signout" not in page
    assert client.get("/applicant/cases").status_code == 302
    with client.session_transaction() as kept:
        assert "applicant" not in kept and "applicant_pending" not in kept


def test_a_wrong_state_is_refused_with_a_clear_page(signin_app, idp):
    client = signin_app.test_client()
    location = follow_authorization(client.get("/applicant/signin").headers["Location"])
    forged = re.sub(r"state=[^&]+", "state=forged", callback_path(location))
    client.set_cookie("lang", "en")  # the applicant chose English
    answer = client.get(forged)
    assert answer.status_code == 400
    assert "does not belong to this browser" in answer.text
    assert_not_signed_in(client)
    # The real callback, replayed afterwards, finds nothing to finish either.
    assert client.get(callback_path(location)).status_code == 400
    assert_not_signed_in(client)


def test_a_callback_without_a_sign_in_started_is_refused(signin_app):
    client = signin_app.test_client()
    answer = client.get("/applicant/callback?code=x&state=y")
    assert answer.status_code == 400 and "<h1>" in answer.text
    assert_not_signed_in(client)


@pytest.mark.parametrize("misbehaviour", ["nonce", "key"])
def test_an_id_token_that_does_not_verify_signs_nobody_in(signin_app, idp, misbehaviour):
    idp.provider.misbehave = misbehaviour
    client = signin_app.test_client()
    answer = sign_in(client)
    assert answer.status_code == 502
    # zh-Hans by default: the page explains in the applicant's language.
    assert "<h1>" in answer.text and 'role="alert"' in answer.text
    assert_not_signed_in(client)
    with Session(signin_app.extensions["onething.engine"]) as db:
        assert db.exec(select(Applicant)).first() is None


def test_metadata_naming_another_issuer_is_refused(signin_app, idp):
    idp.provider.misbehave = "issuer"
    client = signin_app.test_client()
    answer = client.get("/applicant/signin", query_string={"lang": "en"})
    assert answer.status_code == 502 and "could not be verified" in answer.text
    assert_not_signed_in(client)


def test_an_unreachable_issuer_is_a_clear_page_not_a_crash(blank_engine, tmp_path):
    from onething.web.app import create_app

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app({"TESTING": True,
                      "DATABASE_URL": blank_engine.url.render_as_string(hide_password=False),
                      "APPLICANT_OIDC_ISSUER": f"http://127.0.0.1:{port}",
                      "APPLICANT_OIDC_CLIENT_ID": "hall", "APPLICANT_OIDC_TIMEOUT": 2},
                     instance_path=tmp_path / "instance")
    try:
        client = app.test_client()
        answer = client.get("/applicant/signin", query_string={"lang": "en"})
        assert answer.status_code == 502
        assert "cannot be reached right now" in answer.text
        assert_not_signed_in(client)
        # Applying without signing in still works.
        assert client.get(f"{start_newborn(client)}/form").status_code == 200
    finally:
        app.extensions["onething.engine"].dispose()


def test_metadata_endpoints_off_the_issuers_host_are_never_fetched(signin_app, idp):
    from onething.accounts.oidc import OIDCError, Provider

    checked = Provider(signin_app.config)
    with pytest.raises(OIDCError) as refused:
        checked._endpoint({"token_endpoint": "http://169.254.169.254/latest"}, "token_endpoint")
    assert refused.value.reason == "invalid_response"


def test_staff_and_applicant_sessions_never_mix(signin_app):
    from onething.accounts.service import create_account
    from onething.storage.models import AccountCreate

    with Session(signin_app.extensions["onething.engine"]) as db:
        create_account(db, AccountCreate(username="desk1", display_name="窗口", role="front_desk",
                                         password="a-long-password"))
    client = signin_app.test_client()
    sign_in(client)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "desk1", "password": "a-long-password",
                                "csrf_token": token})
    with client.session_transaction() as kept:
        assert "account_id" in kept and "applicant" not in kept
    sign_in(client)
    with client.session_transaction() as kept:
        assert "applicant" in kept and "account_id" not in kept


def test_a_sign_in_over_someone_elses_session_ends_it_and_keeps_nothing_of_theirs(
        signin_app, idp):
    from onething.accounts.service import create_account
    from onething.storage.models import AccountCreate

    with Session(signin_app.extensions["onething.engine"]) as db:
        for username in ("desk1", "desk2"):
            create_account(db, AccountCreate(username=username, display_name="窗口",
                                             role="front_desk", password="a-long-password"))
    name = signin_app.config["SESSION_COOKIE_NAME"]

    def clerk_signs_in(browser, username):
        token = re.search(r'name="csrf_token" value="([^"]+)"',
                          browser.get("/login").text).group(1)
        assert browser.post("/login", data={"username": username, "password": "a-long-password",
                                            "csrf_token": token}).status_code == 302

    def copy_of(browser):
        copy = signin_app.test_client()
        copy.set_cookie(name, browser.get_cookie(name).value)
        return copy

    # A shared desk computer: the next clerk signs in without the first signing out.
    desk = signin_app.test_client()
    clerk_signs_in(desk, "desk1")
    filed = start_newborn(desk)
    first_clerk = copy_of(desk)
    assert first_clerk.get("/desk/").status_code == 200
    clerk_signs_in(desk, "desk2")
    assert desk.get(f"{filed}/form").status_code == 404
    assert first_clerk.get("/desk/").headers["Location"].startswith("/login")

    # Then an applicant, on the same computer: none of the desk's cases, its session ended.
    filed = start_newborn(desk)
    second_clerk = copy_of(desk)
    sign_in(desk)
    assert desk.get(f"{filed}/form").status_code == 404
    assert second_clerk.get("/desk/").headers["Location"].startswith("/login")

    # A lent phone: another person signs in over the first one's session.
    phone = signin_app.test_client()
    sign_in(phone)
    hers = start_newborn(phone)
    her_copy = copy_of(phone)
    assert her_copy.get("/applicant/cases").status_code == 200
    idp.provider.person = {**PERSON, "sub": "person-0002", "name": "李四"}
    sign_in(phone)
    assert phone.get(f"{hers}/form").status_code == 404
    assert hers.removeprefix("/d/") not in phone.get("/applicant/cases").text
    assert her_copy.get("/applicant/cases").status_code == 302

    # The same person signing in again keeps what this browser holds, and her other
    # sessions go on.
    his = start_newborn(phone)
    his_copy = copy_of(phone)
    sign_in(phone)
    assert phone.get(f"{his}/form").status_code == 200
    assert his_copy.get("/applicant/cases").status_code == 200


@pytest.mark.parametrize(("claimed", "kept"), [
    ("+86 138-0013-8000", "13800138000"), ("008613800138000", "13800138000"),
    ("13800138000", "13800138000"), ("", None), (None, None)])
def test_a_claimed_phone_number_is_kept_as_the_form_takes_it(claimed, kept):
    from onething.accounts.oidc import mobile_number

    assert mobile_number(claimed) == kept


def test_a_case_submitted_on_another_device_is_in_my_cases_with_its_receipt(signin_app, idp):
    from test_web import fill, start, submit, upload_everything

    phone = signin_app.test_client()
    sign_in(phone)
    draft = start(phone)
    fill(phone, draft)
    upload_everything(phone, draft)

    laptop = signin_app.test_client()
    sign_in(laptop)
    # Submitted from the laptop, which never held the draft's token.
    receipt = submit(laptop, draft)
    tracking = receipt.rsplit("/", 1)[1]
    assert laptop.get(receipt).status_code == 200
    mine = phone.get("/applicant/cases").text
    assert tracking in mine and f'href="/s/{tracking}"' in mine
    assert phone.get(f"/s/{tracking}").status_code == 200
    # A stranger, signed in or not, gets nothing.
    stranger = signin_app.test_client()
    assert stranger.get(f"/s/{tracking}").status_code == 404
    assert stranger.get(f"{draft}/review").status_code == 404
    idp.provider.person = {**PERSON, "sub": "person-0002", "name": "李四"}
    sign_in(stranger)
    assert stranger.get(f"/s/{tracking}").status_code == 404
    assert stranger.get(f"{draft}/review").status_code == 404
    assert tracking not in stranger.get("/applicant/cases").text


def test_a_signed_in_applicants_posts_need_the_pages_token(signin_app):
    client = signin_app.test_client()
    sign_in(client)
    draft = start_newborn(client)
    # Another site's form riding the applicant's session: refused, nothing saved.
    ridden = FlaskClient.open(client, f"{draft}/form", method="POST",
                              data={"child_name": "冒名"})
    assert ridden.status_code == 400
    with Session(signin_app.extensions["onething.engine"]) as db:
        assert "child_name" not in (db.exec(select(Draft)).one().data or {})
    assert FlaskClient.open(client, "/applicant/signout", method="POST").status_code == 400
