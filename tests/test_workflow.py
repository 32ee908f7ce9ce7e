"""Drafts to submissions to routed tasks, on SQLite and PostgreSQL: the open-restaurant bundle."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import re
import threading

import chinese_calendar
import pytest
from sqlmodel import func, select

from onething.cases import workflow
from onething.cases.workflow import (
    IdempotencyKeyReused,
    SubmissionRefused,
    create_draft,
    find_draft,
    find_submission,
    read_draft,
    save_draft,
    submit,
    tasks_of,
)
from onething.composer.compose import compose
from onething.publishing.check import load_catalog
from onething.publishing.versions import bundle_of, publish_catalog
from onething.storage.db import session_for
from onething.storage.models import AuditEntry, Draft, StoredFile, Submission, Task

from conftest import CALENDAR_GAMMA, apply_edits

# A Monday just before the National Day holiday (1–7 October 2026).
TODAY = dt.date(2026, 9, 28)

ANSWERS = {
    "has_business_licence": False,
    "public_gathering_place": True,
    "fire_route": "commitment",
    "outdoor_signboard": True,
    "sells_tobacco": True,
}


def restaurant_data() -> dict:
    """Valid field values for every matter of open-restaurant with ANSWERS."""
    return {
        "entity_name": "青岛海风餐饮有限公司",
        "entity_type": "limited_company",
        "registered_capital": 50,
        "business_scope": "餐饮服务；食品销售",
        "legal_representative": {
            "name": "张海风", "id_number": "11010519491231002X", "mobile": "13800138000",
        },
        # A limited company lists its shareholders (business registration's rule).
        "shareholders": [{"name": "张海风", "id_number": "11010519491231002X",
                          "contribution": 50}],
        "premises_address": {"division_code": "370202", "detail": "香港中路10号1层101室"},
        "employee_count": 8,
        "contact_name": "李小青",
        "contact_mobile": "13900139000",
        "entity_uscc": "91350100M000100Y43",
        "premises_area": 120.5,
        "matters": {
            "business-registration": {"shareholder_count": 2, "operating_term": "long_term"},
            "food-business-licence": {
                "main_business_format": "catering_operator",
                "food_business_items": ["hot_food", "cold_food"],
                "food_safety_manager_name": "王食安",
                "food_safety_manager_mobile": "13700137000",
                "online_sales": True,
            },
            "fire-safety-check": {
                "place_type": "restaurant", "floors_used": "地上第1层", "max_occupancy": 60,
            },
            "outdoor-signboard": {
                "signboard_text": "海风小馆", "signboard_width_m": 6, "signboard_height_m": 1.2,
                "signboard_position": "storefront", "lighting": True,
            },
            "tobacco-retail-licence": {
                "retail_format": "restaurant", "business_hours": "10:00—22:00",
                "distance_to_nearest_school_m": 350, "is_chain_store": False,
            },
        },
    }


def upload(session, material_id: str) -> dict:
    """Store a fake file for a material; return the draft's entry for it."""
    content = f"scan of {material_id}".encode()
    sha256 = hashlib.sha256(content).hexdigest()
    if session.get(StoredFile, sha256) is None:
        session.add(StoredFile(sha256=sha256, size=len(content), content_type="application/pdf"))
        session.commit()
    return {"state": "uploaded", "file": sha256, "filename": f"{material_id}.pdf",
            "size": len(content), "content_type": "application/pdf"}


def complete_materials(session, composition) -> dict:
    """Every material the applicant hands over; the deferrable one deferred (容缺)."""
    materials = {}
    for material in composition.materials:
        if not material.upload and not material.licence_code:
            continue  # shared data the registry is not asked for
        if material.necessity == "deferrable":
            materials[material.id] = {"state": "deferred"}
        else:
            materials[material.id] = upload(session, material.id)
    return materials


@pytest.fixture
def version(published):
    """Version 1 of open-restaurant."""
    return published["open-restaurant"]


@pytest.fixture
def composition(version):
    """open-restaurant composed for ANSWERS: all five matters apply."""
    return compose(bundle_of(version), ANSWERS)


@pytest.fixture
def drafted(session, version, composition):
    """A complete, valid draft of open-restaurant, every matter applying, and its token."""
    draft, token = create_draft(session, version)
    save_draft(session, draft, answers=ANSWERS, data=restaurant_data(),
               materials=complete_materials(session, composition))
    return draft, token


@pytest.fixture
def draft(drafted):
    """The complete draft."""
    return drafted[0]


@pytest.fixture
def token(drafted):
    """The complete draft's resume token."""
    return drafted[1]


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def working_days_after(start: dt.date, days: int) -> dt.date:
    day, counted = start, 0
    while counted < days:
        day += dt.timedelta(days=1)
        counted += chinese_calendar.is_workday(day)
    return day


# --- a valid submission -----------------------------------------------------------------------


def test_submit_creates_one_submission_and_one_task_per_step(session, draft, composition):
    submission = submit(session, draft, "key-1", today=TODAY)

    assert re.fullmatch(r"OT20260928-[0-9A-HJKMNP-TV-Z]{6}", submission.tracking_number)
    assert submission.status == "routed"
    assert submission.draft_id == draft.id
    assert submission.answers == ANSWERS
    assert submission.data == {"answers": ANSWERS, **restaurant_data()}
    assert draft.submitted_at is not None
    tasks = tasks_of(session, submission)
    steps = composition.plan.steps
    assert [(t.department_code, t.matter_code) for t in tasks] == [
        (s.department, s.matter) for s in steps
    ]
    assert count(session, Submission) == 1
    assert count(session, Task) == len(steps) == 5


def test_two_matters_of_one_department_are_two_tasks(session, draft):
    tasks = tasks_of(session, submit(session, draft, "key-1", today=TODAY))
    amr = [t.matter_code for t in tasks if t.department_code == "sn-amr"]
    assert amr == ["business-registration", "food-business-licence"]


def test_each_task_holds_exactly_its_steps_slice(engine, session, draft, composition):
    submission = submit(session, draft, "key-1", today=TODAY)
    with session_for(engine) as other:  # as stored, not as built
        stored = other.get(Submission, submission.id)
        tasks = {t.matter_code: t for t in tasks_of(other, stored)}
    data = stored.data
    for step in composition.plan.steps:
        task = tasks[step.matter]
        assert task.slice_data == step.slice.project(data)
        assert task.promised_days == step.promised_days
        assert [m["id"] for m in task.slice_materials] == step.slice.materials
        namespaces = set(task.slice_data.get("matters", {}))
        assert namespaces <= {step.matter}


def _leaves(data: dict, prefix: str = "") -> dict[str, object]:
    # Field path -> value, one level into the matters namespaces.
    leaves = {}
    for key, value in data.items():
        if key == "matters":
            for matter, fields in value.items():
                leaves.update({f"matters.{matter}.{k}": v for k, v in fields.items()})
        elif key != "answers":
            leaves[key] = value
    return leaves


def _strings(value) -> list[str]:
    # Every string inside a value (a group's parts, a list's items), distinct per value.
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return list(dict.fromkeys(text for item in value for text in _strings(item)))
    return []


def test_no_task_holds_a_value_of_a_field_outside_its_slice(session, draft, composition):
    submission = submit(session, draft, "key-1", today=TODAY)
    tasks = tasks_of(session, submission)
    everything = _leaves(submission.data)
    # A string that only one field holds gives that field away wherever it shows up.
    strings = [text for value in everything.values() for text in _strings(value)]
    telling = {text for text in strings if strings.count(text) == 1}
    for task in tasks:
        own = set(composition.plan.step(task.matter_code).slice.fields)
        text = json.dumps(task.slice_data, ensure_ascii=False)
        for path, value in everything.items():
            if path in own:
                continue
            key = path.rsplit(".", 1)[-1]
            # The key with its value: a shared "true" or "restaurant" is not a leak by itself.
            assert f'"{key}": {json.dumps(value, ensure_ascii=False)}' not in text, (
                f"{task.matter_code} got {path}"
            )
            for leaked in set(_strings(value)) & telling:
                assert leaked not in text, f"{task.matter_code} got the value of {path}"


def test_the_fire_department_sees_no_tobacco_or_personal_id(session, draft):
    tasks = {t.matter_code: t for t in tasks_of(session, submit(session, draft, "k", today=TODAY))}
    fire = json.dumps(tasks["fire-safety-check"].slice_data, ensure_ascii=False)
    assert "11010519491231002X" not in fire  # legal representative's ID: not a fire matter
    assert "10:00—22:00" not in fire
    assert "海风小馆" not in fire
    assert tasks["fire-safety-check"].department_code == "sn-fire"


def test_tasks_wait_for_the_steps_of_the_plan(session, draft, composition):
    tasks = tasks_of(session, submit(session, draft, "key-1", today=TODAY))
    for task in tasks:
        step = composition.plan.step(task.matter_code)
        assert task.waits_for == step.waits_for
        assert task.status == ("waiting" if step.waits_for else "pending")
    status = {t.matter_code: t.status for t in tasks}
    assert status == {
        "business-registration": "pending",
        "food-business-licence": "waiting",
        "fire-safety-check": "pending",
        "outdoor-signboard": "pending",
        "tobacco-retail-licence": "waiting",
    }


def test_due_dates_count_working_days_across_the_national_day_holiday(
    session, draft, composition
):
    tasks = tasks_of(session, submit(session, draft, "key-1", today=TODAY))
    for task in tasks:
        step = composition.plan.step(task.matter_code)
        assert task.due_date == working_days_after(TODAY, step.finish_day)
        assert chinese_calendar.is_workday(task.due_date)
        assert not task.due_estimated
    due = {t.matter_code: t.due_date for t in tasks}
    # 5 working days from Monday 28 September: 29, 30 September, then 8, 9, 10 October.
    assert due["business-registration"] == dt.date(2026, 9, 29)
    assert due["food-business-licence"] > dt.date(2026, 10, 7)


def test_a_calendar_day_matter_is_due_by_calendar_days(session, demo_root):
    # The food licence counted in calendar days (自然日): 5 days from when registration is due.
    apply_edits(demo_root, [{"file": "catalog/matters/food-business-licence.json",
                             "pointer": "/time_limit",
                             "value": {"legal_days": 10, "promised_days": 5,
                                       "counting": "calendar_days"}}])
    version = {v.bundle_code: v for v in publish_catalog(
        session, load_catalog(demo_root), "tester")}["open-restaurant"]
    composition = compose(bundle_of(version), ANSWERS)
    draft, _ = create_draft(session, version)
    save_draft(session, draft, answers=ANSWERS, data=restaurant_data(),
               materials=complete_materials(session, composition))

    tasks = {t.matter_code: t for t in tasks_of(session, submit(session, draft, "key-1",
                                                               today=TODAY))}

    assert tasks["business-registration"].due_date == dt.date(2026, 9, 29)
    # 29 September + 5 days is 4 October, in the National Day holiday (1–7 October):
    # the period ends on the next working day. Counted in working days it would be 10 October.
    food = tasks["food-business-licence"]
    assert (food.due_date, food.due_estimated, food.promised_days) == (
        dt.date(2026, 10, 8), False, 5)
    assert tasks["tobacco-retail-licence"].due_date == working_days_after(
        TODAY, composition.plan.step("tobacco-retail-licence").finish_day)


def test_steps_after_a_calendar_day_step_count_from_its_due_date(mini_root):
    apply_edits(mini_root, [*CALENDAR_GAMMA, {"file": "catalog/bundles/mini-bundle.json",
                                              "pointer": "/after",
                                              "value": {"gamma": ["alpha"], "beta": ["gamma"]}}])
    plan = compose(load_catalog(mini_root).bundles["mini-bundle"], {"wants_sign": True}).plan
    due = workflow.step_due_dates(plan, dt.date(2025, 9, 19))  # a Friday
    # alpha, 2 working days: Monday 22 and Tuesday 23 September.
    assert due["alpha"].date == dt.date(2025, 9, 23)
    # gamma, 14 calendar days from then: 7 October is a holiday, 8 October too; 9 October.
    assert due["gamma"].date == dt.date(2025, 10, 9)
    # beta, 3 working days from then: 10, 11 (a Saturday made a working day) and 13 October.
    assert due["beta"].date == dt.date(2025, 10, 13)
    assert not any(d.estimated for d in due.values())


def test_materials_are_routed_with_their_step(session, draft, composition):
    submission = submit(session, draft, "key-1", today=TODAY)
    tasks = {t.matter_code: t for t in tasks_of(session, submission)}
    food = {m["id"]: m for m in tasks["food-business-licence"].slice_materials}
    # The registration of this same case issues it: 本次同步办理, not shared data.
    assert food["business-licence"] == {"id": "business-licence", "state": "in_case",
                                        "matter": "business-registration"}
    assert food["food-safety-manager-certificate"] == {
        "id": "food-safety-manager-certificate", "state": "deferred",
    }
    assert food["food-safety-rules"]["state"] == "uploaded"
    assert food["food-safety-rules"]["filename"] == "food-safety-rules.pdf"
    assert "signboard-design" not in food
    assert set(submission.materials) == {m.id for m in composition.materials}


def test_a_submission_is_found_with_the_drafts_token(engine, session, draft, token):
    submission = submit(session, draft, "key-1", today=TODAY)
    with session_for(engine) as other:
        found = find_submission(other, submission.tracking_number, token)
        assert found is not None and found.id == submission.id
        lower = find_submission(other, submission.tracking_number.lower(), token)
        assert lower is not None and lower.id == submission.id
        assert find_submission(other, submission.tracking_number, "wrong") is None
        assert find_submission(other, "OT20260928-000000", token) is None


# --- exactly one submission ---------------------------------------------------------------------


def test_a_double_submit_returns_the_same_submission(session, draft):
    first = submit(session, draft, "key-1", today=TODAY)
    again = submit(session, draft, "key-1", today=TODAY)
    other_key = submit(session, draft, "key-2", today=TODAY)
    assert again.id == other_key.id == first.id
    assert again.tracking_number == first.tracking_number
    assert count(session, Submission) == 1
    assert count(session, Task) == 5


def test_the_same_key_from_a_fresh_session_returns_the_same_submission(
    engine, session, draft, token
):
    first = submit(session, draft, "key-1", today=TODAY)
    with session_for(engine) as other:
        reloaded = find_draft(other, draft.public_id, token)
        assert submit(other, reloaded, "key-1", today=TODAY).id == first.id
    assert count(session, Task) == 5


def test_a_lost_race_returns_the_winners_submission(engine, session, draft, token):
    # The loser read the draft before the winner committed: only the unique constraint stops it.
    with session_for(engine) as loser_session:
        stale = read_draft(loser_session, draft.public_id, token)
        loser_session.rollback()
        winner = submit(session, draft, "key-1", today=TODAY)
        assert stale.submission_id is None
        result = submit(loser_session, stale, "key-2", today=TODAY)
        assert result.id == winner.id
    assert count(session, Submission) == 1
    assert count(session, Task) == 5


def test_concurrent_submits_make_one_submission(engine, session, draft, token):
    barrier = threading.Barrier(4)
    results, failures = [], []

    def click():
        try:
            with session_for(engine) as own:
                mine = find_draft(own, draft.public_id, token)
                barrier.wait()
                results.append(submit(own, mine, "key-1", today=TODAY).tracking_number)
        except Exception as error:  # reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(results) == 4 and len(set(results)) == 1
    assert count(session, Submission) == 1
    assert count(session, Task) == 5


def test_a_key_of_another_draft_is_refused(session, draft, version):
    submit(session, draft, "key-1", today=TODAY)
    other, _ = create_draft(session, version)
    with pytest.raises(IdempotencyKeyReused):
        submit(session, other, "key-1", today=TODAY)


# --- refusals ---------------------------------------------------------------------------------


def assert_nothing_written(session, draft):
    assert count(session, Submission) == 0
    assert count(session, Task) == 0
    session.refresh(draft)
    assert draft.submitted_at is None


def test_an_invalid_draft_is_refused_and_nothing_is_written(session, draft):
    data = restaurant_data()
    data["legal_representative"]["id_number"] = "110105194912310021"  # wrong check digit
    del data["matters"]["fire-safety-check"]["max_occupancy"]
    save_draft(session, draft, data=data)
    before = copy.deepcopy(draft.data)

    with pytest.raises(SubmissionRefused) as refused:
        submit(session, draft, "key-1", today=TODAY)

    errors = refused.value.field_errors
    assert set(errors) == {
        "legal_representative.id_number", "matters.fire-safety-check.max_occupancy",
    }
    assert errors["matters.fire-safety-check.max_occupancy"][0].matters == ("fire-safety-check",)
    assert refused.value.material_errors == {}
    assert_nothing_written(session, draft)
    assert draft.data == before


def test_a_clerks_draft_is_on_record_with_its_answers_in_one_commit(engine, session, version):
    draft, _ = create_draft(session, version, created_by="desk", answers=ANSWERS)
    with session_for(engine) as other:
        stored = other.get(Draft, draft.id)
        assert (stored.created_by, stored.answers) == ("desk", ANSWERS)
        entries = other.exec(select(AuditEntry)).all()
        assert [(e.actor, e.action, e.subject, e.after) for e in entries] == [
            ("desk", "start_for_applicant", f"draft:{draft.id}", {"bundle": "open-restaurant"})]


def test_an_applicants_own_draft_puts_nothing_on_record(session, version):
    create_draft(session, version)
    assert session.exec(select(AuditEntry)).all() == []


def test_a_clerks_submission_is_on_record_in_its_own_transaction(session, draft):
    submission = submit(session, draft, "key-1", today=TODAY, clerk="desk")
    entries = session.exec(select(AuditEntry)).all()
    assert [(e.actor, e.action, e.subject, e.after) for e in entries] == [
        ("desk", "submit_for_applicant", f"submission:{submission.id}",
         {"tracking_number": submission.tracking_number})]


def test_a_refused_clerks_submission_puts_nothing_on_record(session, draft):
    save_draft(session, draft, materials={"signboard-design": None})
    with pytest.raises(SubmissionRefused):
        submit(session, draft, "key-1", today=TODAY, clerk="desk")
    assert_nothing_written(session, draft)
    assert session.exec(select(AuditEntry)).all() == []


def test_a_missing_required_material_is_refused(session, draft):
    save_draft(session, draft, materials={"signboard-design": None})
    with pytest.raises(SubmissionRefused) as refused:
        submit(session, draft, "key-1", today=TODAY)
    assert refused.value.material_errors == {"signboard-design": "missing"}
    assert refused.value.field_errors == {}
    assert_nothing_written(session, draft)


@pytest.mark.parametrize(("material", "entry", "reason"), [
    ("signboard-design", {"state": "deferred"}, "not_deferrable"),
    ("signboard-design", {"state": "commitment"}, "no_commitment"),
    ("signboard-design", {"state": "lost"}, "invalid_state"),
    ("signboard-design", {"state": "uploaded"}, "missing"),
    ("signboard-design", {"state": "uploaded", "file": "f" * 64}, "unknown_file"),
])
def test_a_material_in_a_state_it_does_not_allow_is_refused(session, draft, material, entry,
                                                            reason):
    save_draft(session, draft, materials={material: entry})
    with pytest.raises(SubmissionRefused) as refused:
        submit(session, draft, "key-1", today=TODAY)
    assert refused.value.material_errors == {material: reason}
    assert_nothing_written(session, draft)


def test_a_deferrable_material_may_be_left_out(session, draft):
    save_draft(session, draft, materials={"food-safety-manager-certificate": None})
    submission = submit(session, draft, "key-1", today=TODAY)
    assert submission.materials["food-safety-manager-certificate"] == {"state": "deferred"}


def test_answers_that_contradict_the_questionnaire_are_refused(session, draft):
    save_draft(session, draft, answers={k: v for k, v in ANSWERS.items() if k != "fire_route"})
    with pytest.raises(SubmissionRefused) as refused:
        submit(session, draft, "key-1", today=TODAY)
    assert set(refused.value.answer_errors) == {"answers.fire_route"}
    assert_nothing_written(session, draft)


def test_a_failure_while_routing_writes_nothing(session, draft, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("calendar unavailable")

    monkeypatch.setattr(workflow, "due_date", broken)
    with pytest.raises(RuntimeError, match="calendar"):
        submit(session, draft, "key-1", today=TODAY)
    assert_nothing_written(session, draft)
    monkeypatch.undo()
    assert submit(session, draft, "key-1", today=TODAY).draft_id == draft.id


# --- what is stored ---------------------------------------------------------------------------


def test_fields_of_matters_that_do_not_apply_are_not_stored(session, version):
    answers = {**ANSWERS, "sells_tobacco": False, "outdoor_signboard": False}
    composition = compose(bundle_of(version), answers)
    draft, _ = create_draft(session, version)
    data = restaurant_data()
    data["premises_ownership"] = "leased"  # a library field no applicable matter asks for
    materials = complete_materials(session, compose(bundle_of(version), ANSWERS))
    save_draft(session, draft, answers=answers, data=data, materials=materials)

    submission = submit(session, draft, "key-1", today=TODAY)

    assert set(submission.data["matters"]) == {
        "business-registration", "food-business-licence", "fire-safety-check",
    }
    assert "premises_ownership" not in submission.data
    assert "tobacco-application" not in submission.materials
    assert "signboard-design" not in submission.materials
    stored = json.dumps(submission.data, ensure_ascii=False)
    assert "海风小馆" not in stored and "10:00—22:00" not in stored
    assert [t.matter_code for t in tasks_of(session, submission)] == [
        s.matter for s in composition.plan.steps
    ]
    # The draft itself keeps everything: the applicant may change the answers back.
    assert session.get(Draft, draft.id).data["matters"]["tobacco-retail-licence"]


def test_a_draft_is_submitted_on_the_version_it_was_started_on(
    session, draft, demo_root
):
    path = demo_root / "catalog" / "matters" / "food-business-licence.json"
    matter = json.loads(path.read_text(encoding="utf-8"))
    old_days = matter["time_limit"]["promised_days"]
    matter["time_limit"]["promised_days"] = old_days + 2
    path.write_text(json.dumps(matter, ensure_ascii=False), encoding="utf-8")
    assert publish_catalog(session, load_catalog(demo_root), "tester")

    tasks = tasks_of(session, submit(session, draft, "key-1", today=TODAY))

    food = next(t for t in tasks if t.matter_code == "food-business-licence")
    assert food.promised_days == old_days
