"""Leads: registered from any source, decided (or not) within 15 working days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from backend.audit.tables import AuditEvent
from backend.cases import leads
from backend.cases.tables import Lead
from backend.core import clock
from backend.core.auth import system_principal
from backend.core.db import write_tx
from tests.factories import build_world, login

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_lead_from_hotline_not_filed_with_reason_and_extension(client, db):
    # Received on Friday 25 Sep 2026: 15 working days skip National Day (1-7 Oct) and count
    # the make-up working Saturday 10 Oct: 28-30 Sep, 8-10 Oct, 12-16 Oct, 19-22 Oct.
    with clock.travel_to(dt.datetime(2026, 9, 25, 10, 0, tzinfo=SHANGHAI)):
        world = await build_world()
        officer = await login(client, "officer_a")
        response = await client.post(
            "/api/v1/leads",
            headers=officer,
            json={
                "org_unit_id": str(world.town_a),
                "source": "hotline",
                "source_ref": "12345-0001",
                "description": "夜间施工噪音扰民",
                "grid_id": str(world.grids["C-A-G1-01"]),
                "subject_name": "某建筑公司",
            },
        )
        assert response.status_code == 201, response.text
        lead = response.json()
        assert lead["status"] == "open"
        assert lead["decision_due_provisional"] is False
        assert lead["decision_due"] == "2026-10-22"

        # An officer may not decide; the head may, and must give reasons.
        refused = await client.post(
            f"/api/v1/leads/{lead['id']}/not-filed", headers=officer, json={"reason": "x"}
        )
        assert refused.status_code == 403
        head = await login(client, "head_a")
        extended = await client.post(
            f"/api/v1/leads/{lead['id']}/extend", headers=head, json={"reason": "待检测"}
        )
        assert extended.status_code == 200, extended.text
        assert extended.json()["decision_due"] == "2026-11-12"
        empty = await client.post(
            f"/api/v1/leads/{lead['id']}/not-filed", headers=head, json={"reason": ""}
        )
        assert empty.status_code == 400
        stale = await client.post(
            f"/api/v1/leads/{lead['id']}/not-filed",
            headers=head,
            json={"reason": "不属于违法行为", "version": 1},
        )
        assert stale.status_code == 409
        done = await client.post(
            f"/api/v1/leads/{lead['id']}/not-filed",
            headers=head,
            json={"reason": "不属于违法行为", "version": 2},
        )
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "not_filed"
        assert done.json()["not_filed_reason"] == "不属于违法行为"

        # Township B does not see township A's lead.
        other = await login(client, "officer_b")
        hidden = await client.get(f"/api/v1/leads/{lead['id']}", headers=other)
        assert hidden.status_code == 404
    actions = [
        r["action"]
        for r in await AuditEvent.select(AuditEvent.action)
        .where(AuditEvent.stream == f"lead:{lead['id']}")
        .order_by(AuditEvent.seq)
    ]
    assert actions == ["lead.created", "lead.extended", "lead.not_filed"]


async def test_create_lead_joins_an_outer_transaction(engine):
    world = await build_world(officers_per_team=2)
    async with write_tx():
        lead = await leads.create_lead(
            principal=system_principal("inspections"),
            org_unit_id=world.town_b,
            source="inspection",
            source_ref="task-1",
            subject_code="91320281MA1XXXXX0X",
            subject_name="某超市",
            description="抽查发现过期食品",
        )
    row = await Lead.select(Lead.source, Lead.status).where(Lead.id == lead.id).first()
    assert row == {"source": "inspection", "status": "open"}
