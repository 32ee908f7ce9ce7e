"""A matter handled jointly by two departments (联合办理: road excavation, 城管 and 交警):
each receives the matter's slice and decides its own task; what waits for the matter
waits for both."""

from __future__ import annotations

import datetime as dt

from onething.cases.decisions import _unlock
from onething.composer.compose import compose
from onething.publishing.check import load_catalog
from onething.storage.models import Task

from conftest import apply_edits


def joint_catalog(mini_root):
    apply_edits(mini_root, [{"file": "catalog/matters/alpha.json",
                             "pointer": "/joint_departments", "value": ["other-office"]}])
    return load_catalog(mini_root)


def test_each_department_of_a_joint_matter_is_a_step_with_the_matters_slice(mini_root):
    catalog = joint_catalog(mini_root)
    plan = compose(catalog.bundles["mini-bundle"], {"wants_sign": True}).plan
    alpha = [step for step in plan.steps if step.matter == "alpha"]
    assert [step.department for step in alpha] == [catalog.matters["alpha"].department,
                                                   "other-office"]
    assert alpha[0].slice == alpha[1].slice and alpha[0].finish_day == alpha[1].finish_day
    assert "other-office" in plan.slices
    assert set(alpha[0].slice.fields) <= set(plan.slices["other-office"].fields)
    # Each department's slice still holds only what the matters it handles declared.
    assert "matters.beta.note" not in plan.slices["other-office"].fields


def test_what_waits_for_a_joint_matter_waits_for_both_departments(session):

    tasks = [Task(id=1, submission_id=1, department_code="a", matter_code="x",
                  status="approved", slice_data={}, slice_materials=[], promised_days=1,
                  due_date=dt.date(2026, 12, 1)),
             Task(id=2, submission_id=1, department_code="b", matter_code="x",
                  status="accepted", slice_data={}, slice_materials=[], promised_days=1,
                  due_date=dt.date(2026, 12, 1)),
             Task(id=3, submission_id=1, department_code="c", matter_code="y",
                  status="waiting", waits_for=["x"], slice_data={}, slice_materials=[],
                  promised_days=1, due_date=dt.date(2026, 12, 1))]
    # Nothing is written: unlocking only marks the tasks (and starts a clock) in the session.
    with session.no_autoflush:
        assert _unlock(session, tasks) == []
        tasks[1].status = "approved"
        assert [t.id for t in _unlock(session, tasks)] == [3]
    session.rollback()


def test_an_unknown_joint_department_is_refused_with_its_pointer(mini_root):
    import pytest

    from onething.catalog.problems import DefinitionError

    apply_edits(mini_root, [{"file": "catalog/matters/alpha.json",
                             "pointer": "/joint_departments", "value": ["traffic-police"]}])
    with pytest.raises(DefinitionError) as refused:
        load_catalog(mini_root)
    assert [(p.pointer, p.message) for p in refused.value.problems] == [
        ("/joint_departments/0", "unknown department 'traffic-police'")]
