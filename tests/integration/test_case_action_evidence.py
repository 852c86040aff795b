"""Evidence named on a case action is evidence of the case, kept for good (legal hold).

An item captured for the case is held from its creation; an item captured for something
else (a task photo) must first be attached to the case (``POST /evidence/{id}/cases``:
link row, legal hold, audit event); until then an action naming it is refused and nothing
is stored.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from zoneinfo import ZoneInfo

from backend.audit.tables import AuditEvent
from backend.cases.tables import CaseAction
from backend.core import clock
from backend.evidence.tables import Evidence, EvidenceCaseLink
from tests.case_world import Api, build_case_world, upload_recording
from tests.evidence_kit import declaration, jpeg, put_single, sites
from tests.factories import login

__all__ = ["sites"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def evidence_actions(evidence_id: str) -> list[str]:
    rows = await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.stream == f"evidence:{evidence_id}"
    )
    return [r["action"] for r in rows]


async def case_actions(case_id: str) -> list[dict[str, object]]:
    rows = await AuditEvent.select(AuditEvent.action, AuditEvent.payload).where(
        (AuditEvent.stream == f"case:{case_id}") & (AuditEvent.action == "case.action_recorded")
    )
    return [json.loads(r["payload"]) for r in rows]


async def test_action_evidence_is_the_cases_and_held(client, db, app, sites):
    api = Api(client)
    store = app.state.store
    with clock.travel_to(dt.datetime(2026, 9, 1, 10, tzinfo=SHANGHAI)):
        cw = await build_case_world()
        w = cw.world
        case = await api.post(
            "head_a", "/cases", {"matter_id": str(cw.food), "subject_name": "某超市"}, expect=201
        )
        cid = case["id"]
        officer_ids = [str(o) for o in w.officers_a[:2]]
        team = {"team_id": str(w.team_a), "officer_ids": officer_ids, "reason": "指定"}
        await api.post("leader_a", f"/cases/{cid}/team", team)
        await api.post("leader_a", f"/cases/{cid}/transitions/investigate")

        # Captured for the case: held from the start, in the database and in the store.
        video = await upload_recording(
            client, "officer_a", cid, b"\x00\x00\x00\x18ftypmp42" + bytes(256) * 8,
            captured_at="2026-09-01T01:00:00Z",
        )  # fmt: skip
        seizure = {"kind": "seizure", "at": "2026-09-01T01:00:00Z", "officer_ids": officer_ids}
        await api.post(
            "officer_a", f"/cases/{cid}/actions", {**seizure, "evidence_ids": [video]}, expect=201
        )
        held = await Evidence.select(Evidence.legal_hold, Evidence.object_key).where(
            Evidence.id == uuid.UUID(video)
        )
        assert held[0]["legal_hold"] is True
        assert (await store.stat(held[0]["object_key"])).legal_hold

        # A photo taken at an inspection site: not evidence of the case yet.
        site = uuid.uuid4()
        sites[site] = w.town_a
        officer = await login(client, "officer_a")
        data = jpeg()
        created = await client.post(
            "/mobile/v1/evidence", headers=officer, json=declaration(data, site)
        )
        assert created.status_code == 201, created.text
        photo = str(created.json()["evidence_id"])
        assert (await put_single(client, created.json()["upload"], data)).status_code == 200
        sealed = await client.post(f"/mobile/v1/evidence/{photo}/complete", headers=officer)
        assert sealed.json()["status"] == "sealed", sealed.text

        inspection = {**seizure, "kind": "inspection", "evidence_ids": [photo]}
        refused = await api.post("officer_a", f"/cases/{cid}/actions", inspection, expect=400)
        assert refused["code"] == "case.evidence_not_of_case" and photo in refused["detail"]
        assert await CaseAction.count().where(CaseAction.case == uuid.UUID(cid)) == 1
        assert [a["evidence_ids"] for a in await case_actions(cid)] == [[video]]
        row = await Evidence.select(Evidence.legal_hold).where(Evidence.id == uuid.UUID(photo))
        assert row == [{"legal_hold": False}]
        assert await EvidenceCaseLink.count().where(EvidenceCaseLink.case_id == uuid.UUID(cid)) == 0
        assert "evidence.attached_to_case" not in await evidence_actions(photo)

        # Attached to the case: linked, held (database and store), audited; then it may be named.
        attached = await api.post("officer_a", f"/evidence/{photo}/cases", {"case_id": cid})
        assert attached["legal_hold"] is True
        links = await EvidenceCaseLink.select(EvidenceCaseLink.evidence).where(
            EvidenceCaseLink.case_id == uuid.UUID(cid)
        )
        assert [str(r["evidence"]) for r in links] == [photo]
        assert "evidence.attached_to_case" in await evidence_actions(photo)
        object_key = (
            await Evidence.select(Evidence.object_key).where(Evidence.id == uuid.UUID(photo))
        )[0]["object_key"]
        assert (await store.stat(object_key)).legal_hold
        await api.post("officer_a", f"/cases/{cid}/actions", inspection, expect=201)
        assert [a["evidence_ids"] for a in await case_actions(cid)] == [[video], [photo]]
