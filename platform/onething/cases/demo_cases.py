"""Plausible demo cases for the statistics: `onething demo seed-cases N`.

N cases of the published bundles spread over the last six months (this one
included), each routed into its bundle's matters, decided as cases of that age are
(most approved, a few refused, recent ones still open), some corrected (补正) once,
and many rated, the bad ratings with their rectifications. Written in bulk (a few
multi-row INSERTs, not the submit path), so a thousand cases take a second or two.
The cases hold no personal data: their forms are empty and their parties nameless;
they only give the pages something real to count.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets

from sqlalchemy import func, insert, select, text
from sqlmodel import Session

from onething.cases.statistics import default_range
from onething.cases.workflow import CROCKFORD_ALPHABET, TRACKING_SUFFIX_LENGTH
from onething.catalog.workdays import CHINA_TZ, add_working_days
from onething.composer.compose import compose
from onething.publishing.versions import bundle_of
from onething.storage.models import (
    BAD_RATING,
    BundleVersion,
    Draft,
    PublishedService,
    Rating,
    Rectification,
    Submission,
    Task,
    utc_now,
)

# Of decided tasks: rated (一事一评), and the levels' weights, 5 to 1.
RATED = 0.6
# Invented parties, so that the inbox's applicant column and its name search have
# something to show (no real company or person).
TRADES = ("海风", "青禾", "栈桥", "红瓦", "金沙", "崂峰", "浮山", "石老人", "八关", "琴屿",
          "云霄", "泰宁", "枫林", "小鱼山", "贮水", "太平角")
KINDS = ("餐饮有限公司", "商贸有限公司", "便利店", "小吃店", "养老服务有限公司", "食品有限公司")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林"
GIVEN = "海燕青禾明华建国晓东丽娜思远嘉怡子涵浩然欣悦"
LEVEL_WEIGHTS = {5: 70, 4: 18, 3: 7, 2: 3, 1: 2}
CHUNK = 500


def _plan(session: Session) -> list[dict]:
    # Each published bundle's newest version, its matters (code, department, promised
    # days) and the range of its savings.
    newest = dict(session.execute(
        select(BundleVersion.bundle_code, func.max(BundleVersion.id))
        .where(BundleVersion.kind == "bundle").group_by(BundleVersion.bundle_code)).all())
    shown = set(session.execute(select(PublishedService.code)
                                .where(PublishedService.kind == "bundle")).scalars())
    plans = []
    for code, version_id in sorted(newest.items()):
        if code not in shown:
            continue
        bundle = bundle_of(session.get(BundleVersion, version_id))
        matters = [(m.code, m.department, m.promised_days)
                   for m in bundle.catalog.matters.values()]
        if not matters:
            continue
        composition = compose(bundle, None)
        savings = composition.savings
        # A case of a person (a newborn's) names no enterprise in its one form.
        person = "entity_name" not in composition.schema["properties"]
        plans.append({"code": code, "version": version_id, "matters": matters,
                      "person": person,
                      "lead": bundle.data.get("lead_department") or matters[0][1],
                      "saved": {name: _saved_range(getattr(savings, name))
                                for name in ("forms", "fields", "materials", "visits",
                                             "days")}})
    return plans


def _saved_range(figure) -> tuple[int, int]:
    # From the lightest situation's saving to the heaviest's.
    low = figure.as_dict()
    return (max(low["before_low"] - low["after_low"], 0), max(figure.saved, 0))


def _next_ids(session: Session) -> dict[str, int]:
    return {table.__tablename__: (session.execute(select(func.max(table.id))).scalar() or 0)
            for table in (Draft, Submission, Task, Rating, Rectification)}


def seed_cases(session: Session, count: int, seed: int | None = None,
               now: dt.datetime | None = None) -> dict[str, int]:
    """Insert `count` decided, corrected and rated demo cases; return how many rows of each."""
    rng = random.Random(seed)
    now = now or utc_now()
    plans = _plan(session)
    if not plans or count <= 0:
        return {"cases": 0, "tasks": 0, "ratings": 0, "rectifications": 0}
    ids = _next_ids(session)
    drafts, cases, tasks, ratings, fixes = [], [], [], [], []
    # Within the statistics' default range (the last six months, this one included).
    first, _ = default_range(now.astimezone(CHINA_TZ).date())
    span = now - dt.datetime.combine(first, dt.time(), CHINA_TZ)
    prefix = secrets.token_hex(3).upper()
    levels, weights = list(LEVEL_WEIGHTS), list(LEVEL_WEIGHTS.values())
    numbers = set(session.execute(select(Submission.tracking_number)).scalars())
    # Oldest first, so that ids follow time as real cases' do (the inbox's newest first).
    moments = sorted(now - span * rng.random() for _ in range(count))
    for number, moment in enumerate(moments, start=1):
        plan = rng.choice(plans)
        day = moment.astimezone(CHINA_TZ).date()
        age = (now - moment).days
        draft_id = ids["draft"] + number
        case_id = ids["submission"] + number
        token = secrets.token_hex(32)
        drafts.append({"id": draft_id, "public_id": f"demo-{prefix}-{number}",
                       "token_hash": token, "bundle_version_id": plan["version"],
                       "answers": {}, "data": {}, "materials": {}, "prefill": {},
                       "created_at": moment, "updated_at": moment, "submitted_at": moment})
        saved = {f"saved_{name}": rng.randint(*sorted(pair))
                 for name, pair in plan["saved"].items()}
        matters = plan["matters"]
        chosen = rng.sample(matters, k=rng.randint(max(1, len(matters) // 2), len(matters)))
        party = (rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2)) if plan["person"]
                 else "青岛" + rng.choice(TRADES) + rng.choice(KINDS))
        statuses = []
        for matter, department, promised in chosen:
            ids["task"] += 1
            roll = rng.random()
            if age > 25:
                status = ("approved" if roll < 0.9 else "rejected" if roll < 0.96
                          else "accepted")
            else:
                status = ("pending" if roll < 0.3 else "accepted" if roll < 0.6
                          else "approved" if roll < 0.95 else "rejected")
            corrected = rng.random() < 0.12
            taken = max(0, round(rng.gauss(promised * 0.6, promised * 0.3 + 0.3)))
            decided = status in ("approved", "rejected")
            early = rng.random() < 0.5
            if decided and age < taken * 1.4:
                taken = max(0, int(age / 1.4))
            due = add_working_days(day, promised).date
            # Never after now: a decision in the future is one no log records yet.
            decided_at = min(moment + dt.timedelta(days=taken * 1.4 + rng.random()), now)
            statuses.append(status)
            tasks.append({
                "id": ids["task"], "submission_id": case_id, "department_code": department,
                "matter_code": matter, "bundle_code": plan["code"], "status": status,
                "waits_for": [], "slice_data": {}, "slice_materials": [],
                "promised_days": promised, "due_date": due, "due_estimated": False,
                "counting": "working_days", "clock_started_on": day, "paused_days": 0,
                "party_name": party,
                "created_at": moment, "updated_at": decided_at if decided else moment,
                "decided_at": decided_at if decided else None,
                "certificate_number": f"DEMO-{ids['task']}" if status == "approved" else None,
                # Refused before acceptance (不予受理) or after examination (不予许可).
                "reason": ("示例：不符合受理条件" if early else "示例：经审查不符合许可条件")
                if status == "rejected" else None,
                "not_accepted": status == "rejected" and early,
                "days_taken": taken if decided else None,
                "on_time": (taken <= promised) if decided else None,
                "supplements": int(corrected)})
            if decided and rng.random() < RATED:
                ids["rating"] += 1
                level = rng.choices(levels, weights)[0]
                rated_at = min(decided_at + dt.timedelta(hours=rng.uniform(1, 72)), now)
                ratings.append({
                    "id": ids["rating"], "submission_id": case_id,
                    "target": f"task:{ids['task']}", "task_id": ids["task"],
                    "department_code": department, "matter_code": matter,
                    "bundle_code": plan["code"], "level": level, "tags": [],
                    "comment": None, "channel": "online", "recorded_by": None,
                    "created_at": rated_at, "updated_at": rated_at})
                if level <= BAD_RATING:
                    ids["rectification"] += 1
                    closed = (now - rated_at).days > 10 and rng.random() < 0.85
                    fixes.append({
                        "id": ids["rectification"], "rating_id": ids["rating"],
                        "submission_id": case_id, "department_code": department,
                        "matter_code": matter, "bundle_code": plan["code"], "level": level,
                        "status": "closed" if closed else "open", "opened_at": rated_at,
                        "due_date": add_working_days(rated_at.astimezone(CHINA_TZ).date(),
                                                     5).date,
                        "due_estimated": False,
                        "closed_at": rated_at + dt.timedelta(days=rng.uniform(1, 9))
                        if closed else None,
                        "closed_by": "demo" if closed else None})
        status = ("approved" if set(statuses) == {"approved"} else
                  "rejected" if "rejected" in statuses and not set(statuses) - {
                      "approved", "rejected"} else "in_progress")
        if status == "rejected" and "approved" in statuses:
            status = "partly_approved"
        # Numbered as real cases are (OT, the day, six characters), so the inbox's search
        # by tracking number finds them; drawn from the seed, never twice.
        while True:
            tracking = f"OT{day:%Y%m%d}-" + "".join(
                rng.choice(CROCKFORD_ALPHABET) for _ in range(TRACKING_SUFFIX_LENGTH))
            if tracking not in numbers:
                numbers.add(tracking)
                break
        cases.append({"id": case_id, "tracking_number": tracking,
                      "answers": {}, "data": {}, "materials": {}, "status": status,
                      "submitted_at": moment, "lead_department": plan["lead"],
                      "draft_id": draft_id, "bundle_version_id": plan["version"],
                      "idempotency_key": f"demo-{prefix}-{number}", "token_hash": token,
                      **saved})
    connection = session.connection()
    for table, rows in ((Draft, drafts), (Submission, cases), (Task, tasks),
                        (Rating, ratings), (Rectification, fixes)):
        for start in range(0, len(rows), CHUNK):
            connection.execute(insert(table.__table__), rows[start:start + CHUNK])
    if connection.dialect.name == "postgresql":
        for table in ("draft", "submission", "task", "rating", "rectification"):
            connection.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"))
    session.commit()
    return {"cases": len(cases), "tasks": len(tasks), "ratings": len(ratings),
            "rectifications": len(fixes)}


def is_empty(session: Session) -> bool:
    """Whether the database holds no case yet (a fresh demo)."""
    return session.execute(select(Submission.id).limit(1)).first() is None
