"""The front desk (一窗受理 / 帮办代办): who is signed in, the cases a clerk filed, reopening
them from another session, and upload refusals shown on the clerk's path too."""

from __future__ import annotations

import io
import re

from test_admin import PASSWORD, add_account, token_of
from test_web import ANSWERS, FORM, PDF

TRACKING = re.compile(r"OT\d{8}-[0-9A-Z]{6}")


def clerk_browser(app, username: str = "desk"):
    """A new browser session of a front-desk clerk; returns (browser, CSRF token)."""
    browser = app.test_client()
    response = browser.post("/login", data={"username": username, "password": PASSWORD,
                                            "csrf_token": token_of(browser.get("/login").text)})
    assert response.headers["Location"] == "/desk/"
    return browser, token_of(browser.get("/desk/").text)


def file_a_case(browser, csrf: str, submit: bool = True) -> str:
    started = browser.post("/b/open-restaurant", data={**ANSWERS, "csrf_token": csrf})
    draft = started.headers["Location"].removesuffix("/form")
    assert browser.post(f"{draft}/form", data={**FORM, "csrf_token": csrf}).status_code == 302
    if not submit:
        return draft
    for material_id in re.findall(r'/materials/([a-z0-9-]+)"',
                                  browser.get(f"{draft}/materials").text):
        browser.post(f"{draft}/materials/{material_id}",
                     data={"action": "upload", "file": (io.BytesIO(PDF), "a.pdf"),
                           "csrf_token": csrf}, content_type="multipart/form-data")
    review = browser.get(f"{draft}/review").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review).group(1)
    done = browser.post(f"{draft}/submit", data={"idempotency_key": key, "csrf_token": csrf})
    assert done.status_code == 302
    return draft


def test_every_signed_in_page_says_who_is_signed_in(app, client):
    add_account(app, "desk", "front_desk")
    assert "Signed in as" not in client.get("/?lang=en").text
    browser, _ = clerk_browser(app)
    for url in ("/?lang=en", "/b/open-restaurant?lang=en", "/desk/?lang=en"):
        page = browser.get(url).text
        assert "Signed in as desk" in page and 'href="/desk/"' in page
    add_account(app, "admin", "administrator")
    admin = app.test_client()
    admin.post("/login", data={"username": "admin", "password": PASSWORD,
                               "csrf_token": token_of(admin.get("/login").text)})
    page = admin.get("/admin/?lang=en").text
    assert "Signed in as admin" in page and 'href="/desk/"' not in page


def test_a_clerk_lists_the_cases_they_filed_and_reopens_them_from_a_new_session(app):
    add_account(app, "desk", "front_desk")
    add_account(app, "other", "front_desk")
    first, csrf = clerk_browser(app)
    submitted = file_a_case(first, csrf)
    draft = file_a_case(first, csrf, submit=False)
    mine, other_csrf = clerk_browser(app, "other")
    file_a_case(mine, other_csrf, submit=False)

    # A new session of the same clerk: no token in it, the list and both cases open.
    again, csrf = clerk_browser(app)
    listing = again.get("/desk/?lang=en").text
    rows = re.findall(r'<tr data-draft="([^"]+)">(.*?)</tr>', listing, re.S)
    assert [public_id for public_id, _ in rows] == [draft.rsplit("/", 1)[1],
                                                    submitted.rsplit("/", 1)[1]]
    assert "Draft, not submitted" in rows[0][1] and "Continue" in rows[0][1]
    number = TRACKING.search(rows[1][1]).group(0)
    assert "Submitted, with the departments" in rows[1][1]
    assert "Opening a restaurant" in rows[1][1] and "Open the receipt" in rows[1][1]
    receipt = again.get(f"/s/{number}?lang=en")
    assert receipt.status_code == 200 and number in receipt.text
    assert "qr.svg" not in receipt.text and "cannot be shown again" in receipt.text
    assert again.get(f"{draft}/form").status_code == 200
    partial = again.get("/desk/", headers={"HX-Request": "true"})
    assert "<html" not in partial.text and number in partial.text

    # Reopened and submitted: the receipt has a new QR code for the applicant.
    for material_id in re.findall(r'/materials/([a-z0-9-]+)"',
                                  again.get(f"{draft}/materials").text):
        again.post(f"{draft}/materials/{material_id}",
                   data={"action": "upload", "file": (io.BytesIO(PDF), "a.pdf"),
                         "csrf_token": csrf}, content_type="multipart/form-data")
    key = re.search(r'name="idempotency_key" value="([^"]+)"',
                    again.get(f"{draft}/review").text).group(1)
    done = again.post(f"{draft}/submit", data={"idempotency_key": key, "csrf_token": csrf})
    assert done.status_code == 302
    receipt = again.get(done.headers["Location"]).text
    qr = re.search(r'src="(/s/[^"]+/qr\.svg\?token=[^"]+)"', receipt)
    assert qr is not None
    token = qr.group(1).split("token=")[1]
    applicant = app.test_client()
    new_number = TRACKING.search(receipt).group(0)
    assert applicant.get(f"/s/{new_number}?token={token}").status_code == 200

    # Another clerk, an applicant or nobody: nothing opens.
    assert mine.get(f"/s/{number}").status_code == 404
    assert mine.get(f"{draft}/form").status_code == 404
    assert app.test_client().get(f"/s/{number}").status_code == 404
    assert app.test_client().get("/desk/").headers["Location"].startswith("/login")

    # Signed out, the desk's shared computer opens none of the cases it filed.
    unsubmitted = file_a_case(first, token_of(first.get("/desk/").text), submit=False)
    assert first.get(f"{unsubmitted}/form").status_code == 200
    assert first.post("/logout", data={"csrf_token": token_of(first.get("/desk/").text)}
                      ).status_code == 302
    assert first.get(f"{unsubmitted}/form").status_code == 404
    assert first.get(f"/s/{number}").status_code == 404


def test_the_desk_list_is_for_front_desk_clerks(app):
    add_account(app, "staff", "department_staff", "sn-amr")
    browser = app.test_client()
    browser.post("/login", data={"username": "staff", "password": PASSWORD,
                                 "csrf_token": token_of(browser.get("/login").text)})
    assert browser.get("/desk/").status_code == 403


def test_a_clerks_upload_refusal_is_shown_with_and_without_javascript(app):
    add_account(app, "desk", "front_desk")
    browser, csrf = clerk_browser(app)
    draft = file_a_case(browser, csrf, submit=False)
    target = f"{draft}/materials/premises-floor-plan?lang=en"
    cases = {
        "wrong_type": ((io.BytesIO(b"MZ\x90\x00 not a pdf"), "x.exe"), 422,
                       "Only PDF, JPEG and PNG files are accepted."),
        # Named as a PDF, not one inside: said so, not "only PDF…" to a file named .pdf.
        "renamed": ((io.BytesIO(b"PK\x03\x04 a Word file"), "plan.PDF"), 422,
                    "This file is named as a PDF, JPEG or PNG file but is not one inside (a "
                    "renamed document or photo, or a damaged file): save or scan it again as "
                    "PDF, JPEG or PNG."),
        "empty": ((io.BytesIO(b""), "scan.pdf"), 422,
                  "The file is empty (0 bytes): choose the file again, or another copy of it."),
        "too_large": ((io.BytesIO(PDF + b"0" * 200_000), "big.pdf"), 413,
                      "The file is larger than the 64\u00a0KB allowed: make it smaller (scan at a "
                      "lower resolution, or as PDF) and try again."),
    }
    for file, status, message in cases.values():
        for headers in ({}, {"HX-Request": "true", "X-CSRFToken": csrf}):
            body = {"action": "upload", "file": (io.BytesIO(file[0].getvalue()), file[1])}
            if not headers:
                body["csrf_token"] = csrf
            response = browser.post(target, data=body, headers=headers,
                                    content_type="multipart/form-data")
            assert response.status_code == status
            assert f'<p class="error" role="alert">{message}</p>' in response.text
            assert ("<html" in response.text) == (not headers)
    assert "Uploaded:" not in browser.get(f"{draft}/materials?lang=en").text


def test_a_clerks_stale_form_says_so_next_to_the_material(app):
    add_account(app, "desk", "front_desk")
    browser, csrf = clerk_browser(app)
    draft = file_a_case(browser, csrf, submit=False)
    # Signing in again (another tab) gives the session a new CSRF token: the open page's
    # is stale, and its upload is refused with a message where the upload was.
    browser.post("/login", data={"username": "desk", "password": PASSWORD,
                                 "csrf_token": token_of(browser.get("/login").text)})
    target = f"{draft}/materials/premises-floor-plan?lang=en"
    for headers in ({}, {"HX-Request": "true", "X-CSRFToken": csrf}):
        body = {"action": "upload", "file": (io.BytesIO(PDF), "plan.pdf")}
        if not headers:
            body["csrf_token"] = csrf
        response = browser.post(target, data=body, headers=headers,
                                content_type="multipart/form-data")
        assert response.status_code == 409
        assert "reload it and try again" in response.text
        assert ("<html" in response.text) == (not headers)
    assert "Uploaded:" not in browser.get(f"{draft}/materials?lang=en").text


def test_a_clerk_finds_a_case_by_the_applicants_name_or_its_tracking_number(app):
    add_account(app, "desk", "front_desk")
    browser, csrf = clerk_browser(app)
    submitted = file_a_case(browser, csrf)
    other = file_a_case(browser, csrf, submit=False)
    browser.post(f"{other}/form", data={**FORM, "entity_name": "青岛山海书店有限公司",
                                         "csrf_token": csrf})
    listing = browser.get("/desk/").text
    number = TRACKING.search(listing).group(0)
    # Each row names whom the case is for.
    assert FORM["entity_name"] in listing and "青岛山海书店有限公司" in listing

    def found(query: str) -> list[str]:
        page = browser.get("/desk/", query_string={"q": query},
                           headers={"HX-Request": "true"}).text
        return re.findall(r'<tr data-draft="([^"]+)">', page)

    assert found("山海书店") == [other.rsplit("/", 1)[1]]
    # A tracking number is found as people type one: lower case, no dash, spaces.
    assert found(f" {number.lower().replace('-', '')} ") == [submitted.rsplit("/", 1)[1]]
    # Or part of one: the six characters after the dash, as read off a receipt, or a part
    # starting with a digit (not taken for a whole number typed without its "OT").
    assert found(number[-6:].lower()) == [submitted.rsplit("/", 1)[1]]
    assert found(number[3:10]) == [submitted.rsplit("/", 1)[1]]
    # A name's part with the characters SQL's LIKE would read as wildcards finds nothing.
    assert found("%") == [] and found("_") == []
    empty = browser.get("/desk/?q=%E6%B2%A1%E6%9C%89%E8%BF%99%E4%B8%AA").text
    assert "您经办的办件中没有这个申请人或受理编号" in empty
    assert 'value="没有这个"' in empty
