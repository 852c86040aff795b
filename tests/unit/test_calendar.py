"""Working days from the official 2026 schedule, and provisional days where data is missing.

The expected dates come from the State Council's 2026 holiday notice (国办发明电〔2025〕7号):
National Day 10-01..10-07 off, 09-20 (Sun) and 10-10 (Sat) worked; Spring Festival
02-15..02-23 off, 02-14 (Sat) and 02-28 (Sat) worked.
"""

from __future__ import annotations

import datetime as dt

import pytest

from backend.calendar.service import (
    WorkCalendar,
    due_in_days,
    due_in_working_days,
    parse_overrides_csv,
)
from backend.core.errors import BadRequest

D = dt.date.fromisoformat
CAL = WorkCalendar()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-09-20", True),  # Sunday, make-up working day
        ("2026-10-01", False),
        ("2026-10-07", False),
        ("2026-10-08", True),
        ("2026-10-10", True),  # Saturday, make-up working day
        ("2026-10-11", False),
        ("2026-02-14", True),
        ("2026-02-15", False),
        ("2026-02-23", False),
        ("2026-02-24", True),
        ("2026-02-28", True),
    ],
)
def test_2026_official_days(day: str, working: bool) -> None:
    assert CAL.is_working_day(D(day)) is working
    assert CAL.is_final(D(day))


def test_working_days_across_national_day_count_the_make_up_saturday() -> None:
    # From Wed 2026-09-30: Oct 1-7 are off; Oct 8 (Thu), 9 (Fri), 10 (Sat, make-up) work.
    due = due_in_working_days(CAL, D("2026-09-30"), 3, rule="test")
    assert due.date == D("2026-10-10")
    assert not due.provisional
    assert "3 working days after 2026-09-30" in due.basis
    assert CAL.working_days_between(D("2026-09-30"), D("2026-10-12")) == 4


def test_working_days_across_spring_festival() -> None:
    # From Fri 2026-02-13: Sat 02-14 works (1), 02-15..23 off, then 02-24, 25, 26, 27 (5).
    assert CAL.add_working_days(D("2026-02-13"), 5) == D("2026-02-27")
    assert CAL.add_working_days(D("2026-02-13"), 6) == D("2026-02-28")


def test_calendar_days_deadline_moves_off_a_holiday() -> None:
    due = due_in_days(CAL, D("2026-09-24"), 7, rule="service")
    assert due.date == D("2026-10-08")
    assert "moved from rest day 2026-10-01" in due.basis


def test_2027_is_provisional_until_the_schedule_is_imported() -> None:
    due = due_in_working_days(CAL, D("2026-12-28"), 10, rule="lead")
    assert due.provisional
    # Without data, 2027 counts weekends only: 12-29,30,31, then Jan 1 (Fri) counts.
    assert CAL.add_working_days(D("2026-12-28"), 4) == D("2027-01-01")
    rows = parse_overrides_csv("date,working,name\n2027-01-01,false,元旦\n")
    loaded = WorkCalendar(
        overrides={r.date: r.working for r in rows}, imported_years=frozenset({2027})
    )
    after = due_in_working_days(loaded, D("2026-12-28"), 4, rule="lead")
    assert after.date == D("2027-01-04")
    assert not after.provisional


def test_bad_override_rows_are_refused_with_the_line() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_overrides_csv("date,working,name\n2027-01-01,perhaps,元旦\n")
    assert caught.value.detail.startswith("line 2:")
