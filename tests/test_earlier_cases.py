"""The form's earlier cases: read in one query, however many access codes the browser holds."""

from __future__ import annotations

from flask import session as cookie
from sqlalchemy import event

from onething.cases.views import REMEMBERED_PER_STORE, SUBMISSIONS
from onething.cases.views.drafts import _earlier_cases
from onething.cases.workflow import create_draft, save_draft, submit
from onething.composer.compose import compose
from onething.publishing.versions import bundle_of, latest_version
from onething.web.extensions import get_session
from test_workflow import ANSWERS, complete_materials, restaurant_data

from conftest import NEW_ENTITY_USCC


def _submitted(app, n: int) -> list[list[str]]:
    """n cases of one holder, and one of another: [tracking number, access code] pairs."""
    pairs = []
    with app.app_context():
        session = get_session()
        version = latest_version(session, "open-restaurant")
        composition = compose(bundle_of(version), ANSWERS)
        for i in range(n + 1):
            draft, token = create_draft(session, version)
            data = restaurant_data()
            if i == n:
                data["entity_name"], data["entity_uscc"] = "别家公司", NEW_ENTITY_USCC
            save_draft(session, draft, answers=ANSWERS, data=data,
                       materials=complete_materials(session, composition))
            pairs.append([submit(session, draft, f"key-{i}").tracking_number, token])
    return pairs


def _counted(app, pairs, data):
    statements = []

    def count(*_):
        statements.append(1)

    engine = app.extensions["onething.engine"]
    with app.test_request_context():
        cookie[SUBMISSIONS] = pairs
        get_session().connection()  # opened before counting
        event.listen(engine, "before_cursor_execute", count)
        try:
            found = [s.tracking_number for s in _earlier_cases(data)]
        finally:
            event.remove(engine, "before_cursor_execute", count)
    return found, len(statements)


def test_twelve_earlier_cases_are_read_in_as_many_queries_as_one(app):
    pairs = _submitted(app, REMEMBERED_PER_STORE - 1)
    data = {"entity_uscc": restaurant_data()["entity_uscc"]}
    # The browser holds 12 access codes, one of a case of another holder and one forged.
    held = [*pairs, [pairs[0][0], "forged"]][-REMEMBERED_PER_STORE:]
    assert len(held) == REMEMBERED_PER_STORE
    many, queries = _counted(app, held, data)
    one, single = _counted(app, [pairs[-2]], data)
    assert queries == single == 1
    # The most recent first, of this holder only, and never with a forged code.
    assert many == [number for number, _ in reversed(pairs[1:-1])]
    assert one == [pairs[-2][0]]
