"""Date bounds: fixed or counted from today, merged strictly, checked by both validators,
shown as the date input's range, and refused with file and pointer when unreadable."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from onething.catalog.dates import BoundError, check_bound, limits, resolve, within
from onething.catalog.workdays import china_today
from onething.composer.compose import compose
from onething.composer.merge import CompositionError, Site, Use, merge_constraints
from onething.composer.validation import build_validator, field_errors
from onething.publishing.check import load_catalog

from conftest import apply_edits

TODAY = dt.date(2026, 11, 30)


@pytest.mark.parametrize(("bound", "expected"), [
    ("2020-09-01", "2020-09-01"),
    ("today", "2026-11-30"),
    ("today-P18Y", "2008-11-30"),
    ("--08-31-P3Y", "2023-08-31"),
    ("--08-31-P6Y", "2020-08-31"),
    ("today+P30D", "2026-12-30"),
    ("today-P1Y2M3D", "2025-09-27"),
    ("2024-02-29+P1Y", "2025-02-28"),  # no 29 February in 2025: the month's last day
    ("--02-29", "2026-02-28"),
])
def test_a_bound_names_a_date(bound, expected):
    check_bound(bound)
    assert resolve(bound, TODAY).isoformat() == expected


@pytest.mark.parametrize("bound", ["yesterday", "2026-13-01", "today-P", "today-3Y", "--02-30",
                                   "--13-01", "2026-11-30T00:00", "", 20260101, None,
                                   "today-P99999Y", "0001-01-01-P1D", "9999-12-31+P1D",
                                   "today-P999Y9999M99999D", ["today"]])
def test_an_unreadable_bound_is_refused_saying_how_to_write_one(bound):
    with pytest.raises(BoundError, match="no date bound"):
        check_bound(bound)


def test_a_kindergarten_age_window_on_31_august():
    # Three to six on 31 August of the enrolment year: born after 2020-08-31 and by 2023-08-31.
    window = {"formatExclusiveMinimum": "--08-31-P6Y", "formatMaximum": "--08-31-P3Y"}
    assert limits(window, TODAY) == ("2020-09-01", "2023-08-31")
    for born, fits in (("2020-08-31", False), ("2020-09-01", True), ("2023-08-31", True),
                       ("2023-09-01", False)):
        assert all(within(k, v, born, TODAY) for k, v in window.items()) is fits, born
    # What is no date is the format keyword's to judge, not the bound's.
    assert within("formatMaximum", "today", "not a date", TODAY)
    assert within("formatMaximum", "today", 42, TODAY)


def _use(matter, **constraints):
    return Use(Site(matter, f"catalog/matters/{matter}.json", "/form/properties/born"),
               constraints)


def test_bounds_merge_to_the_strictest_and_contradictions_are_refused():
    merged = merge_constraints("born", [_use("a", formatMinimum="2020-01-01"),
                                        _use("b", formatMinimum="today-P6Y")])
    # A fixed date and one counted from today have no order that holds for good: both stay.
    assert merged == {"formatMinimum": "2020-01-01",
                      "allOf": [{"formatMinimum": "today-P6Y"}]}
    with pytest.raises(CompositionError, match="formatMinimum 2021-01-01 is not before "
                                                "formatMaximum 2020-12-31") as refused:
        merge_constraints("born", [_use("a", formatMinimum="2021-01-01"),
                                   _use("b", formatMaximum="2020-12-31")])
    assert refused.value.matters == ("a", "b")
    with pytest.raises(CompositionError, match="not before"):
        merge_constraints("born", [_use("a", formatExclusiveMinimum="today-P3Y"),
                                   _use("b", formatMaximum="today-P3Y")])
    # Bounds counted from different days of the year may meet some day: no conflict.
    assert merge_constraints("born", [_use("a", formatMinimum="--09-01-P3Y"),
                                      _use("b", formatMaximum="today-P3Y")])


def test_a_birth_in_the_future_is_refused_by_both_validators(demo_catalog):
    composition = compose(demo_catalog.bundles["newborn"])
    tomorrow = (china_today() + dt.timedelta(days=1)).isoformat()
    schema = composition.schema
    compiled = build_validator({"$defs": schema["$defs"], "properties": {
        "child_birth_date": schema["properties"]["child_birth_date"]}})
    assert compiled.fast is not None  # the compiled fast path knows the keywords
    for born, fits in ((china_today().isoformat(), True), (tomorrow, False)):
        data = {"child_birth_date": born}
        assert compiled.fast.is_valid(data) is fits, born
        assert compiled.detailed.is_valid(data) is fits, born
    errors = field_errors(composition, {"child_birth_date": tomorrow})
    assert [e.keyword for e in errors["child_birth_date"]] == ["formatMaximum"]


def test_the_date_input_offers_only_dates_within_the_bounds(client):
    response = client.post("/b/newborn", data={"household_follows": "mother",
                                               "parents_married": "true",
                                               "need_bank_card_function": "false"})
    assert response.status_code == 302, response.text[:500]
    draft = response.headers["Location"].removesuffix("/form")
    page = client.get(f"{draft}/form?lang=en").text
    field = re.search(r'<input id="[^"]*" name="child_birth_date"[^>]*>', page).group(0)
    assert f'max="{china_today().isoformat()}"' in field and "min=" not in field
    tomorrow = (china_today() + dt.timedelta(days=1)).isoformat()
    refused = client.post(f"{draft}/form?lang=en", data={"child_birth_date": tomorrow})
    assert refused.status_code == 422
    assert f"Enter a date on or before {china_today().isoformat()}." in refused.text
    # What was typed is kept for the applicant to correct.
    assert f'value="{tomorrow}"' in refused.text


def test_bounds_from_two_matters_make_the_one_forms_window(demo_root):
    apply_edits(demo_root, [
        {"file": "catalog/matters/newborn-medical-insurance.json",
         "pointer": "/form/properties/child_birth_date/formatMinimum", "value": "today-P1Y"}])
    catalog = load_catalog(demo_root)
    composition = compose(catalog.bundles["newborn"])
    entry = next(f for s in composition.layout["sections"] for f in s["fields"]
                 if f["path"] == "child_birth_date")
    assert entry["date_bounds"] == {"formatMaximum": ["today"],
                                    "formatMinimum": ["today-P1Y"]}
    old = resolve("today-P1Y", china_today()) - dt.timedelta(days=1)
    errors = field_errors(composition, {"child_birth_date": old.isoformat()})
    assert [e.keyword for e in errors["child_birth_date"]] == ["formatMinimum"]
    assert "newborn-medical-insurance" in errors["child_birth_date"][0].matters
