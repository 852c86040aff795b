"""Testing/appraisal time does not count toward the decision to file a lead (RULES.md)."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from backend.audit.tables import AuditEvent
from backend.cases import deadlines
from backend.core import clock
from tests.case_world import Api
from tests.factories import build_world

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=10, tzinfo=SHANGHAI)


async def lead_items(day: str) -> list[str]:
    horizon = at(day) + dt.timedelta(days=1)
    return [i.target_id async for i in deadlines.provide(horizon=horizon, watched=[])
            if i.target_kind == "lead"]  # fmt: skip


async def test_testing_time_moves_the_filing_decision_deadline_by_its_working_days(client, db):
    api = Api(client)
    with clock.travel_to(at("2026-09-01")):
        w = await build_world()
        lead = await api.post(
            "officer_a", "/leads",
            {"org_unit_id": str(w.town_a), "source": "complaint", "description": "疑似劣质食品"},
            expect=201,
        )  # fmt: skip
        lid = lead["id"]
        # 15 working days after Tue 1 Sep, with the make-up working Sunday 20 Sep: Mon 21 Sep.
        assert lead["decision_due"] == "2026-09-21"

    with clock.travel_to(at("2026-09-18")):
        body = {"reason": "testing", "note": "样品送检"}
        await api.post("legal", f"/leads/{lid}/clock-stops", body, expect=403)
        bad = await api.post("officer_a", f"/leads/{lid}/clock-stops", {"reason": "x"}, expect=400)
        assert "reason" in bad["detail"]
        await api.post("officer_a", f"/leads/{lid}/clock-stops", body)
        twice = await api.post("officer_a", f"/leads/{lid}/clock-stops", body, expect=409)
        assert twice["code"] == "lead.clock_stopped"

    with clock.travel_to(at("2026-09-22")):
        # Past the old due date, but paused: the escalation sweep does not report it.
        assert lid not in await lead_items("2026-09-22")

    with clock.travel_to(at("2026-09-28")):
        lead = await api.post(
            "officer_a", f"/leads/{lid}/clock-stops/end", {"note": "检测报告已出"}
        )
        # Stopped from 18 Sep until the 28th (which counts again): 6 working days (18, the
        # make-up Sunday 20, 21-24 Sep; 25 Sep is the Mid-Autumn holiday) → 6 working days
        # after 21 Sep (22-24, 28-30 Sep): 30 Sep.
        assert lead["decision_due"] == "2026-09-30"
        again = await api.post("officer_a", f"/leads/{lid}/clock-stops/end", {}, expect=409)
        assert again["code"] == "lead.clock_running"
        assert lid not in await lead_items("2026-09-28")
    with clock.travel_to(at("2026-09-30")):
        assert lid in await lead_items("2026-09-30")

    events = await AuditEvent.select().where(AuditEvent.stream == f"lead:{lid}")
    resumed = json.loads(events[-1]["payload"])
    assert [e["action"] for e in events] == ["lead.created", "lead.clock_stopped",
                                             "lead.clock_resumed"]  # fmt: skip
    assert resumed["decision_due"] == "2026-09-30"
    assert resumed["basis"].startswith("+6 working days: clock stopped for testing from 2026-09-18")
