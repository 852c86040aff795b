"""A lead left undecided escalates on the right working days through the real scheduler job."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from backend.core import clock
from backend.escalations.jobs import sweep_deadlines
from backend.escalations.tables import EscalationRecord
from tests.factories import build_world, login

SHANGHAI = ZoneInfo("Asia/Shanghai")


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=SHANGHAI)


async def test_undecided_lead_escalates_once_per_level_and_closes_when_decided(
    client, db, settings
):
    with clock.travel_to(noon(dt.date(2026, 9, 25))):
        world = await build_world()
        officer = await login(client, "officer_a")
        response = await client.post(
            "/api/v1/leads",
            headers=officer,
            json={
                "org_unit_id": str(world.town_a),
                "source": "hotline",
                "description": "占道经营",
            },
        )
        assert response.status_code == 201, response.text
        lead = response.json()
        assert lead["decision_due"] == "2026-10-22"  # 15 WD across National Day

    # Due Thu 22 Oct: warning 3 WD before (19 Oct), overdue on 23 Oct, escalated after 2 more
    # working days (23 and 26 Oct).
    for day, levels in (
        (dt.date(2026, 10, 16), set()),
        (dt.date(2026, 10, 19), {"warning"}),
        (dt.date(2026, 10, 22), {"warning"}),
        (dt.date(2026, 10, 23), {"warning", "overdue"}),
        (dt.date(2026, 10, 26), {"warning", "overdue"}),
        (dt.date(2026, 10, 27), {"warning", "overdue", "escalated"}),
    ):
        with clock.travel_to(noon(day)):
            await sweep_deadlines(settings=settings)
        rows = await EscalationRecord.select(EscalationRecord.level).where(
            EscalationRecord.target_id == lead["id"]
        )
        assert sorted(r["level"] for r in rows) == sorted(levels), day

    with clock.travel_to(noon(dt.date(2026, 10, 27))):
        # Nobody is assigned to a lead: the township's squad leader hears first.
        leader = await login(client, "leader_a")
        inbox = (await client.get("/api/v1/notifications", headers=leader)).json()
        assert sorted(n["level"] for n in inbox["items"]) == ["escalated", "overdue", "warning"]
        assert all(n["target_kind"] == "lead" for n in inbox["items"])
        head = await login(client, "head_a")
        escalations = (
            await client.get(f"/api/v1/escalations?target_id={lead['id']}", headers=head)
        ).json()
        assert escalations["total"] == 3
        other = await login(client, "officer_b")
        hidden = (await client.get("/api/v1/escalations", headers=other)).json()
        assert hidden["total"] == 0

        decided = await client.post(
            f"/api/v1/leads/{lead['id']}/not-filed",
            headers=head,
            json={"reason": "不属于违法行为", "version": lead["version"]},
        )
        assert decided.status_code == 200, decided.text
        outcome = await sweep_deadlines(settings=settings)
        assert "resolved 1" in outcome
    rows = await EscalationRecord.select(EscalationRecord.status).where(
        EscalationRecord.target_id == lead["id"]
    )
    assert [r["status"] for r in rows] == ["closed"] * 3
