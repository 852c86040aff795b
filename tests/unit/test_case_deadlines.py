"""Case deadlines on the working-day calendar: holidays, make-up days, clock stops, extensions."""

from __future__ import annotations

import datetime as dt

from backend.calendar.service import WorkCalendar
from backend.cases.deadlines import CaseDates, StopPeriod, compute_case_deadlines
from backend.cases.rules import CaseRules

CAL = WorkCalendar()
RULES = CaseRules()
D = dt.date


def deadlines(dates: CaseDates, stops: list[StopPeriod] | None = None, *, today: dt.date):
    found = compute_case_deadlines(dates, stops or [], rules=RULES, cal=CAL, today=today)
    return {d.kind: d for d in found}


def test_decision_limit_ending_in_national_day_moves_to_the_first_working_day():
    got = deadlines(CaseDates(procedure="general", filed_on=D(2026, 7, 3)), today=D(2026, 7, 3))
    decision = got["decision"]
    assert decision.due_on == D(2026, 10, 8)  # 90 days → 1 Oct, holiday until 7 Oct
    assert decision.provisional is False
    assert decision.basis[0] == "90 days from filing on 2026-07-03"
    assert "moved from rest day 2026-10-01" in decision.basis[-1]


def test_clock_stop_shifts_the_limit_onto_the_make_up_saturday():
    stops = [StopPeriod("testing", D(2026, 7, 10), D(2026, 7, 19))]
    got = deadlines(
        CaseDates(procedure="general", filed_on=D(2026, 7, 3)), stops, today=D(2026, 8, 1)
    )
    # 90 + 9 stopped days = Sat 10 Oct 2026, a make-up working day: not moved.
    assert got["decision"].due_on == D(2026, 10, 10)
    assert (
        "+9 days: clock stopped for testing from 2026-07-10 to 2026-07-19" in got["decision"].basis
    )


def test_open_clock_stop_counts_to_today_and_overlaps_count_once():
    stops = [
        StopPeriod("hearing", D(2026, 7, 10), D(2026, 7, 20)),
        StopPeriod("public_notice", D(2026, 7, 15), None),
    ]
    got = deadlines(
        CaseDates(procedure="general", filed_on=D(2026, 7, 3)), stops, today=D(2026, 7, 25)
    )
    # Stopped 10 Jul → 25 Jul = 15 days once: 1 Oct + 15 = 16 Oct (Friday).
    assert got["decision"].due_on == D(2026, 10, 16)
    assert got["decision"].paused is True


def test_two_stops_over_the_same_days_count_once():
    # Testing and appraisal started the same day and both still open (sorting them once crashed).
    stops = [
        StopPeriod("testing", D(2026, 7, 10), None),
        StopPeriod("appraisal", D(2026, 7, 10), None),
    ]
    got = deadlines(
        CaseDates(procedure="general", filed_on=D(2026, 7, 3)), stops, today=D(2026, 7, 25)
    )
    assert got["decision"].due_on == D(2026, 10, 16)
    assert [b.split(" since")[0] for b in got["decision"].basis if "stopped" in b] == [
        "+15 days: clock stopped for appraisal",
        "+0 days: clock stopped for testing",
    ]


def test_extension_by_the_head_adds_thirty_days():
    dates = CaseDates(procedure="general", filed_on=D(2026, 7, 3), extension_days=30, extensions=1)
    got = deadlines(dates, today=D(2026, 9, 1))
    # 120 days → Sat 31 Oct → Mon 2 Nov.
    assert got["decision"].due_on == D(2026, 11, 2)
    assert any("+30 days" in b for b in got["decision"].basis)


def test_service_and_publication_across_spring_festival_2026():
    dates = CaseDates(procedure="general", filed_on=D(2026, 1, 5), decided_on=D(2026, 2, 10))
    got = deadlines(dates, today=D(2026, 2, 10))
    # Service: 7 days → 17 Feb, inside the holiday (15-23 Feb) → 24 Feb.
    assert got["service"].due_on == D(2026, 2, 24)
    # Publication: 7 working days: 11, 12, 13, Sat 14 (make-up), 24, 25, 26 Feb.
    assert got["publication"].due_on == D(2026, 2, 26)
    assert got["decision"].met_on == D(2026, 2, 10)


def test_a_deadline_reaching_into_2027_is_provisional_until_the_year_is_loaded():
    dates = CaseDates(procedure="general", filed_on=D(2026, 11, 2))
    got = deadlines(dates, today=D(2026, 11, 2))
    assert got["decision"].due_on == D(2027, 2, 1)  # 31 Jan 2027 is a Sunday
    assert got["decision"].provisional is True
    loaded = WorkCalendar(overrides={D(2027, 2, 1): False}, imported_years=frozenset({2027}))
    final = compute_case_deadlines(dates, [], rules=RULES, cal=loaded, today=D(2026, 11, 2))
    assert final[0].due_on == D(2027, 2, 2)
    assert final[0].provisional is False
