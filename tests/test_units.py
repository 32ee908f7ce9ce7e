"""Units of quantities: asked once in the field's unit, converted for each matter that
counts it in another, bounds included; never merged silently across units."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onething.catalog.units import UNITS, convert, convert_bounds, quantity
from onething.composer.compose import compose

PAIRS = [(a, b) for a in UNITS for b in UNITS if a != b and quantity(a) == quantity(b)]


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_a_conversion_and_back_gives_the_value_again(source, target):
    @given(st.floats(min_value=0.001, max_value=1e6, allow_nan=False))
    def round_trip(value):
        there = convert(value, source, target)
        back = convert(there, target, source)
        # Ten significant digits each way.
        assert math.isclose(back, value, rel_tol=1e-9)

    round_trip()


def test_known_conversions():
    assert convert(1, "mu", "m2") == 666.6666667
    assert convert(15, "mu", "hectare") == 1
    assert convert(2.5, "wan_yuan", "yuan") == 25000
    assert convert(True, "m2", "mu") is True and convert("x", "m2", "mu") == "x"
    assert convert_bounds({"minimum": 1, "multipleOf": 1}, "mu", "m2") == {
        "minimum": 666.6666667}


def test_the_registry_receives_the_sea_area_in_square_metres(demo_catalog):
    composition = compose(demo_catalog.bundles["sea-area-rights"])
    assert composition.units == {("sea-area-first-registration", "sea_area_hectares"):
                                 ("hectare", "m2")}
    # The registry's minimum of 1 ㎡ is 0.0001 公顷 in the one form.
    assert composition.schema["properties"]["sea_area_hectares"]["minimum"] == 0.0001
    data = {"sea_area_hectares": 12.3456}
    registry = composition.plan.step("sea-area-first-registration").slice
    approval = composition.plan.step("sea-area-use-approval").slice
    assert registry.project(data) == {"sea_area_hectares": 123456}
    assert approval.project(data) == {"sea_area_hectares": 12.3456}
    assert composition.matter_view(registry.project(data), "sea-area-first-registration") == {
        "sea_area_hectares": 123456}
    assert registry.as_dict()["units"] == {"sea_area_hectares": "m2"}


def test_the_department_reads_the_unit_it_receives(app, demo_catalog):
    from onething.web.templating import slice_unit

    composition = compose(demo_catalog.bundles["sea-area-rights"])
    with app.test_request_context():
        assert slice_unit(composition, "sea-area-first-registration",
                          "sea_area_hectares") == " 平方米"
        assert slice_unit(composition, "sea-area-use-approval", "sea_area_hectares") == ""


def test_every_unit_the_engine_converts_is_one_a_library_field_may_name():
    import json

    from conftest import SCHEMAS

    meta = json.loads((SCHEMAS / "meta" / "field.json").read_text(encoding="utf-8"))
    assert set(meta["properties"]["x-unit"]["enum"]) == set(UNITS)
