"""The limitation period (RULES.md): 2 years, 5 where life, health or financial safety is
involved, counted from the violation or from the end of a continuing violation, up to the
day the violation was discovered (行政处罚法 art. 36)."""

from __future__ import annotations

import datetime as dt

from backend.cases import lifecycle
from backend.cases.rules import CaseRules


def facts(**kw: object) -> lifecycle.CaseFacts:
    return lifecycle.CaseFacts(status="filed", procedure="general", rules=CaseRules(), **kw)


def test_limitation_counts_from_the_end_of_a_continuing_violation_and_longer_when_serious():
    check = lifecycle.CHECKS["limitation"]
    on = dt.date(2024, 3, 1)
    assert check(facts(today=dt.date(2026, 3, 1), violation_on=on)) == []
    assert check(facts(today=dt.date(2026, 3, 2), violation_on=on)) == [
        "the limitation period ended on 2026-03-01, before the violation was discovered on "
        "2026-03-02"
    ]
    # Discovered in time (the lead came in on 1 March 2026): it may be decided later.
    assert check(facts(today=dt.date(2026, 9, 1), violation_on=on,
                       discovered_on=dt.date(2026, 3, 1))) == []  # fmt: skip
    assert check(facts(today=dt.date(2026, 3, 5), violation_on=on,
                       discovered_on=dt.date(2026, 3, 2))) != []  # fmt: skip
    # A violation that went on until 2025 is counted from its end.
    continuing = facts(
        today=dt.date(2026, 3, 2), violation_on=on, violation_ended_on=dt.date(2025, 1, 10)
    )
    assert continuing.limitation_ends == dt.date(2027, 1, 10) and check(continuing) == []
    serious = facts(today=dt.date(2028, 1, 1), violation_on=on, matter_serious=True)
    assert serious.limitation_ends == dt.date(2029, 3, 1) and check(serious) == []
    # 29 February: the same day two years on does not exist; the period ends on 28 February.
    assert facts(today=on, violation_on=dt.date(2024, 2, 29)).limitation_ends == dt.date(
        2026, 2, 28
    )
    assert check(facts(today=on)) == []  # no violation date: nothing to check
