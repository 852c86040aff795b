"""放弃听证: the party declines the hearing within its window, so the case proceeds early."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from backend.audit.tables import AuditEvent
from backend.core import clock
from tests.case_world import Api, build_case_world

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
