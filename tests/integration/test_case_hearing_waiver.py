"""放弃听证: the party declines the hearing within its window, so the case proceeds early."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from backend.audit.tables import AuditEvent
from backend.core import clock
from tests.case_world import Api, build_case_world
from tests.factories import login
from tests.mobile_helpers import device_login

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=10, tzinfo=SHANGHAI)


async def test_a_recorded_hearing_waiver_lets_the_case_be_decided_before_the_window_ends(
    client, db
):
    api = Api(client)
    with clock.travel_to(at("2026-09-01")):
        cw = await build_case_world()
        w = cw.world
        case = await api.post(
            "head_a", "/cases",
            {"matter_id": str(cw.food), "org_unit_id": str(w.town_a), "subject_name": "某超市"},
            expect=201,
        )  # fmt: skip
        cid = case["id"]
        officer_ids = [str(o) for o in w.officers_a[:2]]
        await api.post("leader_a", f"/cases/{cid}/team", {"team_id": str(w.team_a),
                                                          "officer_ids": officer_ids})  # fmt: skip
        await api.post("leader_a", f"/cases/{cid}/transitions/investigate")
        await api.post(
            "officer_a", f"/cases/{cid}/penalty", {"penalty_kind": "fine", "fine_amount": 120000}
        )
        review = await api.post("officer_a", f"/cases/{cid}/reviews", expect=201)
        await api.post("legal", f"/legal-reviews/{review['id']}/pass", {"opinion": "同意"})
        await api.post("officer_a", f"/cases/{cid}/transitions/give_prior_notice")

    with clock.travel_to(at("2026-09-03")):
        # Inside the 5-day window the case cannot be decided...
        early = await api.post("head_a", f"/cases/{cid}/transitions/decide", expect=409)
        assert [u["check"] for u in early["unmet"]] == ["statement_period_over"]
        # ...unless the party declined the hearing: recorded by the case team, not others.
        statement = {"statement": "当事人书面声明放弃听证，签字确认"}
        await api.post("legal", f"/cases/{cid}/hearing/waive", statement, expect=403)
        empty = await api.post("officer_a", f"/cases/{cid}/hearing/waive", {"statement": ""},
                               expect=400)  # fmt: skip
        assert "statement" in empty["detail"]
        case = await api.post("officer_a", f"/cases/{cid}/hearing/waive", statement)
        assert (case["status"], case["hearing_waived_on"]) == ("prior_notice", "2026-09-03")
        again = await api.post("officer_a", f"/cases/{cid}/hearing/waive", statement, expect=409)
        assert [u["check"] for u in again["unmet"]] == ["hearing_not_waived"]
        late_request = await api.post(
            "officer_a", f"/cases/{cid}/transitions/request_hearing", expect=409
        )
        assert [u["check"] for u in late_request["unmet"]] == ["hearing_not_waived"]
        deadlines = {d["kind"]: d for d in await api.get("officer_a", f"/cases/{cid}/deadlines")}
        assert deadlines["hearing_request"]["met_on"] == "2026-09-03"
        case = await api.post("head_a", f"/cases/{cid}/transitions/decide", {"note": "罚款12万元"})
        assert (case["status"], case["decided_on"]) == ("decided", "2026-09-03")

    file = await api.get("officer_a", f"/cases/{cid}/file")
    assert "hearing_waiver" in [d["kind"] for d in file["documents"]]
    waived = await AuditEvent.select().where(
        (AuditEvent.stream == f"case:{cid}") & (AuditEvent.action == "case.hearing_waived")
    )
    assert len(waived) == 1
    assert waived[0]["actor"] == f"user:{w.users['officer_a']}"
    payload = json.loads(waived[0]["payload"])
    assert (payload["waived_on"], payload["window_ends"]) == ("2026-09-03", "2026-09-06")


async def test_the_waiver_is_a_next_action_while_a_hearing_is_offered_and_its_window_open(
    client, db
):
    api = Api(client)
    with clock.travel_to(at("2026-09-01")):
        cw = await build_case_world()
        w = cw.world
        officer_ids = [str(o) for o in w.officers_a[:2]]

        async def at_prior_notice(matter: str, fine: int) -> str:
            case = await api.post(
                "head_a", "/cases", {"matter_id": matter, "subject_name": "某商户"}, expect=201
            )
            cid = str(case["id"])
            await api.post(
                "leader_a", f"/cases/{cid}/team",
                {"team_id": str(w.team_a), "officer_ids": officer_ids, "reason": "指定"},
            )  # fmt: skip
            await api.post("leader_a", f"/cases/{cid}/transitions/investigate")
            await api.post(
                "officer_a", f"/cases/{cid}/penalty", {"penalty_kind": "fine", "fine_amount": fine}
            )
            if fine >= 100000:  # major: a passed legal review first
                review = await api.post("officer_a", f"/cases/{cid}/reviews", expect=201)
                await api.post("legal", f"/legal-reviews/{review['id']}/pass", {})
            await api.post("officer_a", f"/cases/{cid}/transitions/give_prior_notice")
            return cid

        offered = await at_prior_notice(str(cw.food), 120000)  # reaches the hearing threshold
        small = await at_prior_notice(str(cw.vending), 300)

    async def waiver(user: str, cid: str) -> dict[str, Any]:
        listed = await api.get(user, f"/cases/{cid}/next-actions")
        return next(a for a in listed if a["action"] == "waive_hearing")

    async def phone_actions(cid: str) -> list[str]:
        phone = await device_login(client, "officer_a")
        page = (await client.get("/mobile/v1/work", headers=phone["headers"])).json()
        return next(i["next_actions"] for i in page["items"] if i["id"] == cid)

    with clock.travel_to(at("2026-09-03")):
        assert await waiver("officer_a", offered) == {
            "action": "waive_hearing", "target": "prior_notice", "allowed": True,
            "role_ok": True, "unmet": [], "path": f"/api/v1/cases/{offered}/hearing/waive",
        }  # fmt: skip
        # Every listed action names where it is posted: transitions under /transitions/.
        listed = await api.get("officer_a", f"/cases/{offered}/next-actions")
        auditor = await login(client, "auditor")
        own = {"waive_hearing", "submit_review", "transfer_out", "return_review"}
        for item in listed:
            if item["action"] not in own:
                assert item["path"] == f"/api/v1/cases/{offered}/transitions/{item['action']}"
            # The path is routed: a user without the role is refused there (403, not 404).
            body = {
                "waive_hearing": {"statement": "-"},
                "transfer_out": {"kind": "lateral", "reason": "-"},
            }.get(item["action"], {})
            refused = await client.post(item["path"], headers=auditor, json=body)
            assert refused.status_code == 403, (item["action"], refused.text)
        # The legal office sees it, but may not record it.
        legal = await waiver("legal", offered)
        assert (legal["allowed"], legal["role_ok"]) == (False, False)
        assert "waive_hearing" in await phone_actions(offered)
        # No hearing is offered for a small fine: nothing to waive.
        none = await waiver("officer_a", small)
        assert none["allowed"] is False
        assert [u["check"] for u in none["unmet"]] == ["hearing_offered"]
        assert "waive_hearing" not in await phone_actions(small)

    with clock.travel_to(at("2026-09-07")):
        late = await waiver("officer_a", offered)
        assert late["allowed"] is False
        assert [u["check"] for u in late["unmet"]] == ["hearing_window_open"]
        assert "waive_hearing" not in await phone_actions(offered)
        refused = await api.post(
            "officer_a", f"/cases/{offered}/hearing/waive", {"statement": "放弃听证"}, expect=409
        )
        assert [u["check"] for u in refused["unmet"]] == ["hearing_window_open"]
