"""好差评: rating a decided matter and an ended case, bad ratings followed up to closing,
the front desk's ratings given in person, the API, and bad input refused changing nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlmodel import Session, func, select

from onething.cases import holidays
from onething.catalog.workdays import CHINA_TZ, add_working_days
from onething.storage.models import (
    AuditEntry,
    OutboxEvent,
    Rating,
    RatingChange,
    Rectification,
    Submission,
)
from test_admin import add_account
from test_api import auth, token_for
from test_corrections import approve, listen, tracking_number
from test_decisions import post_decision, tasks_by_matter
from test_front_desk import clerk_browser, file_a_case
from test_inbox import routed, staff  # noqa: F401  (fixture and helper)
from test_lifecycle import console

SCRIPT = "<script>alert('差评')</script>"


def engine_of(app):
    return app.extensions["onething.engine"]


def rate(client, app, target: str, level, **extra):
    """Post a rating on the case's status page as the browser that holds its token."""
    return client.post(f"/s/{tracking_number(app)}/ratings",
                       data={"target": target, "level": level, **extra})


def counts(app) -> tuple[int, int, int, int]:
    with Session(engine_of(app)) as session:
        return tuple(session.exec(select(func.count()).select_from(model)).one()
                     for model in (Rating, RatingChange, Rectification, AuditEntry))


def fire_task(app):
    return tasks_by_matter(app)["fire-safety-check"]


def test_a_decided_matter_is_rated_changed_and_every_version_kept(app, client, routed):  # noqa: F811
    listen(app)
    status = client.get(f"/s/{tracking_number(app)}").text
    # Nothing is decided yet: nothing to rate.
    assert 'id="ratings"' in status and 'class="rating-form"' not in status
    task = fire_task(app)
    approve(staff(app, "sn-fire"), task, "消检-001")
    status = client.get(f"/s/{tracking_number(app)}").text
    assert f'id="rating-task-{task.id}"' in status
    # Only the decided matter offers a form; the five levels are one radio group.
    assert status.count('class="rating-form"') == 1
    assert len(re.findall(r'type="radio" name="level" value="[1-5]"', status)) == 5
    given = rate(client, app, f"task:{task.id}", 4, tags=["attitude", "efficiency"],
                 comment="窗口很耐心")
    assert given.status_code == 303 and given.headers["Location"].endswith("#ratings")
    changed = rate(client, app, f"task:{task.id}", 5, comment="改为非常满意")
    assert changed.status_code == 303
    with Session(engine_of(app)) as session:
        rating = session.exec(select(Rating)).one()
        assert (rating.level, rating.tags, rating.comment) == (5, [], "改为非常满意")
        assert (rating.department_code, rating.matter_code, rating.bundle_code) == (
            "sn-fire", "fire-safety-check", "open-restaurant")
        assert rating.channel == "online" and rating.recorded_by is None
        history = session.exec(select(RatingChange).order_by(RatingChange.id)).all()
        assert [(h.level, h.comment) for h in history] == [(4, "窗口很耐心"), (5, "改为非常满意")]
        assert history[0].tags == ["attitude", "efficiency"]
        audit = session.exec(select(AuditEntry).where(
            AuditEntry.subject == f"rating:{rating.id}").order_by(AuditEntry.id)).all()
        assert [a.action for a in audit] == ["rate", "rate_change"]
        assert audit[1].before["level"] == 4 and audit[1].after["level"] == 5
        events = session.exec(select(OutboxEvent).where(
            OutboxEvent.event.startswith("rating."))).all()
        # A good rating opens nothing to follow up.
        assert not session.exec(select(Rectification)).all()
    assert [(e.event, e.department_code, e.payload["level"]) for e in events] == [
        ("rating.created", "sn-fire", 4), ("rating.changed", "sn-fire", 5)]
    assert all("comment" not in e.payload for e in events)
    page = client.get(f"/s/{tracking_number(app)}").text
    assert "改为非常满意" in page and 'class="level-5"' in page
    # With htmx, the partial alone comes back with the rating as changed.
    swapped = rate(client, app, f"task:{task.id}", 3, comment="再改一次")
    assert swapped.status_code == 303
    partial = client.post(f"/s/{tracking_number(app)}/ratings", headers={"HX-Request": "true"},
                          data={"target": f"task:{task.id}", "level": "2"})
    assert partial.status_code == 200 and "<html" not in partial.text
    assert 'id="ratings"' in partial.text
    assert 'class="level-2"' in partial.text and f'id="rating-task-{task.id}"' in partial.text
    with Session(engine_of(app)) as session:
        # Four versions kept; the bad one opened a rectification for the fire brigade.
        assert session.exec(select(func.count()).select_from(RatingChange)).one() == 4
        assert session.exec(select(Rectification.department_code)).all() == ["sn-fire"]


def test_a_bad_rating_is_verified_answered_called_back_and_closed(app, client, routed):  # noqa: F811
    listen(app)
    task = fire_task(app)
    fire = staff(app, "sn-fire")
    approve(fire, task, "消检-001")
    assert rate(client, app, f"task:{task.id}", 1, tags=["materials"],
                comment=SCRIPT).status_code == 303
    with Session(engine_of(app)) as session:
        row = session.exec(select(Rectification)).one()
        rating = session.exec(select(Rating)).one()
        opened_on = rating.created_at.astimezone(CHINA_TZ).date()
        assert row.due_date == add_working_days(opened_on, 5,
                                                holidays.overrides(session)).date
    assert (row.department_code, row.level, row.status) == ("sn-fire", 1, "open")
    # The applicant is told when to expect the answer; the comment is escaped.
    page = client.get(f"/s/{tracking_number(app)}").text
    assert row.due_date.isoformat() in page and SCRIPT not in page
    assert "&lt;script&gt;" in page
    # The department lists it and sees the comment, escaped; another department does not.
    listed = fire.get("/inbox/rectifications/").text
    assert f'data-rectification="{row.id}"' in listed
    shown = fire.get(f"/inbox/rectifications/{row.id}").text
    assert SCRIPT not in shown and "&lt;script&gt;" in shown
    assert staff(app, "sn-amr").get(f"/inbox/rectifications/{row.id}").status_code == 404
    assert f'data-rectification="{row.id}"' not in staff(app, "sn-amr").get(
        "/inbox/rectifications/").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', shown).group(1)
    url = f"/inbox/rectifications/{row.id}"
    # Closing before answering and calling back is refused, and changes nothing.
    early = fire.post(f"{url}/close", data={"csrf_token": csrf})
    assert early.status_code == 409 and 'id="rectification-refused"' in early.text
    assert fire.post(f"{url}/callback", data={"csrf_token": csrf, "result": "satisfied"}
                     ).status_code == 409
    missing = fire.post(f"{url}/reply", data={"csrf_token": csrf, "verified": "核实",
                                              "fix": "", "reply": "答复"})
    assert missing.status_code == 422 and "答复" in missing.text  # what was typed stays
    assert fire.post(f"{url}/reply", data={"verified": "x", "fix": "y", "reply": "z"}
                     ).status_code == 400  # no CSRF token
    reply = "经核实，材料要求已简化，<b>谢谢</b>"
    answered = fire.post(f"{url}/reply", data={"csrf_token": csrf, "verified": "窗口多要了复印件",
                                               "fix": "已培训窗口人员", "reply": reply})
    assert answered.status_code == 303
    page = client.get(f"/s/{tracking_number(app)}").text
    assert f'id="rectification-{row.id}"' in page and "&lt;b&gt;谢谢&lt;/b&gt;" in page
    assert fire.post(f"{url}/callback", data={"csrf_token": csrf, "result": "maybe"}
                     ).status_code == 422
    assert fire.post(f"{url}/callback", data={"csrf_token": csrf, "result": "satisfied",
                                              "note": "电话回访，满意"}).status_code == 303
    assert fire.post(f"{url}/close", data={"csrf_token": csrf}).status_code == 303
    again = fire.post(f"{url}/reply", data={"csrf_token": csrf, "verified": "a", "fix": "b",
                                            "reply": "c"})
    assert again.status_code == 409
    with Session(engine_of(app)) as session:
        row = session.get(Rectification, row.id)
        assert row.status == "closed" and row.reply == reply
        assert row.callback_result == "satisfied" and row.closed_by == "staff-sn-fire"
        actions = [a.action for a in session.exec(select(AuditEntry).where(
            AuditEntry.subject == f"rectification:{row.id}").order_by(AuditEntry.id))]
        events = [e.event for e in session.exec(select(OutboxEvent).where(
            OutboxEvent.department_code == "sn-fire").order_by(OutboxEvent.id))]
    assert actions == ["rectification_open", "rectification_reply", "rectification_callback",
                       "rectification_close"]
    assert events[-5:] == ["rating.created", "rectification.opened", "rectification.replied",
                           "rectification.called_back", "rectification.closed"]
    assert 'id="rectification-closed"' in fire.get(url).text
    # The audit viewer finds every step by the case's tracking number; comments escaped.
    console_browser, _ = console(app, app.test_client())
    audit = console_browser.get(f"/admin/audit?lang=en&case={tracking_number(app)}").text
    assert "Rated (好差评)" in audit and "Rectification closed" in audit
    assert SCRIPT not in audit


def test_an_overdue_rectification_is_flagged_in_the_inbox(app, client, routed):  # noqa: F811
    task = fire_task(app)
    fire = staff(app, "sn-fire")
    approve(fire, task, "消检-001")
    rate(client, app, f"task:{task.id}", 2)
    assert 'id="rectifications-overdue"' not in fire.get("/inbox/").text
    with Session(engine_of(app)) as session:
        row = session.exec(select(Rectification)).one()
        row.due_date = dt.date(2020, 1, 6)
        session.add(row)
        session.commit()
        row_id = row.id
    inbox = fire.get("/inbox/").text
    assert 'id="rectifications-overdue"' in inbox
    overdue = fire.get("/inbox/rectifications/?show=overdue").text
    assert f'data-rectification="{row_id}"' in overdue and 'class="overdue"' in overdue
    assert 'id="rectifications-overdue"' not in staff(app, "sn-amr").get("/inbox/").text


def test_a_rating_of_the_whole_case_goes_to_its_lead_department(app, client, routed):  # noqa: F811
    tasks = tasks_by_matter(app)
    # Not yet ended: the case cannot be rated as a whole.
    early = rate(client, app, "case", 3)
    assert early.status_code == 409 and 'id="rating-refused"' in early.text
    post_decision(staff(app, "sn-amr"), tasks["business-registration"].id, action="reject",
                  reason="名称重复")
    post_decision(staff(app, "sn-fire"), tasks["fire-safety-check"].id, action="close",
                  reason="案件无法办结")
    post_decision(staff(app, "sn-urban-mgmt"), tasks["outdoor-signboard"].id, action="close",
                  reason="案件无法办结")
    with Session(engine_of(app)) as session:
        submission = session.exec(select(Submission)).one()
    assert submission.status == "rejected"
    status = client.get(f"/s/{tracking_number(app)}").text
    assert 'id="rating-case"' in status
    # The stopped matters (never worked on) are not offered.
    stopped = tasks["food-business-licence"].id
    assert f'id="rating-task-{stopped}"' not in status
    assert rate(client, app, f"task:{stopped}", 3).status_code == 409
    assert rate(client, app, "case", 2, comment="跑了两次").status_code == 303
    with Session(engine_of(app)) as session:
        rating = session.exec(select(Rating).where(Rating.target == "case")).one()
        row = session.exec(select(Rectification)).one()
    assert rating.department_code == submission.lead_department == "sn-approval"
    assert rating.matter_code is None and rating.bundle_code == "open-restaurant"
    assert row.department_code == "sn-approval"
    add_account(app, "staff-sn-approval", "department_staff", "sn-approval")
    lead = staff(app, "sn-approval")
    assert f'data-rectification="{row.id}"' in lead.get("/inbox/rectifications/").text


BAD = [
    ("level", {"level": "0"}, 422),
    ("level", {"level": "6"}, 422),
    ("level", {"level": "五"}, 422),
    ("level", {"level": ""}, 422),
    ("tags", {"level": "3", "tags": ["price"]}, 422),
    ("comment", {"level": "3", "comment": "长" * 501}, 422),
]


@pytest.mark.parametrize(("code", "data", "status"), BAD, ids=[
    "level0", "level6", "level-text", "level-missing", "tag", "comment"])
def test_bad_input_is_refused_with_its_reason_and_changes_nothing(app, client, routed, code,  # noqa: F811
                                                                  data, status):
    task = fire_task(app)
    approve(staff(app, "sn-fire"), task, "消检-001")
    before = counts(app)
    refused = client.post(f"/s/{tracking_number(app)}/ratings?lang=en",
                          data={"target": f"task:{task.id}", **data})
    assert refused.status_code == status
    assert 'id="rating-refused"' in refused.text and "<html" in refused.text
    assert {"level": "five levels", "tags": "tags from the list",
            "comment": "500 characters"}[code] in refused.text
    # What was typed is still there.
    if "comment" in data:
        assert data["comment"] in refused.text
    # With htmx, only the partial comes back, with the same reason.
    partial = client.post(f"/s/{tracking_number(app)}/ratings?lang=en",
                          data={"target": f"task:{task.id}", **data},
                          headers={"HX-Request": "true"})
    assert partial.status_code == status and "<html" not in partial.text
    assert 'id="rating-refused"' in partial.text
    assert counts(app) == before


def test_a_rating_of_someone_elses_case_or_an_undecided_task_is_refused(app, client, routed):  # noqa: F811
    task = fire_task(app)
    approve(staff(app, "sn-fire"), task, "消检-001")
    before = counts(app)
    number = tracking_number(app)
    stranger = app.test_client()
    assert stranger.post(f"/s/{number}/ratings", data={"target": f"task:{task.id}",
                                                      "level": "1"}).status_code == 404
    assert stranger.post(f"/s/{number}/ratings?token=wrong",
                         data={"target": f"task:{task.id}", "level": "1"}).status_code == 404
    for target in ("task:999999", "task:99999999999", "task:x", "", "case:1"):
        assert rate(client, app, target, 3).status_code == 404, target
    undecided = tasks_by_matter(app)["outdoor-signboard"]
    refused = client.post(f"/s/{number}/ratings?lang=en",
                          data={"target": f"task:{undecided.id}", "level": "3"})
    assert refused.status_code == 409 and "once its department has decided" in refused.text
    assert counts(app) == before


def test_a_rating_is_changed_within_7_days_and_not_after(app, client, routed):  # noqa: F811
    task = fire_task(app)
    approve(staff(app, "sn-fire"), task, "消检-001")
    assert rate(client, app, f"task:{task.id}", 4).status_code == 303
    with Session(engine_of(app)) as session:
        rating = session.exec(select(Rating)).one()
        rating.created_at -= dt.timedelta(days=8)
        session.add(rating)
        session.commit()
    before = counts(app)
    late = client.post(f"/s/{tracking_number(app)}/ratings?lang=en",
                       data={"target": f"task:{task.id}", "level": "1"})
    assert late.status_code == 409 and "within 7 days" in late.text
    assert counts(app) == before
    with Session(engine_of(app)) as session:
        assert session.exec(select(Rating)).one().level == 4
    page = client.get(f"/s/{tracking_number(app)}?lang=en").text
    assert "can no longer be changed" in page


def test_the_front_desk_records_a_rating_given_in_person(app):
    add_account(app, "desk", "front_desk")
    add_account(app, "staff-sn-fire", "department_staff", "sn-fire")
    browser, csrf = clerk_browser(app)
    file_a_case(browser, csrf)
    task = tasks_by_matter(app)["fire-safety-check"]
    approve(staff(app, "sn-fire"), task, "消检-001")
    number = tracking_number(app)
    page = browser.get(f"/s/{number}").text
    assert 'id="rating-clerk"' in page and f'id="rating-task-{task.id}"' in page
    # A clerk's post needs the page's CSRF token.
    assert browser.post(f"/s/{number}/ratings", data={"target": f"task:{task.id}",
                                                      "level": "5"}).status_code == 400
    done = browser.post(f"/s/{number}/ratings", data={"target": f"task:{task.id}",
                                                      "level": "5", "csrf_token": csrf})
    assert done.status_code == 303
    with Session(engine_of(app)) as session:
        rating = session.exec(select(Rating)).one()
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "rate")).one()
    assert (rating.channel, rating.recorded_by, audit.actor) == ("window", "desk", "desk")


def test_departments_read_their_ratings_and_rectifications_through_the_api(
        app, client, routed):  # noqa: F811
    task = fire_task(app)
    approve(staff(app, "sn-fire"), task, "消检-001")
    rate(client, app, f"task:{task.id}", 1, comment=SCRIPT)
    fire, amr = auth(token_for(app, "sn-fire")), auth(token_for(app, "sn-amr"))
    listed = client.get("/api/v1/ratings", headers=fire).get_json()
    assert [(r["level"], r["matter"], r["comment"]) for r in listed["ratings"]] == [
        (1, "fire-safety-check", SCRIPT)]
    assert listed["has_more"] is False
    rows = client.get("/api/v1/rectifications?status=open", headers=fire).get_json()
    assert [r["status"] for r in rows["rectifications"]] == ["open"]
    assert client.get("/api/v1/rectifications?status=closed", headers=fire).get_json()[
        "rectifications"] == []
    assert client.get("/api/v1/ratings", headers=amr).get_json()["ratings"] == []
    following = client.get(f"/api/v1/ratings?after={listed['next_after']}", headers=fire)
    assert following.get_json()["ratings"] == []
    assert client.get("/api/v1/ratings").status_code == 401
    for query in ("after=x", "limit=0", "page=2", "status=open"):
        refused = client.get(f"/api/v1/ratings?{query}", headers=fire)
        # Each names the parameter at fault, one it does not take too.
        assert refused.status_code == 422, query
        assert refused.get_json()["parameter"] == query.partition("=")[0]
    gone = client.get("/api/v1/rectifications?status=gone", headers=fire)
    assert gone.status_code == 422 and gone.get_json()["parameter"] == "status"
    document = client.get("/api/v1/openapi.json").get_json()
    assert {"/ratings", "/rectifications"} <= set(document["paths"])


def test_two_first_ratings_at_once_become_one_rating_with_both_versions(app, client, routed,  # noqa: F811
                                                                        monkeypatch):
    from onething.cases import ratings

    task = fire_task(app)
    approve(staff(app, "sn-fire"), task, "消检-001")
    real, raced = ratings._save, []

    def racing(session, submission, target, *rest):
        # Another first rating commits between this one's look and its insert.
        if not raced:
            raced.append(target)
            with Session(engine_of(app)) as other:
                ratings.rate(other, other.get(Submission, submission.id), target, 5)
        return real(session, submission, target, *rest)

    monkeypatch.setattr(ratings, "_save", racing)
    assert rate(client, app, f"task:{task.id}", 1).status_code == 303
    with Session(engine_of(app)) as session:
        rating = session.exec(select(Rating)).one()
        levels = [c.level for c in session.exec(select(RatingChange).order_by(RatingChange.id))]
    assert rating.level == 1 and levels == [5, 1]


def test_the_rectification_deadline_is_a_setting(app, client, routed):  # noqa: F811
    app.config["RECTIFICATION_DAYS"] = 15  # some provinces give 15 working days
    task = fire_task(app)
    approve(staff(app, "sn-fire"), task, "消检-001")
    rate(client, app, f"task:{task.id}", 2)
    with Session(engine_of(app)) as session:
        row = session.exec(select(Rectification)).one()
        opened_on = row.opened_at.astimezone(CHINA_TZ).date()
        assert row.due_date == add_working_days(opened_on, 15,
                                                holidays.overrides(session)).date
