"""Cases on the phone: the simplified on-site penalty, once, and the case in the work list."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from backend.cases import service as case_service
from backend.cases.schemas import CaseFileIn
from backend.cases.tables import Case
from backend.core import clock
from backend.core.auth import system_principal
from tests.case_world import Api, build_case_world
from tests.mobile_helpers import device_login, key


async def test_on_site_penalty_once_then_in_the_work_list_until_closed(client, db):
    with clock.travel_to(dt.datetime(2026, 10, 12, 10, tzinfo=ZoneInfo("Asia/Shanghai"))):
        cw = await build_case_world()
        w = cw.world
        phone = await device_login(client, "officer_a")
        body = {
            "matter_id": str(cw.vending),
            "org_unit_id": str(w.town_a),
            "officer_ids": [str(o) for o in w.officers_a[:2]],
            "penalty_kind": "fine",
            "fine_amount": 200,
            "subject_kind": "individual",
            "subject_name": "李某",
            "facts": "占道经营水果摊",
        }
        headers = {**phone["headers"], "Idempotency-Key": key()}
        first = await client.post("/mobile/v1/cases/on-site-decisions", json=body, headers=headers)
        assert first.status_code == 201, first.text
        again = await client.post("/mobile/v1/cases/on-site-decisions", json=body, headers=headers)
        assert again.status_code == 201 and again.json() == first.json()
        assert await Case.count().run() == 1
        decision = first.json()
        assert decision["decision_number"] and decision["case"]["procedure"] == "simplified"
        assert decision["case"]["next_actions"] == ["execute"]

        # Over the simplified limit: refused with the unmet rule, stored, nothing created.
        over = await client.post(
            "/mobile/v1/cases/on-site-decisions",
            json={**body, "fine_amount": 500},
            headers={**phone["headers"], "Idempotency-Key": key()},
        )
        assert over.status_code == 409
        assert [u["check"] for u in over.json()["unmet"]] == ["simplified_limits"]
        assert await Case.count().run() == 1

        page = (await client.get("/mobile/v1/work", headers=phone["headers"])).json()
        case = next(i for i in page["items"] if i["kind"] == "case")
        assert case["id"] == decision["case"]["id"] and case["status"] == "served"
        cursor = page["cursor"]

        # Closed in the office: the phone drops it.
        api = Api(client)
        await api.post("officer_a", f"/cases/{case['id']}/transitions/execute")
        await api.post("leader_a", f"/cases/{case['id']}/transitions/close")
        delta = (
            await client.get(f"/mobile/v1/work?since={cursor}", headers=phone["headers"])
        ).json()
        assert delta["items"] == [] and delta["removed"] == [case["id"]]


async def test_a_case_transferred_out_of_the_township_is_removed_from_the_work_list(client, db):
    api = Api(client)
    with clock.travel_to(dt.datetime(2026, 11, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai"))):
        cw = await build_case_world()
        w = cw.world
        # A boiler case (a matter never granted to townships), filed in township A.
        filed = await case_service.file_case(
            principal=system_principal("test"),
            data=CaseFileIn(matter_id=cw.boiler, org_unit_id=w.town_a, subject_name="某锅炉房"),
        )
        cid = str(filed.id)
        proposal = await api.get("leader_a", f"/cases/{cid}/team-proposal")
        await api.post(
            "leader_a",
            f"/cases/{cid}/team",
            {
                "team_id": proposal["team_id"],
                "officer_ids": [o["officer_id"] for o in proposal["officers"]],
            },
        )
        phone = await device_login(client, "officer_a")
        page = (await client.get("/mobile/v1/work", headers=phone["headers"])).json()
        assert [i["id"] for i in page["items"] if i["kind"] == "case"] == [cid]
        cursor = page["cursor"]

        # Escalated to the county (not granted to the township) and accepted there.
        body = {"kind": "escalate", "to_org_unit_id": str(w.county), "reason": "事项未赋权"}
        transfer = await api.post("leader_a", f"/cases/{cid}/transfers", body, expect=201)
        await api.post("head", f"/transfers/{transfer['id']}/accept", {"reason": "县局办理"})

        delta = (
            await client.get(f"/mobile/v1/work?since={cursor}", headers=phone["headers"])
        ).json()
        assert delta["items"] == [] and delta["removed"] == [cid]
        again = (
            await client.get(f"/mobile/v1/work?since={delta['cursor']}", headers=phone["headers"])
        ).json()
        assert again["items"] == [] and again["removed"] == []
