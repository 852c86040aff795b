"""The limitation period (RULES.md; 行政处罚法 art. 36) in filing and in the legal review's
pre-check: counted from the violation, or the end of a continuing one, to the day the
violation was discovered (the lead's receipt, else the filing), not to the decision."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from backend.audit.tables import AuditEvent
from backend.cases import rules
from backend.cases.tables import Case
from backend.core import clock
from tests.case_world import Api, build_case_world
from tests.factories import login

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=10, tzinfo=SHANGHAI)


async def test_limitation_counts_from_the_violation_to_its_discovery(client, db):
    api = Api(client)
    with clock.travel_to(at("2026-07-20")):
        cw = await build_case_world()
        w = cw.world
        body = {"org_unit_id": str(w.town_a), "source": "complaint", "description": "销售过期食品"}
        outside_lead = await api.post("officer_a", "/leads", body, expect=201)
        inside_lead = await api.post("officer_a", "/leads", body, expect=201)

    with clock.travel_to(at("2026-07-24")):
        # A lead cannot be the discovery of a violation that began after it was received.
        later = await api.post(
            "head_a", "/cases",
            {"matter_id": str(cw.food), "lead_id": inside_lead["id"],
             "violation_on": "2026-07-22"},
            expect=400,
        )  # fmt: skip
        assert later["code"] == "case.violation_after_lead"
        assert "2026-07-22" in later["detail"] and "2026-07-20" in later["detail"]
        assert await Case.count() == 0
        # Outside: a one-off violation of 1 March 2024; the period ended on 1 March 2026.
        refused = await api.post(
            "head_a", "/cases",
            {"matter_id": str(cw.food), "lead_id": outside_lead["id"],
             "violation_on": "2024-03-01"},
            expect=409,
        )  # fmt: skip
        assert refused["unmet"] == [
            {
                "check": "limitation",
                "detail": "the limitation period ended on 2026-03-01, before the violation was "
                "discovered on 2026-07-20",
            }
        ]
        assert await Case.count() == 0
        assert await AuditEvent.count().where(AuditEvent.stream.like("case:%")) == 0
        assert (await api.get("head_a", f"/leads/{outside_lead['id']}"))["status"] == "open"
        # Inside: the same start, but the violation went on until 1 August 2024.
        case = await api.post(
            "head_a", "/cases",
            {"matter_id": str(cw.food), "lead_id": inside_lead["id"],
             "violation_on": "2024-03-01", "violation_ended_on": "2024-08-01"},
            expect=201,
        )  # fmt: skip
        cid = case["id"]

    # 1 September 2026: two years after the violation ended, but it was discovered in time,
    # so the pre-check (and the decision) has no limitation veto.
    with clock.travel_to(at("2026-09-01")):
        precheck = await api.get("officer_a", f"/cases/{cid}/precheck")
        assert "limitation_expired" not in [i["item"] for i in precheck]
        # With a one-year period the same case is outside, and the pre-check names the dates.
        admin = await login(client, "admin")
        try:
            shorter = await client.put(
                "/api/v1/case-rules/limitation_years", headers=admin, json={"value": 1}
            )
            assert shorter.status_code == 200, shorter.text
            precheck = await api.get("officer_a", f"/cases/{cid}/precheck")
        finally:
            rules.forget_cache()  # the rules are cached per process, across test databases
        assert [i for i in precheck if i["item"] == "limitation_expired"] == [
            {
                "item": "limitation_expired",
                "detail": "the limitation period ended on 2025-08-01, before the violation was "
                "discovered on 2026-07-20",
            }
        ]
    stored = await Case.select(Case.violation_on, Case.violation_ended_on).where(
        Case.id == uuid.UUID(cid)
    )
    assert stored == [
        {"violation_on": dt.date(2024, 3, 1), "violation_ended_on": dt.date(2024, 8, 1)}
    ]
