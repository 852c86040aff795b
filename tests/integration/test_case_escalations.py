"""A case left undecided: warning, overdue and escalated on the right working days, then closed."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from backend.cases.tables import CaseDeadline
from backend.core import clock
from backend.escalations.jobs import sweep_deadlines
from backend.escalations.tables import EscalationRecord
from tests.case_world import Api, build_case_world

SHANGHAI = ZoneInfo("Asia/Shanghai")


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=SHANGHAI)


async def test_undecided_case_escalates_across_national_day_and_closes_when_decided(
    client, db, settings
):
    api = Api(client)
    with clock.travel_to(noon(dt.date(2026, 7, 3))):
        cw = await build_case_world()
        case = await api.post(
            "head_a",
            "/cases",
            {"matter_id": str(cw.food), "org_unit_id": str(cw.world.town_a)},
            expect=201,
        )
    deadline = (
        await CaseDeadline.select()
        .where((CaseDeadline.case == case["id"]) & (CaseDeadline.kind == "decision"))
        .first()
    )
    # 90 days end on 1 Oct, a holiday: the limit moves to the next working day, 8 Oct.
    assert deadline["due_on"] == dt.date(2026, 10, 8)
    target = str(deadline["id"])
    for day, levels in (
        (dt.date(2026, 9, 25), set()),
        (dt.date(2026, 9, 28), {"warning"}),  # 3 WD before 8 Oct: 28, 29, 30 Sep
        (dt.date(2026, 10, 8), {"warning"}),
        (dt.date(2026, 10, 9), {"warning", "overdue"}),
        (dt.date(2026, 10, 10), {"warning", "overdue"}),  # a make-up working Saturday
        (dt.date(2026, 10, 11), {"warning", "overdue", "escalated"}),  # after 9 and 10 Oct
        (dt.date(2026, 10, 12), {"warning", "overdue", "escalated"}),
    ):
        with clock.travel_to(noon(day)):
            await sweep_deadlines(settings=settings)
            await sweep_deadlines(settings=settings)
        rows = await EscalationRecord.select(EscalationRecord.level).where(
            EscalationRecord.target_id == target
        )
        assert sorted(r["level"] for r in rows) == sorted(levels), day

    with clock.travel_to(noon(dt.date(2026, 10, 12))):
        head = await api.get("head_a", f"/escalations?target_id={target}")
        assert head["total"] == 3 and {e["status"] for e in head["items"]} == {"open"}
        # The decision meets the limit (the case's own flow records met_on on deciding).
        await CaseDeadline.update({CaseDeadline.met_on: dt.date(2026, 10, 12)}).where(
            CaseDeadline.id == deadline["id"]
        )
        assert "resolved 1" in await sweep_deadlines(settings=settings)
        closed = await api.get("head_a", f"/escalations?target_id={target}")
        assert {e["status"] for e in closed["items"]} == {"closed"}
