"""Numbers typed the way people type them, read in the field's unit."""

from __future__ import annotations

import pytest

from onething.cases.forms import convert
from onething.catalog.numbers import read_number


@pytest.mark.parametrize(("typed", "unit", "expected"), [
    ("120", "m2", 120),
    ("１２０", "m2", 120),
    ("1,200", None, 1200),
    ("１，２００．５", None, 1200.5),
    (" 120 ㎡", "m2", 120),
    ("120平方米", "m2", 120),
    ("120平米", "m2", 120),
    ("2亩", "m2", 1333.333333),
    ("1.5公顷", "m2", 15000),
    ("30万", "wan_yuan", 30),
    ("30万元", "wan_yuan", 30),
    ("3000元", "wan_yuan", 0.3),
    ("30万", "yuan", 300000),
    ("3.5万元", "yuan", 35000),
    ("1亿", "wan_yuan", 10000),
    ("30万", None, 300000),
    ("5千米", "m", 5000),
    ("-3", None, -3),
    # A matter's own field in metres (a signboard), and counts typed with their word.
    ("6米", "m", 6),
    ("120厘米", "m", 1.2),
    ("８０人", None, 80),
    ("3家", None, 3),
])
def test_what_people_type_is_read_in_the_fields_unit(typed, unit, expected):
    assert read_number(typed, unit) == expected


@pytest.mark.parametrize(("typed", "unit"), [
    ("二十万", "wan_yuan"),  # numerals in words: left for the applicant to type again
    ("30kg", "m2"),  # another quantity
    ("120㎡", None),  # a unit in a field that counts none
    ("1,20", None),
    ("12.3.4", None),
    ("", None),
    ("9" * 70 + "万", None),
    ("3万万", "yuan"),
    ("80人", "m2"),  # a count word in a field of a quantity
    ("约300", None),  # "about": no number to file
    ("1,2", "m"),  # a decimal comma, or a list: not guessed
])
def test_what_cannot_be_read_is_left_as_typed(typed, unit):
    assert read_number(typed, unit) is None
    entry = {"type": "number", "unit": unit}
    assert convert(entry, typed) == typed


@pytest.mark.parametrize("typed", ["nan", "NaN", "inf", "-Infinity", "1e999"])
def test_no_value_outside_json_is_let_in(typed):
    assert convert({"type": "number"}, typed) == typed


def test_an_integer_field_takes_only_whole_numbers():
    assert convert({"type": "integer"}, "1,200") == 1200
    assert convert({"type": "integer"}, "１２") == 12
    assert convert({"type": "integer"}, "1.5万") == 15000
    assert convert({"type": "integer", "unit": "m2"}, "0.5平方米") == "0.5平方米"


def test_the_form_reads_amounts_and_areas_as_typed(app, client):
    from sqlmodel import Session, select

    from onething.storage.models import Draft
    from test_web import FORM, start

    draft = start(client)
    typed = {**FORM, "premises_area": "１２０㎡", "shareholders.0.contribution": "30万",
             "matters.fire-safety-check.max_occupancy": "8０"}
    response = client.post(f"{draft}/form", data=typed)
    assert response.status_code == 302, response.text[:300]
    with Session(app.extensions["onething.engine"]) as session:
        data = session.exec(select(Draft)).one().data
    assert data["premises_area"] == 120
    assert data["shareholders"][0]["contribution"] == 30
    assert data["matters"]["fire-safety-check"]["max_occupancy"] == 80


def test_the_one_form_reads_a_quantity_in_the_librarys_unit(demo_catalog):
    from onething.composer.compose import compose

    # The registry counts the sea area in ㎡, the one form asks it in 公顷.
    composition = compose(demo_catalog.service("sea-area-first-registration"))
    entry = next(f for s in composition.layout["sections"] for f in s["fields"]
                 if f["path"] == "sea_area_hectares")
    assert entry["unit"] == "hectare"
    assert convert(entry, "2公顷") == 2 and convert(entry, "20000平方米") == 2


def test_the_signboards_size_is_read_in_metres_as_typed(client):
    # The outdoor-signboard matter's own fields say their unit: "6米" is 6, "120厘米" 1.2.
    from test_web import start

    draft = start(client)
    for field, typed, kept in (("matters.outdoor-signboard.signboard_width_m", "6米", "6"),
                               ("matters.outdoor-signboard.signboard_height_m", "120厘米",
                                "1.2")):
        check = client.get(f"{draft}/check", query_string={"field": field, field: typed})
        assert check.status_code == 200 and 'class="error"' not in check.text, typed
        assert kept in check.headers["HX-Trigger"]
