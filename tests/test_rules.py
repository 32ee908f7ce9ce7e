"""Matter rules (issue 20): the JSON Logic evaluator, 智能预审 before submission, 秒批 at
routing, and 免申即享 offers with their signed links."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlmodel import Session, select

from onething.cases import benefits, instant
from onething.catalog.workdays import china_today
from onething.composer import logic
from onething.publishing.versions import bundle_of, latest_version
from onething.registry import service
from onething.storage.models import AuditEntry, BenefitOffer, Submission, Task
from test_admin import add_account
from test_applicant_signin import idp, signin_app  # noqa: F401 (fixtures)
from test_inbox import staff

TODAY = "2026-11-30"
KNOWN = {"fields": {"premises_area", "birth", "a", "b"}, "answers": {"q"}}


def rule(logic_, kind="blocking", rule_id="r"):
    return {"id": rule_id, "kind": kind, "logic": logic_,
            "explanation": {"zh-Hans": "说明", "zh-Hant": "說明", "en": "Why"}}


# --- the evaluator ---------------------------------------------------------------------------


@pytest.mark.parametrize(("born", "passed"), [("1946-11-30", True), ("1946-12-01", False),
                                              ("1920-02-29", True), (None, False)])
def test_age_counts_full_years_and_a_missing_date_fails(born, passed):
    adult = rule({">=": [{"age": [{"var": "holder.birth_date"}, {"var": "today"}]}, 80]})
    (outcome,) = logic.evaluate([adult], {"holder": {"birth_date": born}, "today": TODAY})
    assert outcome.passed is passed
    assert outcome.reads == ["holder.birth_date", "today"]


def test_a_missing_number_never_counts_as_zero():
    area = rule({"<=": [{"*": [{"var": "fields.a"}, {"var": "fields.b"}]}, 10]})
    assert not logic.evaluate([area], {"fields": {"a": None, "b": 3}})[0].passed
    assert logic.evaluate([area], {"fields": {"a": 2.5, "b": 3}})[0].passed
    assert not logic.evaluate([area], {"fields": {"a": 4, "b": 3}})[0].passed


def test_days_between_dates_and_string_consistency():
    month = rule({"<=": [{"days": [{"var": "fields.birth"}, {"var": "today"}]}, 31]})
    assert logic.evaluate([month], {"fields": {"birth": "2026-11-01"}, "today": TODAY})[0].passed
    assert not logic.evaluate([month], {"fields": {"birth": "2026-09-01"},
                                        "today": TODAY})[0].passed
    name = rule({"in": [{"var": "fields.a"}, {"var": "fields.b"}]})
    assert logic.evaluate([name], {"fields": {"a": "海韵", "b": "青岛海韵餐饮"}})[0].passed


@pytest.mark.parametrize(("logic_", "where", "message"), [
    ({"and": [True, {"now": []}]}, ("and", 1, "now"), "unknown operator 'now'"),
    ({"map": [[1], {"var": ""}]}, ("map",), "unknown operator 'map'"),
    ({"var": "fields.nope"}, ("var",), "no such form field"),
    ({"var": "answers.nope"}, ("var",), "no such scenario question"),
    ({"var": "licences.passport.in_force"}, ("var",), "no such licence type"),
    ({"var": "licences.business-licence.colour"}, ("var",), "a licence has"),
    ({"var": "holder.name"}, ("var",), "the holder has"),
    ({"var": "secrets"}, ("var",), "a rule reads"),
    ({"var": {"cat": ["fields.", "a"]}}, ("var",), "named by a string"),
    ({"<": [1]}, (), "takes at least 2 arguments"),
    ({"a": 1, "b": 2}, (), "exactly one operator"),
])
def test_the_check_refuses_with_where(logic_, where, message):
    found = logic.problems(logic_, KNOWN)
    assert any(at == where and message in text for at, text in found), found


def test_a_rule_is_bounded_in_depth_and_size():
    deep: dict = {"!": True}
    for _ in range(logic.MAX_DEPTH + 1):
        deep = {"!": deep}
    assert any("nested deeper" in text for _, text in logic.problems(deep, KNOWN))
    wide = {"and": [{"==": [{"var": "fields.a"}, n]} for n in range(logic.MAX_NODES)]}
    assert any("at most" in text for _, text in logic.problems(wide, KNOWN))


def test_a_variable_inside_some_is_the_items_own():
    shares = {"some": [{"var": "fields.a"}, {">": [{"var": "share"}, 50]}]}
    assert logic.problems(shares, KNOWN) == []
    assert logic.evaluate([rule(shares)], {"fields": {"a": [{"share": 60}]}})[0].passed


def test_the_demo_catalog_rules_all_check(demo_catalog):
    ruled = [m for m in demo_catalog.matters.values() if m.data.get("rules")]
    assert {"elderly-allowance", "business-licence-verification", "outdoor-signboard",
            "birth-household-registration"} <= {m.code for m in ruled}


# --- the web: pre-check, 秒批 -------------------------------------------------------------------


@pytest.fixture
def registry(app):
    with Session(app.extensions["onething.engine"]) as session:
        service.seed_demo(session, china_today())
    return app


def db(app) -> Session:
    return Session(app.extensions["onething.engine"])


def start(client, code: str) -> str:
    response = client.post(f"/b/{code}", data={})
    assert response.status_code == 302, response.text
    return response.headers["Location"].removesuffix("/form")


def submit(client, draft: str):
    review = client.get(f"{draft}/review").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review).group(1)
    return client.post(f"{draft}/submit", data={"idempotency_key": key})


def elderly(app, index: int) -> tuple[str, str]:
    name, code, *_ = service.demo_elderly(china_today())[index]
    return name, code


def test_a_blocking_rule_keeps_the_applicant_on_the_form_with_its_explanation(registry, client):
    draft = start(client, "elderly-allowance")
    young = service.DEMO_PERSON  # born 1985
    response = client.post(f"{draft}/form?lang=en", data={"applicant_name": "王海燕",
                                                          "applicant_id_number": young})
    assert response.status_code == 422
    assert 'data-rule="aged-80"' in response.text and 'data-kind="blocking"' in response.text
    assert "not yet 80" in response.text
    assert "#f-applicant_id_number-field" in response.text
    # Nothing was lost, and the review page says it again; submitting is refused.
    assert young in client.get(f"{draft}/form").text
    assert 'data-rule="aged-80"' in client.get(f"{draft}/review").text
    refused = submit(client, draft)
    assert refused.status_code == 422
    assert 'href="#rule-elderly-allowance-aged-80"' in refused.text
    with db(registry) as session:
        assert session.exec(select(Submission)).first() is None


def test_an_anonymous_applicant_learns_nothing_of_a_persons_household(registry, client):
    reviews = []
    for index in (0, 3):  # registered in Shinan; registered in Laoshan
        name, code = elderly(registry, index)
        draft = start(client, "elderly-allowance")
        response = client.post(f"{draft}/form", data={"applicant_name": name,
                                                      "applicant_id_number": code})
        assert response.status_code == 302  # nothing blocks: the age is in the number
        review = client.get(f"{draft}/review").text
        assert 'data-rule="household-in-shinan" data-kind="withheld"' in review
        assert "户籍登记" not in review
        reviews.append(review)
        assert submit(client, draft).status_code == 302
    with db(registry) as session:
        tasks = session.exec(select(Task)).all()
        # Typed by someone not signed in (trust D): the department decides both.
        assert [t.status for t in tasks] == ["pending", "pending"]


def test_an_advisory_rule_warns_on_the_review_page_and_lets_it_through(registry, client):
    draft = start(client, "outdoor-signboard")
    client.post(f"{draft}/form", data={
        "entity_name": "青岛海韵餐饮管理有限公司", "premises_address.division_code": "370202",
        "premises_address.detail": "香港中路10号", "contact_mobile": "13905321111",
        "matters.outdoor-signboard.signboard_text": "山海小馆",
        "matters.outdoor-signboard.signboard_width_m": "8",
        "matters.outdoor-signboard.signboard_height_m": "2",
        "matters.outdoor-signboard.signboard_position": "storefront",
        "matters.outdoor-signboard.lighting": "false"})
    review = client.get(f"{draft}/review?lang=en").text
    for rule_id in ("text-matches-name", "large-sign"):
        assert f'data-rule="{rule_id}" data-kind="advisory"' in review
    assert "Please check" in review and "10 m²" in review


def verification(client, uscc: str, *, prefill: bool = True, name: str = "") -> str:
    draft = start(client, "business-licence-verification")
    if prefill:
        client.post(f"{draft}/form", data={"entity_uscc": uscc, "_prefill": "registry"})
    data = {"entity_uscc": uscc, "legal_representative.id_number": service.DEMO_PERSON,
            "legal_representative.mobile": "13805320000"}
    if not prefill:
        data |= {"entity_name": name, "legal_representative.name": "王海燕"}
    response = client.post(f"{draft}/form", data=data)
    assert response.status_code == 302, response.text
    return draft


def the_task(app) -> Task:
    with db(app) as session:
        return session.exec(select(Task)).one()


def audit(app, task: Task, action: str) -> list[AuditEntry]:
    with db(app) as session:
        return list(session.exec(select(AuditEntry).where(
            AuditEntry.subject == f"task:{task.id}", AuditEntry.action == action)).all())


def test_instant_approval_at_submission_with_the_rules_and_data_audited(registry, client):
    draft = verification(client, service.DEMO_ENTERPRISE)
    assert submit(client, draft).status_code == 302
    task = the_task(registry)
    year = china_today().year
    assert task.status == "approved"
    assert task.certificate_number == f"核验{year}370202000001"
    (entry,) = audit(registry, task, "instant_approval")
    assert entry.actor == "system:instant"
    rules = {r["rule"]: r for r in entry.after["rules"]}
    assert set(rules) == {"licence-in-force", "name-matches", "representative-matches"}
    assert all(r["passed"] for r in rules.values())
    name = rules["name-matches"]["values"]
    assert name["fields.entity_name"]["trust"] == "A"
    assert name["fields.entity_name"]["source"].startswith("prefill:")
    licence = name["licences.business-licence.data.entity_name"]
    assert licence == {"value": "青岛海韵餐饮管理有限公司", "trust": "A",
                       "source": "registry:import:370202000123456"}
    # Accepted and approved by the system like any decision; the applicant sees it released.
    assert [e.action for e in audit(registry, task, "accept")] == ["accept"]
    # The department reads on its task page which rules passed on which values.
    add_account(registry, "staff-sn-amr", "department_staff", "sn-amr")
    page = staff(registry, "sn-amr").get(f"/inbox/tasks/{task.id}").text
    assert 'data-rule="name-matches" data-passed="true"' in page
    # Read as staff say it: the field checked, the licence and its item, where each value
    # came from and how far it is trusted, in the page's language, full-width in Chinese.
    rules_shown = page[page.index('class="audit-rules"'):]
    rules_shown = rules_shown[:rules_shown.index("</ul>")]
    assert "licences.business-licence" not in rules_shown and "registry:" not in rules_shown
    assert "营业执照 · 名称：青岛海韵餐饮管理有限公司（电子证照库（导入） 370202000123456，A级" in (
        rules_shown)
    assert "主体名称：合格" in rules_shown and "营业执照在有效期内：是" in rules_shown
    # A part of an object says whose it is.
    assert "法定代表人 · 姓名：合格" in rules_shown
    with db(registry) as session:
        assert session.get(Submission, task.submission_id).status == "approved"


def test_values_the_applicant_typed_route_the_task_normally(registry, client):
    draft = verification(client, service.DEMO_ENTERPRISE, prefill=False,
                         name="青岛海韵餐饮管理有限公司")
    assert submit(client, draft).status_code == 302
    task = the_task(registry)
    assert task.status == "pending" and task.certificate_number is None
    (entry,) = audit(registry, task, "instant_approval_declined")
    assert entry.after["reason"] == "not_trust_a"
    values = {name: v for r in entry.after["rules"] for name, v in r["values"].items()}
    assert values["fields.entity_name"]["trust"] == "D"
    # The department's log says why in words, not by the code.
    add_account(registry, "staff-sn-amr", "department_staff", "sn-amr")
    page = staff(registry, "sn-amr").get(f"/inbox/tasks/{task.id}").text
    assert "有数据来源的可信度不足（非 A 级）" in page and "not_trust_a" not in page


def test_a_material_still_owed_keeps_the_task_from_instant_approval(
        registry, client, monkeypatch):
    # 容缺: accepted without a material, never approved without it, by a person or the
    # platform; checked before accepting, so no certificate number is drawn for it.
    monkeypatch.setattr(instant, "owes_material", lambda task: True)
    draft = verification(client, service.DEMO_ENTERPRISE)
    assert submit(client, draft).status_code == 302
    task = the_task(registry)
    assert task.status == "pending" and task.certificate_number is None
    (entry,) = audit(registry, task, "instant_approval_declined")
    assert entry.after["reason"] == "material_owed"
    assert audit(registry, task, "accept") == []


def test_a_failing_rule_routes_the_task_normally(registry, client):
    # Its licence expired a month ago, so nothing is prefilled: the name is typed.
    from test_registry import upload_rest
    draft = verification(client, service.DEMO_EXPIRED, prefill=False, name="市南区老街小吃店")
    upload_rest(client, draft)  # the expired licence: uploaded instead (trust C)
    assert submit(client, draft).status_code == 302
    task = the_task(registry)
    assert task.status == "pending"
    (entry,) = audit(registry, task, "instant_approval_declined")
    assert entry.after["reason"] == "rule_failed"


def test_a_failure_of_instant_approval_leaves_the_case_submitted_and_routed(
        registry, client, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("the rules engine failed")

    monkeypatch.setattr(instant.case_rules, "all_trust_a", broken)
    draft = verification(client, service.DEMO_ENTERPRISE)
    response = submit(client, draft)
    assert response.status_code == 302 and "/s/OT" in response.headers["Location"]
    assert the_task(registry).status == "pending"


def test_a_department_turns_instant_approval_off_and_tasks_route_normally(registry, client):
    add_account(registry, "staff-sn-amr", "department_staff", "sn-amr")
    browser = staff(registry, "sn-amr")
    page = browser.get("/inbox/instant")
    assert 'id="instant-business-licence-verification" data-on="true"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    off = browser.post("/inbox/instant/business-licence-verification",
                       data={"on": "0", "csrf_token": token})
    assert 'data-on="false"' in off.text
    # Another department's matter is not theirs to switch.
    assert browser.post("/inbox/instant/elderly-allowance",
                        data={"on": "0", "csrf_token": token}).status_code == 404
    with db(registry) as session:
        (setting,) = session.exec(select(AuditEntry).where(
            AuditEntry.action == "instant_approval_setting")).all()
        assert setting.actor == "staff-sn-amr" and setting.after == {"instant_approval": False}
    draft = verification(client, service.DEMO_ENTERPRISE)
    assert submit(client, draft).status_code == 302
    task = the_task(registry)
    assert task.status == "pending"
    assert audit(registry, task, "instant_approval_off")


def test_registry_data_read_by_rules_reaches_only_the_deciding_department(registry, client):
    from test_registry import EXISTING, PREMISES, TYPED, upload_rest
    from test_registry import start as start_restaurant
    draft = start_restaurant(client, EXISTING)
    client.post(f"{draft}/form", data={"entity_uscc": service.DEMO_ENTERPRISE,
                                       "_prefill": "registry", **TYPED, **PREMISES})
    client.post(f"{draft}/form", data={"entity_uscc": service.DEMO_ENTERPRISE,
                                       **TYPED, **PREMISES})
    upload_rest(client, draft)
    assert submit(client, draft).status_code == 302
    with db(registry) as session:
        tasks = {t.matter_code: t for t in session.exec(select(Task)).all()}
        assert tasks["business-licence-verification"].status == "approved"
        entries = session.exec(select(AuditEntry).where(
            AuditEntry.actor == "system:instant")).all()
    # The rules' trace (registry values) is on the verification's own task only.
    subjects = {e.subject for e in entries if e.action == "instant_approval"}
    assert subjects == {f"task:{tasks['business-licence-verification'].id}"}
    for department in ("sn-fire", "sn-urban-mgmt", "sn-tobacco"):
        add_account(registry, f"staff-{department}", "department_staff", department)
        browser = staff(registry, department)
        for task in tasks.values():
            if task.department_code == department:
                text = browser.get(f"/inbox/tasks/{task.id}").text
                # Their slice has the business licence as a material (theirs to see), but
                # not the verification's rules and the values they read.
                assert "system:instant" not in text and "registry:import" not in text
                assert "representative-matches" not in text


# --- 免申即享 ------------------------------------------------------------------------------------


def allowance(app):
    with db(app) as session:
        version = latest_version(session, "elderly-allowance")
        return bundle_of(version).catalog.matters["elderly-allowance"]


def run_eligibility(app):
    with db(app) as session:
        created, eligible, examined = benefits.run(session, allowance(app), actor="test")
        return [o.holder_code for o in created], eligible, examined


def test_the_eligibility_run_offers_each_eligible_holder_once(registry):
    created, eligible, examined = run_eligibility(registry)
    people = service.demo_elderly(china_today())
    # 张秀英 and 刘福山; not the one of 79, the one in Laoshan, nor the one whose household
    # record is trust B.
    assert sorted(created) == sorted([people[0][1], people[1][1]])
    assert (eligible, examined) == (2, 5)
    again, eligible, _ = run_eligibility(registry)
    assert again == [] and eligible == 2
    with db(registry) as session:
        offers = session.exec(select(BenefitOffer)).all()
        assert len(offers) == 2
        evidence = {r["rule"]: r for r in offers[0].evidence}
        household = evidence["household-in-shinan"]["values"]
        assert household["licences.household-register.data.division_code"]["trust"] == "A"
        assert len(session.exec(select(AuditEntry).where(
            AuditEntry.action == "benefit_offered")).all()) == 2


def test_the_cli_prints_a_signed_link_per_new_offer(registry):
    from click.testing import CliRunner

    from onething.cli import main
    env = {"ONETHING_DATABASE_URL": registry.config["DATABASE_URL"],
           "ONETHING_INSTANCE_PATH": registry.instance_path}
    first = CliRunner().invoke(main, ["eligibility", "run", "elderly-allowance"], env=env)
    assert first.exit_code == 0, first.output
    links = re.findall(r"http://127.0.0.1:5000(/benefits/\S+)", first.output)
    assert len(links) == 2 and "5 holder(s) examined, 2 eligible, 2 new offer(s)" in first.output
    # Signed with the hall's own key: the links open the offers.
    assert registry.test_client().get(links[0]).status_code == 200
    second = CliRunner().invoke(main, ["eligibility", "run", "elderly-allowance"], env=env)
    assert "/benefits/" not in second.output and "0 new offer(s)" in second.output
    unknown = CliRunner().invoke(main, ["eligibility", "run", "outdoor-signboard"], env=env)
    assert unknown.exit_code == 2 and "offers a benefit" in unknown.output


def link(app, holder: str) -> str:
    with db(app) as session:
        offer = session.exec(select(BenefitOffer).where(BenefitOffer.holder_code == holder)).one()
        return "/benefits/" + benefits.link_token(offer, app.config["SECRET_KEY"])


def test_a_tampered_or_expired_link_is_not_found(registry, client):
    run_eligibility(registry)
    _, code = elderly(registry, 0)
    url = link(registry, code)
    assert client.get(url).status_code == 200
    token = url.rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/benefits/{forged}").status_code == 404
    assert client.post(f"/benefits/{forged}/confirm").status_code == 404
    # Signed with another key: not ours.
    other = benefits._serializer("another-key").dumps(token.split(".")[0])
    assert client.get(f"/benefits/{other}").status_code == 404
    with db(registry) as session:
        offer = session.exec(select(BenefitOffer).where(BenefitOffer.holder_code == code)).one()
        offer.expires_on = china_today() - dt.timedelta(days=1)
        session.add(offer)
        session.commit()
    assert client.get(url).status_code == 404
    assert client.post(f"{url}/confirm").status_code == 404


def test_confirming_twice_is_confirming_once_and_the_system_approves_it(registry, client):
    run_eligibility(registry)
    name, code = elderly(registry, 0)
    url = link(registry, code)
    page = client.get(f"{url}?lang=en").text
    assert name in page and code not in page  # the ID number is masked
    first = client.post(f"{url}/confirm")
    assert first.status_code == 302 and "/s/OT" in first.headers["Location"]
    second = client.post(f"{url}/confirm")
    assert second.status_code == 200
    with db(registry) as session:
        (submission,) = session.exec(select(Submission)).all()
        assert submission.tracking_number in second.text
        (task,) = session.exec(select(Task)).all()
        assert task.department_code == "sn-civil-affairs"
        # Every value its rules read is the registry's: 秒批.
        assert task.status == "approved"
        assert task.certificate_number.startswith(f"高龄津贴{china_today().year}370202")
        offer = session.exec(select(BenefitOffer).where(BenefitOffer.holder_code == code)).one()
        assert offer.status == "confirmed" and offer.submission_id == submission.id
        assert len(session.exec(select(AuditEntry).where(
            AuditEntry.action == "benefit_confirmed")).all()) == 1
    # Answered: objecting now is refused, and changes nothing.
    assert client.post(f"{url}/object", data={"reason": "不要"}).status_code == 409


def test_an_objection_is_recorded_with_its_reason(registry, client):
    run_eligibility(registry)
    _, code = elderly(registry, 1)
    url = link(registry, code)
    empty = client.post(f"{url}/object", data={"reason": "  "})
    assert empty.status_code == 422 and 'id="offer-problem"' in empty.text
    response = client.post(f"{url}/object", data={"reason": "已在外地领取同类津贴"})
    assert response.status_code == 200 and 'data-status="objected"' in response.text
    with db(registry) as session:
        offer = session.exec(select(BenefitOffer).where(BenefitOffer.holder_code == code)).one()
        assert offer.status == "objected" and offer.objection == "已在外地领取同类津贴"
        assert offer.submission_id is None
        (entry,) = session.exec(select(AuditEntry).where(
            AuditEntry.action == "benefit_objected")).all()
        assert entry.after["reason"] == "已在外地领取同类津贴"
        assert session.exec(select(Submission)).first() is None
    assert client.post(f"{url}/confirm").status_code == 409
    # The department reads the objection beside its offers; another department does not.
    add_account(registry, "staff-sn-civil-affairs", "department_staff", "sn-civil-affairs")
    offers = staff(registry, "sn-civil-affairs").get("/inbox/benefits").text
    assert offers.count('data-status="offered"') == 1
    assert '<tr data-status="objected">' in offers and "已在外地领取同类津贴" in offers
    add_account(registry, "staff-sn-amr", "department_staff", "sn-amr")
    other = staff(registry, "sn-amr").get("/inbox/benefits").text
    assert "已在外地领取同类津贴" not in other and code[-4:] not in other


def test_a_switched_off_benefit_matter_confirms_into_a_task_for_the_department(registry, client):
    run_eligibility(registry)
    with db(registry) as session:
        instant.set_enabled(session, "elderly-allowance", False, "staff")
    _, code = elderly(registry, 1)
    assert client.post(f"{link(registry, code)}/confirm").status_code == 302
    with db(registry) as session:
        (task,) = session.exec(select(Task)).all()
        assert task.status == "pending" and task.slice_data["applicant_id_number"] == code


# --- a verified identity (统一身份认证) --------------------------------------------------------


def test_a_verified_resident_is_approved_at_once_and_finds_the_offer_in_my_cases(
        signin_app, idp):  # noqa: F811 (the sign-in tests' fixtures)
    from test_applicant_signin import sign_in

    with db(signin_app) as session:
        service.seed_demo(session, china_today())
    name, code = elderly(signin_app, 0)
    idp.provider.person.update({"name": name, "id_card_number": code})
    client = signin_app.test_client()
    sign_in(client)
    run_eligibility(signin_app)
    cases = client.get("/applicant/cases").text
    assert 'data-offer="elderly-allowance" data-status="offered"' in cases
    offer_link = re.search(r'href="(/benefits/[^"]+)"', cases).group(1)
    assert client.get(offer_link).status_code == 200
    # Applying instead: the verified ID number is trust A, so the registry is read and the
    # rules pass on trust-A data only.
    draft = start(client, "elderly-allowance")
    assert client.post(f"{draft}/form", data={"applicant_name": "someone else",
                                              "applicant_id_number": "x"}).status_code == 302
    assert 'id="precheck"' not in client.get(f"{draft}/review").text
    assert submit(client, draft).status_code == 302
    task = the_task(signin_app)
    assert task.status == "approved"
    (entry,) = audit(signin_app, task, "instant_approval")
    values = {n: v for r in entry.after["rules"] for n, v in r["values"].items()}
    assert values["holder.birth_date"] == {"value": "1941-03-08", "source": "identity",
                                           "trust": "A"}
