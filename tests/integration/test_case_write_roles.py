"""Role guards of the case writes that keep the status (lifecycle.CASE_WRITES).

Every such write answers 403 naming the roles it needs to a user without them, and
changes nothing (no row, no audit event); a user with the role but outside the case's
scope gets 404; the right role gets past the guard (and succeeds where the status allows).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from backend.audit.tables import AuditEvent
from backend.cases import lifecycle
from backend.cases.tables import (
    Case,
    CaseAction,
    CaseDocument,
    CaseOfficer,
    ClockStop,
    Transfer,
)
from backend.core import clock
from tests.case_world import build_case_world, recording_for
from tests.factories import login

SHANGHAI = ZoneInfo("Asia/Shanghai")
TEAM = ["officer", "squad_leader", "head"]
# Users of the county and of township A (where the cases are) holding none of TEAM's roles.
NOT_TEAM = ("legal", "auditor", "supervisor", "admin_a")


@dataclass(frozen=True)
class Write:
    action: str  # key in lifecycle.CASE_WRITES
    path: str  # formatted with the ids of the test's cases
    body: dict[str, Any]
    roles: list[str]
    right: str
    # What the right user gets with the case as the test leaves it: success, or a refusal
    # that only comes after the role guard (the case is not in the write's status).
    right_status: int
    wrong: tuple[str, ...] = NOT_TEAM
    right_code: str = ""
    # A user of township B with the role: the case is out of scope.
    out_of_scope: tuple[str, ...] = field(default=("officer_b",))


WRITES = [
    Write("propose_penalty", "/cases/{cid}/penalty",
          {"penalty_kind": "fine", "fine_amount": 150000}, TEAM, "officer_a", 200),
    Write("record_action", "/cases/{cid}/actions",
          {"kind": "inspection", "at": "2026-09-01T02:00:00Z", "officer_ids": "{officers}"},
          TEAM, "officer_a", 201),
    Write("attach_action_evidence", "/cases/{cid}/actions/{action}/evidence",
          {"evidence_ids": ["{evidence}"]}, TEAM, "officer_a", 200),
    Write("schedule_hearing", "/cases/{cid}/hearing/schedule",
          {"notice_on": "2026-09-02", "hearing_on": "2026-09-10"}, TEAM, "officer_a", 409,
          right_code="case.bad_status"),
    Write("waive_hearing", "/cases/{cid}/hearing/waive", {"statement": "当事人书面放弃听证"},
          TEAM, "officer_a", 409, right_code="case.bad_status"),
    Write("record_hearing", "/cases/{cid}/hearing/record",
          {"held_on": "2026-09-10", "chair_name": "张主持"}, TEAM, "officer_a", 409,
          right_code="case.bad_status"),
    Write("start_clock_stop", "/cases/{cid}/clock-stops",
          {"reason": "appraisal", "started_on": "2026-09-01"}, TEAM, "officer_a", 201),
    Write("end_clock_stop", "/cases/{cid}/clock-stops/{stop}/end", {"ended_on": "2026-09-01"},
          TEAM, "officer_a", 200),
    Write("publish_decision", "/cases/{cid}/publish", {}, TEAM, "officer_a", 409,
          right_code="case.bad_status"),
    Write("extend_decision", "/cases/{cid}/extensions", {"days": 30, "reason": "案情复杂"},
          ["head"], "head_a", 200, wrong=("officer_a", "leader_a", "legal", "admin_a"),
          out_of_scope=()),
    Write("assign_team", "/cases/{cid}/team",
          {"team_id": "{team}", "officer_ids": "{officers}", "reason": "原办案人员继续办理"},
          ["squad_leader", "head"],
          "leader_a", 200, wrong=("officer_a", "legal", "admin_a"), out_of_scope=()),
    Write("police_hand_over", "/transfers/{transfer}/hand-over", {}, TEAM, "officer_a", 200),
    Write("police_decision", "/transfers/{transfer}/police-decision",
          {"accepted": False, "decision": "不予立案，退回"}, TEAM, "officer_a", 200),
]  # fmt: skip


def fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return ids[value[1:-1]] if value.startswith("{") and value.endswith("}") else value
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


async def snapshot() -> dict[str, Any]:
    """Everything the writes of the table could change."""
    return {
        "cases": await Case.select(Case.id, Case.version, Case.updated_at, Case.status,
                                   Case.penalty_kind, Case.extension_days, Case.team)
        .order_by(Case.id),
        "actions": await CaseAction.select().order_by(CaseAction.id),
        "stops": await ClockStop.select().order_by(ClockStop.id),
        "documents": await CaseDocument.count(),
        "officers": await CaseOfficer.select().order_by(CaseOfficer.id),
        "transfers": await Transfer.select(Transfer.id, Transfer.status, Transfer.version)
        .order_by(Transfer.id),
        "case_events": await AuditEvent.count().where(AuditEvent.stream.like("case:%")),
        "evidence_events": await AuditEvent.count().where(AuditEvent.stream.like("evidence:%")),
    }  # fmt: skip


def test_the_table_covers_every_case_write():
    assert sorted(w.action for w in WRITES) == sorted(lifecycle.CASE_WRITES)
    for w in WRITES:
        assert w.roles == list(lifecycle.CASE_WRITES[w.action].roles), w.action


async def test_case_writes_refuse_the_wrong_role_and_change_nothing(client, db):
    with clock.travel_to(dt.datetime(2026, 9, 1, 10, tzinfo=SHANGHAI)):
        cw = await build_case_world()
        w = cw.world
        users = {
            u: await login(client, u)
            for u in ("head_a", "leader_a", "officer_a", "officer_b", "legal", "auditor",
                      "supervisor", "admin_a")
        }  # fmt: skip

        async def post(user: str, url: str, body: Any = None) -> Any:
            return await client.post(f"/api/v1{url}", headers=users[user], json=body or {})

        async def ok(user: str, url: str, body: Any = None) -> dict[str, Any]:
            response = await post(user, url, body)
            assert response.status_code in (200, 201), response.text
            result: dict[str, Any] = response.json()
            return result

        officers = [str(o) for o in w.officers_a[:2]]

        async def investigating_case(subject: str) -> str:
            case = await ok(
                "head_a", "/cases", {"matter_id": str(cw.food), "subject_name": subject}
            )
            # The named officers, whatever the proposal (an override needs a reason).
            body = {"team_id": str(w.team_a), "officer_ids": officers, "reason": "熟悉该片区"}
            await ok("leader_a", f"/cases/{case['id']}/team", body)
            await ok("leader_a", f"/cases/{case['id']}/transitions/investigate")
            return str(case["id"])

        cid = await investigating_case("某超市")
        seizure = {"kind": "seizure", "at": "2026-09-01T01:00:00Z", "officer_ids": officers}
        action = await ok("officer_a", f"/cases/{cid}/actions", seizure)
        testing = {"reason": "testing", "started_on": "2026-09-01"}
        stop = await ok("officer_a", f"/cases/{cid}/clock-stops", testing)
        police_case = await investigating_case("某食品厂")
        to_police = {"kind": "to_police", "police_agency": "县公安局", "reason": "涉嫌犯罪"}
        transfer = await ok("officer_a", f"/cases/{police_case}/transfers", to_police)
        await ok("head_a", f"/transfers/{transfer['id']}/approve")
        ids = {
            "cid": cid,
            "action": action["id"],
            "stop": stop["id"],
            "transfer": transfer["id"],
            "team": str(w.team_a),
            "officers": officers,
            "evidence": await recording_for(cid, w.town_a),
        }

        for write in WRITES:
            url = write.path.format(**ids)
            body = fill(write.body, ids)
            for user in write.wrong:
                before = await snapshot()
                response = await post(user, url, body)
                assert response.status_code == 403, (write.action, user, response.text)
                error = response.json()
                assert error["code"] == "case.role_forbidden"
                assert error["required_roles"] == write.roles
                what = lifecycle.CASE_WRITES[write.action].what
                assert error["detail"].startswith(
                    f"{what} requires one of the roles: {', '.join(write.roles)}"
                ), error["detail"]
                assert await snapshot() == before, (write.action, user)
            for user in write.out_of_scope:
                before = await snapshot()
                response = await post(user, url, body)
                assert response.status_code == 404, (write.action, user, response.text)
                assert await snapshot() == before, (write.action, user)

        for write in WRITES:
            response = await post(write.right, write.path.format(**ids), fill(write.body, ids))
            assert response.status_code == write.right_status, (write.action, response.text)
            if write.right_code:
                assert response.json()["code"] == write.right_code, write.action

    events = [
        r["action"]
        for r in await AuditEvent.select(AuditEvent.action).where(
            AuditEvent.stream.is_in([f"case:{cid}", f"case:{police_case}"])
        )
    ]
    for expected in ("case.penalty_proposed", "case.action_recorded",
                     "case.action_evidence_attached", "case.clock_stopped", "case.clock_resumed",
                     "case.decision_extended", "case.team_overridden",
                     "case.transfer.handed_over", "case.transfer.police_rejected"):  # fmt: skip
        assert expected in events
    stored = await Case.select(Case.penalty_kind, Case.extension_days).where(Case.id == cid)
    assert stored == [{"penalty_kind": "fine", "extension_days": 30}]
    assert await ClockStop.count().where(ClockStop.ended_on.is_null()) == 1  # appraisal


async def test_suspension_and_hearing_stops_only_come_with_their_transitions(client, db):
    """An officer may stop the clock for testing, but not open a suspension (the head's
    中止) or a hearing stop through the clock-stop endpoint, nor end the head's one."""
    with clock.travel_to(dt.datetime(2026, 9, 1, 10, tzinfo=SHANGHAI)):
        cw = await build_case_world()
        w = cw.world
        users = {u: await login(client, u) for u in ("head_a", "leader_a", "officer_a")}

        async def post(user: str, url: str, body: Any = None) -> Any:
            return await client.post(f"/api/v1{url}", headers=users[user], json=body or {})

        case = (
            await post("head_a", "/cases", {"matter_id": str(cw.food), "subject_name": "某店"})
        ).json()
        cid = case["id"]
        officers = [str(o) for o in w.officers_a[:2]]
        body = {"team_id": str(w.team_a), "officer_ids": officers, "reason": "熟悉该片区"}
        assert (await post("leader_a", f"/cases/{cid}/team", body)).status_code == 200
        assert (await post("leader_a", f"/cases/{cid}/transitions/investigate")).status_code == 200
        for reason in ("suspension", "hearing"):
            before = await snapshot()
            response = await post(
                "officer_a",
                f"/cases/{cid}/clock-stops",
                {"reason": reason, "started_on": "2026-09-01"},
            )
            assert response.status_code == 400, response.text
            assert response.json()["code"] == "case.stop_by_transition"
            assert reason in response.json()["detail"]
            assert await snapshot() == before
        assert (await post("head_a", f"/cases/{cid}/transitions/suspend")).status_code == 200
        stop = await ClockStop.select().where(ClockStop.case == cid).first()
        assert stop["reason"] == "suspension" and stop["ended_on"] is None
        before = await snapshot()
        response = await post(
            "officer_a", f"/cases/{cid}/clock-stops/{stop['id']}/end", {"ended_on": "2026-09-02"}
        )
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "case.stop_by_transition"
        assert await snapshot() == before
        assert (await post("head_a", f"/cases/{cid}/transitions/resume")).status_code == 200
        stop = await ClockStop.select().where(ClockStop.id == stop["id"]).first()
        assert stop["ended_on"] is not None
