"""Transfers between county and townships, and to the police."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from backend.audit.tables import AuditEvent
from backend.core import clock
from tests.case_world import Api, build_case_world

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 2, 10, tzinfo=SHANGHAI)  # a Monday


async def _team(api: Api, user: str, case_id: str) -> None:
    proposal = await api.get(user, f"/cases/{case_id}/team-proposal")
    await api.post(
        user,
        f"/cases/{case_id}/team",
        {
            "team_id": proposal["team_id"],
            "officer_ids": [o["officer_id"] for o in proposal["officers"]],
        },
    )


async def test_township_escalates_an_ungranted_matter_and_the_county_accepts(client, db):
    api = Api(client)
    with clock.travel_to(NOW):
        cw = await build_case_world()
        w = cw.world
        case = await api.post(
            "head_a", "/cases", {"matter_id": str(cw.boiler), "subject_name": "某锅炉房"},
            expect=201,
        )  # fmt: skip
        cid = case["id"]
        await _team(api, "leader_a", cid)
        refused = await api.post("leader_a", f"/cases/{cid}/transitions/investigate", expect=409)
        assert [u["check"] for u in refused["unmet"]] == ["jurisdiction"]
        assert "escalate" in refused["unmet"][0]["detail"]

        # An officer may not send a case away; a squad leader may.
        body = {"kind": "escalate", "to_org_unit_id": str(w.county), "reason": "事项未赋权"}
        await api.post("officer_a", f"/cases/{cid}/transfers", body, expect=403)
        wrong = await api.post(
            "leader_a", f"/cases/{cid}/transfers", {**body, "to_org_unit_id": str(w.town_b)},
            expect=400,
        )  # fmt: skip
        assert wrong["code"] == "transfer.bad_destination"
        transfer = await api.post("leader_a", f"/cases/{cid}/transfers", body, expect=201)
        frozen = await api.post("head_a", f"/cases/{cid}/transitions/suspend", expect=409)
        assert [u["check"] for u in frozen["unmet"]] == ["transfer"]
        # 3 working days from Monday 2 Nov.
        assert transfer["respond_by"] == "2026-11-05"
        manifest = await api.get("head", f"/transfers/{transfer['id']}/manifest")
        assert manifest["manifest"]["documents"][0]["kind"] == "filing_approval"
        assert manifest["manifest"]["audit"][0]["action"] == "case.file"
        assert len(manifest["sha256"]) == 64

        incoming = await api.get("head", "/transfers")
        assert [t["id"] for t in incoming] == [transfer["id"]]
        await api.post("head", f"/transfers/{transfer['id']}/accept", {"reason": "县局办理"})

        moved = await api.get("head", f"/cases/{cid}")
        assert moved["org_unit_id"] == str(w.county)
        assert moved["officers"] == []
        # The township keeps read-only access to what it sent.
        seen = await api.get("head_a", f"/cases/{cid}")
        assert seen["read_only"] is True
        blocked = await api.post("head_a", f"/cases/{cid}/transitions/suspend", expect=403)
        assert blocked["code"] == "case.read_only"
        await _team(api, "head", cid)
        assert (await api.post("head", f"/cases/{cid}/transitions/investigate"))[
            "status"
        ] == "investigating"
    actions = [
        r["action"]
        for r in await AuditEvent.select(AuditEvent.action).where(
            AuditEvent.stream == f"case:{cid}"
        )
    ]
    assert "case.transfer.requested" in actions and "case.transfer.accepted" in actions


async def test_rejected_delegation_returns_the_case_and_outsiders_get_404(client, db):
    api = Api(client)
    with clock.travel_to(NOW):
        cw = await build_case_world()
        w = cw.world
        case = await api.post(
            "head",
            "/cases",
            {"matter_id": str(cw.food), "org_unit_id": str(w.county),
             "area_org_unit_id": str(w.town_a), "subject_name": "某超市"},
            expect=201,
        )  # fmt: skip
        cid = case["id"]
        await _team(api, "head", cid)
        refused = await api.post("head", f"/cases/{cid}/transitions/investigate", expect=409)
        assert "delegate" in refused["unmet"][0]["detail"]

        # A township never sent the case sees nothing and cannot move it.
        await api.get("head_a", f"/cases/{cid}", expect=404)
        await api.get("officer_b", f"/cases/{cid}", expect=404)
        body = {"kind": "delegate", "to_org_unit_id": str(w.town_a), "reason": "已赋权甲镇"}
        await api.post("leader_a", f"/cases/{cid}/transfers", body, expect=404)

        transfer = await api.post("head", f"/cases/{cid}/transfers", body, expect=201)
        assert (await api.get("head_a", f"/cases/{cid}"))["read_only"] is True
        await api.get("officer_b", f"/cases/{cid}", expect=404)
        await api.post(
            "officer_b", f"/transfers/{transfer['id']}/accept", {"reason": "x"}, expect=404
        )
        empty = await api.post("head_a", f"/transfers/{transfer['id']}/reject", expect=400)
        assert empty["code"] == "transfer.reason_required"
        rejected = await api.post(
            "head_a", f"/transfers/{transfer['id']}/reject", {"reason": "涉及两镇，需县局办理"}
        )
        assert rejected["status"] == "rejected"
        assert rejected["response_reason"] == "涉及两镇，需县局办理"
        back = await api.get("head", f"/cases/{cid}")
        assert back["org_unit_id"] == str(w.county)
        assert len(back["officers"]) == 2
        await api.get("head_a", f"/cases/{cid}", expect=404)


async def test_police_transfer_head_decision_hand_over_and_police_acceptance(client, db):
    api = Api(client)
    with clock.travel_to(NOW):
        cw = await build_case_world()
        case = await api.post(
            "head_a", "/cases", {"matter_id": str(cw.food), "subject_name": "某食品厂"},
            expect=201,
        )  # fmt: skip
        cid = case["id"]
        body = {
            "kind": "to_police",
            "police_agency": "县公安局",
            "reason": "涉嫌生产销售有毒有害食品罪",
        }
        alone = await api.post("officer_a", f"/cases/{cid}/transfers", body, expect=409)
        assert [u["check"] for u in alone["unmet"]] == ["officers"]
        await _team(api, "leader_a", cid)
        await api.post("leader_a", f"/cases/{cid}/transitions/investigate")
        transfer = await api.post("officer_a", f"/cases/{cid}/transfers", body, expect=201)
        assert transfer["respond_by"] == "2026-11-05"
        deadlines = {d["kind"]: d for d in await api.get("officer_a", f"/cases/{cid}/deadlines")}
        assert deadlines["police_head_decision"]["due_on"] == "2026-11-05"
        await api.post("leader_a", f"/transfers/{transfer['id']}/approve", expect=403)
        approved = await api.post("head_a", f"/transfers/{transfer['id']}/approve")
        assert approved["status"] == "approved"
        assert approved["handover_due_at"].startswith("2026-11-03T02:00")
    with clock.travel_to(NOW + dt.timedelta(hours=20)):
        handed = await api.post("officer_a", f"/transfers/{transfer['id']}/hand-over")
        assert handed["police_decision_by"] == "2026-11-06"
        decided = await api.post(
            "officer_a",
            f"/transfers/{transfer['id']}/police-decision",
            {"accepted": True, "decision": "公安机关已立案侦查"},
        )
        assert decided["status"] == "police_accepted"
        assert (await api.get("head_a", f"/cases/{cid}"))["status"] == "transferred_out"
