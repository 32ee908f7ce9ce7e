"""Due dates in working and calendar days, holidays included, and a fallback past the calendar."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest

from onething.catalog.workdays import (
    CALENDAR_DAYS,
    WORKING_DAYS,
    DueDate,
    add_calendar_days,
    add_working_days,
    due_date,
    is_working_day,
    working_equivalent,
)

D = dt.date


@pytest.mark.parametrize(("start", "days", "due"), [
    (D(2026, 11, 20), 1, D(2026, 11, 23)),   # Friday + 1 → Monday
    (D(2026, 11, 23), 5, D(2026, 11, 30)),   # Monday + 5 → next Monday
    (D(2026, 11, 21), 0, D(2026, 11, 23)),   # on the spot, submitted on a Saturday
    (D(2026, 11, 23), 0, D(2026, 11, 23)),   # on the spot, on a working day
    (D(2026, 9, 30), 1, D(2026, 10, 8)),     # National Day holiday (Oct 1-7) skipped
])
def test_due_dates(start, days, due):
    result = add_working_days(start, days)
    assert result.date == due
    assert not result.estimated


def test_counts_exactly_the_calendar_working_days():
    start = D(2026, 1, 20)  # across the Spring Festival
    due = add_working_days(start, 20).date
    working = [start + dt.timedelta(days=i) for i in range(1, (due - start).days + 1)
               if chinese_calendar.is_workday(start + dt.timedelta(days=i))]
    assert len(working) == 20 and working[-1] == due


def test_a_make_up_working_weekend_counts():
    # 调休: some weekends are working days; 2026-10-10 is a Saturday that counts.
    assert chinese_calendar.is_workday(D(2026, 10, 10))
    assert is_working_day(D(2026, 10, 10)) == (True, False)


def test_past_the_known_calendar_falls_back_to_weekdays_and_flags_it():
    result = add_working_days(D(2026, 12, 30), 5)
    assert result.date == D(2027, 1, 6)  # Mon-Fri only: Dec 31, Jan 1, 4, 5, 6
    assert result.estimated


def test_overrides_correct_the_calendar():
    holiday = {D(2026, 11, 23): False}
    assert add_working_days(D(2026, 11, 20), 1, holiday).date == D(2026, 11, 24)


def test_negative_days_are_refused():
    with pytest.raises(ValueError):
        add_working_days(D(2026, 11, 20), -1)


def test_a_moment_is_shown_on_the_halls_clock():
    from onething.catalog.workdays import china_time

    # 20:30 UTC is already the next morning in Beijing.
    moment = dt.datetime(2026, 11, 22, 20, 30, tzinfo=dt.UTC)
    assert china_time(moment) == "2026-11-23 04:30"
    assert china_time(moment, "%Y-%m-%d") == "2026-11-23"
    with pytest.raises(ValueError):
        china_time(moment.replace(tzinfo=None))


# --- calendar days (自然日): 民法典 arts. 201 and 203 -------------------------------------


@pytest.mark.parametrize(("start", "days", "due"), [
    (D(2025, 9, 4), 30, D(2025, 10, 9)),     # last day 4 October, in the National Day holiday
    (D(2025, 10, 2), 30, D(2025, 11, 3)),    # last day Saturday 1 November → Monday
    (D(2025, 9, 5), 23, D(2025, 9, 28)),     # last day a Sunday made a working day (调休)
    (D(2025, 11, 3), 30, D(2025, 12, 3)),    # a working day: no move
    (D(2025, 11, 3), 0, D(2025, 11, 3)),     # on the spot, on a working day
    (D(2025, 11, 1), 0, D(2025, 11, 3)),     # on the spot, submitted on a Saturday
])
def test_calendar_day_due_dates(start, days, due):
    result = add_calendar_days(start, days)
    assert result.date == due
    assert not result.estimated


def test_calendar_days_count_from_the_next_day_whatever_it_is():
    # 60 calendar days over the National Day holiday: the holiday days count.
    assert add_calendar_days(D(2025, 9, 1), 60).date == D(2025, 10, 31)


def test_calendar_days_past_the_known_calendar_are_flagged():
    inside = add_calendar_days(D(2026, 12, 1), 30)
    assert inside == DueDate(D(2026, 12, 31), False)
    beyond = add_calendar_days(D(2026, 12, 20), 30)
    assert beyond == DueDate(D(2027, 1, 19), True)  # a Tuesday by the weekday fallback


def test_overrides_move_a_calendar_day_period_too():
    closed = {D(2025, 12, 3): False}
    assert add_calendar_days(D(2025, 11, 3), 30, closed).date == D(2025, 12, 4)


def test_due_date_picks_the_counting():
    start = D(2025, 9, 4)
    assert due_date(start, 30, CALENDAR_DAYS) == add_calendar_days(start, 30)
    assert due_date(start, 30, WORKING_DAYS) == add_working_days(start, 30)
    assert due_date(start, 30) == add_working_days(start, 30)
    with pytest.raises(ValueError):
        due_date(start, 30, "lunar_days")
    with pytest.raises(ValueError):
        add_calendar_days(start, -1)


@pytest.mark.parametrize(("days", "counting", "working"), [
    (0, CALENDAR_DAYS, 0), (1, CALENDAR_DAYS, 1), (7, CALENDAR_DAYS, 5),
    (30, CALENDAR_DAYS, 22), (60, CALENDAR_DAYS, 43), (30, WORKING_DAYS, 30),
])
def test_working_equivalent_of_a_limit(days, counting, working):
    assert working_equivalent(days, counting) == working
