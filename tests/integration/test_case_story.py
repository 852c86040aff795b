"""Story tests of the case lifecycle: the general procedure and the simplified procedure."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import uuid
import zipfile
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.audit.tables import AuditEvent
from backend.cases import casefile
from backend.cases.tables import CaseDeadline
from backend.core import clock
from backend.core.auth import system_principal
from backend.core.errors import NotFound
from backend.evidence import service as evidence
from storage import ObjectMissing
from tests.case_world import Api, build_case_world, recording_for, upload_recording
from tests.factories import login

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=SHANGHAI)


async def test_general_procedure_from_lead_to_closed_case(client, db):
    api = Api(client)
    with clock.travel_to(at("2026-09-01")):
        cw = await build_case_world()
        w = cw.world
        lead = await api.post(
            "officer_a",
            "/leads",
            {"org_unit_id": str(w.town_a), "source": "complaint", "description": "超市销售过期食品",
             "subject_code": "91320281MA1XXXXX0X", "subject_name": "某超市",
             "grid_id": str(w.grids["C-A-G1-01"])},
            expect=201,
        )  # fmt: skip
        # Filing is the head's decision.
        await api.post(
            "officer_a", "/cases", {"matter_id": str(cw.food), "lead_id": lead["id"]}, expect=403
        )
        case = await api.post(
            "head_a",
            "/cases",
            {"matter_id": str(cw.food), "lead_id": lead["id"], "violation_on": "2026-08-30"},
            expect=201,
        )
        cid = case["id"]
        assert case["status"] == "filed"
        assert case["subject_name"] == "某超市"
        assert (await api.get("head_a", f"/leads/{lead['id']}"))["status"] == "filed"

        # Wrong role → 403; no officers yet → 409 naming the unmet precondition.
        await api.post("officer_a", f"/cases/{cid}/transitions/investigate", expect=403)
        refused = await api.post("leader_a", f"/cases/{cid}/transitions/investigate", expect=409)
        assert refused["code"] == "case.preconditions_unmet"
        assert [u["check"] for u in refused["unmet"]] == ["officers"]

        proposal = await api.get("leader_a", f"/cases/{cid}/team-proposal")
        assert proposal["team_id"] == str(w.team_a)
        assert len(proposal["officers"]) == 2
        officer_ids = [o["officer_id"] for o in proposal["officers"]]
        await api.post(
            "leader_a", f"/cases/{cid}/team", {"team_id": proposal["team_id"],
                                               "officer_ids": officer_ids}
        )  # fmt: skip
        case = await api.post("leader_a", f"/cases/{cid}/transitions/investigate")
        assert case["status"] == "investigating"

        seizure = await api.post(
            "officer_a",
            f"/cases/{cid}/actions",
            {"kind": "seizure", "at": "2026-09-02T02:00:00Z", "officer_ids": officer_ids},
            expect=201,
        )
        await api.post(
            "officer_a",
            f"/cases/{cid}/penalty",
            {"penalty_kind": "fine", "fine_amount": 150000, "facts": "销售过期食品 120 件"},
        )
        # A major decision: no prior notice before a passed legal review.
        refused = await api.post(
            "officer_a", f"/cases/{cid}/transitions/give_prior_notice", expect=409
        )
        assert [u["check"] for u in refused["unmet"]] == ["review_passed_if_major"]

        listed = await api.get("legal", f"/cases/{cid}/next-actions")
        paths = {a["action"]: a["path"] for a in listed}
        assert paths["submit_review"] == f"/api/v1/cases/{cid}/reviews"
        first = await api.post("officer_a", f"/cases/{cid}/reviews", expect=201)
        assert [i["item"] for i in first["precheck"]] == ["recording_missing"]
        # The return is posted on the review itself, which the next actions name.
        listed = await api.get("legal", f"/cases/{cid}/next-actions")
        paths = {a["action"]: a["path"] for a in listed}
        assert paths["return_review"] == f"/api/v1/legal-reviews/{first['id']}/return"
        # An investigator cannot review; the veto blocks a pass; the reviewer returns it.
        veto = await api.post("legal", f"/legal-reviews/{first['id']}/pass", expect=409)
        assert veto["code"] == "legal_review.veto"
        returned = await api.post(
            "legal",
            f"/legal-reviews/{first['id']}/return",
            {"issues": ["扣押现场未全程录像", "补充询问笔录"]},
        )
        assert returned["issues"] == ["1. 扣押现场未全程录像", "2. 补充询问笔录"]
        assert (await api.get("leader_a", f"/cases/{cid}"))["status"] == "investigating"

    with clock.travel_to(at("2026-09-04")):
        # The seizure's video, uploaded from the officer's phone and sealed by the evidence
        # domain (local store), is attached to the seizure: the veto item goes away.
        video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64
        evidence_id = await upload_recording(
            client, "officer_a", cid, video, captured_at="2026-09-02T02:00:00Z"
        )
        # Evidence of no case (or another case) cannot be attached.
        foreign = await api.post(
            "officer_a", f"/cases/{cid}/actions/{seizure['id']}/evidence",
            {"evidence_ids": [str(uuid.uuid4())]}, expect=400,
        )  # fmt: skip
        assert foreign["code"] == "case.evidence_not_of_case"
        await api.post(
            "officer_a",
            f"/cases/{cid}/actions/{seizure['id']}/evidence",
            {"evidence_ids": [evidence_id]},
        )
        file = await api.get("officer_a", f"/cases/{cid}/file")
        assert [(e["id"], e["sha256"], e["status"]) for e in file["evidence"]] == [
            (evidence_id, hashlib.sha256(video).hexdigest(), "sealed")
        ]
        assert "evidence.sealed" in [c["action"] for c in file["evidence"][0]["custody"]]
        second = await api.post("officer_a", f"/cases/{cid}/reviews", expect=201)
        assert second["precheck"] == []
        passed = await api.post("legal", f"/legal-reviews/{second['id']}/pass", {"opinion": "同意"})
        assert passed["status"] == "passed"
        case = await api.post(
            "officer_a", f"/cases/{cid}/transitions/give_prior_notice", {"note": "拟罚款15万元"}
        )
        assert case["status"] == "prior_notice"
        # The party still has 5 days to ask for a hearing.
        early = await api.post("head_a", f"/cases/{cid}/transitions/decide", expect=409)
        assert [u["check"] for u in early["unmet"]] == ["statement_period_over"]
        case = await api.post("officer_a", f"/cases/{cid}/transitions/request_hearing")
        assert case["status"] == "hearing"
        too_soon = await api.post(
            "officer_a",
            f"/cases/{cid}/hearing/schedule",
            {"notice_on": "2026-09-07", "hearing_on": "2026-09-10"},
            expect=400,
        )
        assert too_soon["code"] == "case.hearing_notice_too_late"
        await api.post(
            "officer_a",
            f"/cases/{cid}/hearing/schedule",
            {"notice_on": "2026-09-07", "hearing_on": "2026-09-15"},
        )
        not_held = await api.post("head_a", f"/cases/{cid}/transitions/decide", expect=409)
        assert [u["check"] for u in not_held["unmet"]] == ["hearing_held_if_requested"]
        investigator = await api.post(
            "officer_a",
            f"/cases/{cid}/hearing/record",
            {"held_on": "2026-09-15", "chair_name": "张主持", "chair_officer_id": officer_ids[0]},
            expect=400,
        )
        assert investigator["code"] == "case.hearing_chair_investigator"
        await api.post(
            "officer_a",
            f"/cases/{cid}/hearing/record",
            {"held_on": "2026-09-15", "chair_name": "张主持", "summary": "当事人陈述申辩"},
        )

    with clock.travel_to(at("2026-09-16")):
        case = await api.post(
            "head_a", f"/cases/{cid}/transitions/decide", {"note": "罚款人民币15万元"}
        )
        assert case["status"] == "decided"
        assert case["decided_on"] == "2026-09-16"
        # Service before execution.
        early = await api.post("officer_a", f"/cases/{cid}/transitions/execute", expect=409)
        assert {u["check"] for u in early["unmet"]} == {"status", "served"}
        await api.post("officer_a", f"/cases/{cid}/transitions/serve", {"note": "直接送达"})
        await api.post("officer_a", f"/cases/{cid}/publish")
        deadlines = {d["kind"]: d for d in await api.get("officer_a", f"/cases/{cid}/deadlines")}
        decision = deadlines["decision"]
        assert decision["met_on"] == "2026-09-16"
        # 90 days from 1 Sep (30 Nov) plus the 11-day hearing stop (4 → 15 Sep): 11 Dec 2026.
        assert decision["due_on"] == "2026-12-11"
        assert any("clock stopped for hearing" in b for b in decision["basis"])
        assert deadlines["service"]["met_on"] == "2026-09-16"
        # Publication: 7 working days after 16 Sep, counting the make-up Sunday 20 Sep: 24 Sep.
        assert deadlines["publication"]["due_on"] == "2026-09-24"
        assert deadlines["payment"]["due_on"] == "2026-10-08"

    with clock.travel_to(at("2026-09-28")):
        await api.post("officer_a", f"/cases/{cid}/transitions/execute", {"note": "已缴纳罚款"})
        await api.post("officer_a", f"/cases/{cid}/transitions/close", expect=403)
        case = await api.post("leader_a", f"/cases/{cid}/transitions/close")
        assert case["status"] == "closed"
        stale = await api.post(
            "head", f"/cases/{cid}/transitions/archive", {"version": case["version"] - 1},
            expect=409,
        )  # fmt: skip
        assert stale["code"] == "case.version_conflict"
        case = await api.post(
            "head", f"/cases/{cid}/transitions/archive", {"version": case["version"]}
        )
        assert case["status"] == "archived"

        # 案卷评查: the sheet comes pre-filled (no veto items on this file); the legal office
        # scores it and the statistics count it for the team and the township.
        sheet = await api.get("legal", f"/cases/{cid}/score-sheet")
        assert sheet["veto_prefilled"] == []
        points = {i["code"]: i["max_points"] for i in sheet["form"] + sheet["substance"]}
        points["discretion_applied"] = 15
        await api.post("officer_a", f"/cases/{cid}/score", {"points": points}, expect=403)
        score = await api.post("legal", f"/cases/{cid}/score", {"points": points}, expect=201)
        assert (score["form_points"], score["substance_points"]) == (20, 75)
        assert (score["total"], score["grade"]) == (95, "excellent")
        await api.post("legal", f"/cases/{cid}/score", {"points": points}, expect=409)
        by_team = await api.get("head", "/file-scores/stats?by=team")
        assert [(s["group_id"], s["files"], s["average"]) for s in by_team] == [
            (str(w.team_a), 1, 95.0)
        ]
        by_town = await api.get("head_a", "/file-scores/stats?by=org_unit")
        assert [(s["group_name"], s["excellent"]) for s in by_town] == [("甲镇", 1)]

    actions = [
        r["action"]
        for r in await AuditEvent.select(AuditEvent.action)
        .where(AuditEvent.stream == f"case:{cid}")
        .order_by(AuditEvent.seq)
    ]
    assert actions[0] == "case.file"
    for expected in (
        "case.team_confirmed", "case.investigate", "case.submit_review", "case.return_review",
        "case.review_passed", "case.give_prior_notice", "case.request_hearing",
        "case.hearing_held", "case.decide", "case.serve", "case.execute", "case.close",
        "case.archive", "case.scored",
    ):  # fmt: skip
        assert expected in actions
    stored = await CaseDeadline.select(CaseDeadline.kind, CaseDeadline.met_on).where(
        CaseDeadline.case == uuid.UUID(cid)
    )
    assert all(d["met_on"] is not None for d in stored if d["kind"] != "hearing_request")


async def test_simplified_procedure_on_site(client, db):
    api = Api(client)
    with clock.travel_to(at("2026-10-12")):
        cw = await build_case_world()
        w = cw.world
        too_much = await api.post(
            "officer_a",
            "/cases/on-site",
            {"matter_id": str(cw.vending), "org_unit_id": str(w.town_a),
             "officer_ids": [str(o) for o in w.officers_a[:2]], "penalty_kind": "fine",
             "fine_amount": 500, "subject_kind": "individual", "subject_name": "李某"},
            expect=409,
        )  # fmt: skip
        assert [u["check"] for u in too_much["unmet"]] == ["simplified_limits"]
        alone = await api.post(
            "officer_a",
            "/cases/on-site",
            {"matter_id": str(cw.vending), "org_unit_id": str(w.town_a),
             "officer_ids": [str(w.officers_a[1])], "penalty_kind": "warning"},
            expect=409,
        )  # fmt: skip
        assert [u["check"] for u in alone["unmet"]] == ["officers"]
        case = await api.post(
            "officer_a",
            "/cases/on-site",
            {"matter_id": str(cw.vending), "org_unit_id": str(w.town_a),
             "officer_ids": [str(o) for o in w.officers_a[:2]], "penalty_kind": "fine",
             "fine_amount": 200, "subject_kind": "individual", "subject_name": "李某",
             "facts": "占道经营水果摊"},
            expect=201,
        )  # fmt: skip
        assert case["procedure"] == "simplified"
        assert case["status"] == "served"
        assert case["served_on"] == "2026-10-12"
        nxt = await api.get("officer_a", f"/cases/{case['id']}/next-actions")
        assert [a["action"] for a in nxt if a["allowed"]] == ["execute"]
        await api.post("officer_a", f"/cases/{case['id']}/transitions/execute")
        closed = await api.post("leader_a", f"/cases/{case['id']}/transitions/close")
        assert closed["status"] == "closed"
        # The general procedure's steps are not part of the simplified one.
        listing = await api.get("leader_a", "/cases?status=closed")
        assert [c["id"] for c in listing["items"]] == [case["id"]]


def zf_read(bundle, name: str) -> bytes:
    with zipfile.ZipFile(bundle) as zf:
        return zf.read(name)


async def warned_on_site(api: Api, cw: Any) -> dict[str, Any]:
    """A simplified-procedure case of township A: a warning on the spot."""
    case: dict[str, Any] = await api.post(
        "officer_a",
        "/cases/on-site",
        {"matter_id": str(cw.vending), "org_unit_id": str(cw.world.town_a),
         "officer_ids": [str(o) for o in cw.world.officers_a[:2]], "penalty_kind": "warning",
         "subject_kind": "individual", "subject_name": "王某", "facts": "占道经营，当场警告"},
        expect=201,
    )  # fmt: skip
    return case


async def drain_export(case_id: str, store: Any) -> None:
    """Export the case's file and read it to the end (or the error)."""
    chunks = await casefile.export_bundle(
        principal=system_principal("test"), case_id=uuid.UUID(case_id), store=store
    )
    async for _ in chunks:
        pass


async def test_case_file_export_verifies_and_fails_after_one_byte_changes(
    client, db, app, tmp_path, capsys
):
    from backend.cli import main

    api = Api(client)
    with clock.travel_to(at("2026-10-12")):
        cw = await build_case_world()
        case = await warned_on_site(api, cw)
        video = bytes(range(256)) * 2048  # 512 KiB
        evidence_id = await recording_for(
            case["id"], cw.world.town_a, store=app.state.store, data=video
        )
        photo = b"\xff\xd8 a second original"
        second_id = await recording_for(
            case["id"], cw.world.town_a, store=app.state.store, data=photo
        )
        file = await api.get("officer_a", f"/cases/{case['id']}/file")
        assert [d["stage"] for d in file["documents"]] == ["decision", "service"]
        assert [(e["id"], e["sha256"]) for e in file["evidence"]] == [
            (evidence_id, hashlib.sha256(video).hexdigest()),
            (second_id, hashlib.sha256(photo).hexdigest()),
        ]
        assert file["timeline"][0]["action"] == "case.decide_on_site"
        headers = await login(client, "officer_a")
        response = await client.get(f"/api/v1/cases/{case['id']}/file/export", headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/zip"
    bundle = tmp_path / "case.zip"
    bundle.write_bytes(response.content)
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        original = zf.read(f"evidence/{evidence_id}/{hashlib.sha256(video).hexdigest()}")
    assert original == video
    assert manifest["evidence"][0]["sealed_sha256"] == hashlib.sha256(video).hexdigest()
    assert zf_read(bundle, f"evidence/{second_id}/{hashlib.sha256(photo).hexdigest()}") == photo
    # One custody event per original, each in the item's own stream, naming the export.
    exported = await AuditEvent.select().where(AuditEvent.action == "case.file_exported")
    export_id = json.loads(exported[0]["payload"])["export_id"]
    custody = await AuditEvent.select().where(AuditEvent.action == "evidence.exported")
    assert sorted(r["stream"] for r in custody) == sorted(
        [f"evidence:{evidence_id}", f"evidence:{second_id}"]
    )
    for event in custody:
        payload = json.loads(event["payload"])
        assert event["actor"] == f"user:{cw.world.users['officer_a']}"
        assert payload["address"] == "127.0.0.1"
        assert payload["export"] == {
            "kind": "case_file", "export_id": export_id, "case_id": case["id"]
        }  # fmt: skip
        assert payload["purpose"] == "case_file"
    # A batch naming an unknown item releases nothing and records nothing.
    with pytest.raises(NotFound):
        await evidence.export_originals(
            principal=system_principal("test"),
            evidence_ids=[uuid.UUID(evidence_id), uuid.uuid4()],
            purpose="case_file",
            export={},
        )
    assert await AuditEvent.count().where(AuditEvent.action == "evidence.exported") == 2
    # An original missing from the store ends the export with the store's error (no hang).
    await recording_for(case["id"], cw.world.town_a)  # a sealed record without bytes

    with pytest.raises(ObjectMissing):
        await asyncio.wait_for(drain_export(case["id"], app.state.store), timeout=30)
    assert names[-1] == "manifest.json"
    assert {f["path"] for f in manifest["files"]} == set(names) - {"manifest.json"}
    assert manifest["order"] == ["立案", "调查", "审查", "决定", "送达", "执行"]
    assert main(["casefile", "verify", str(bundle)]) == 0

    data = bytearray(bundle.read_bytes())
    offset = data.index("占道经营，当场警告".encode())
    data[offset] ^= 0x01
    bundle.write_bytes(bytes(data))
    assert main(["casefile", "verify", str(bundle)]) == 1
    assert "documents/" in capsys.readouterr().out


async def test_case_file_export_certifies_the_sealed_hash_not_whatever_the_store_returns(
    client, db, app, tmp_path, capsys
):
    """The manifest names each original by the hash it was sealed with; stored bytes that
    differ from the sealed record make ``casefile verify`` fail on that original, and bytes of
    another length end the export with a storage error."""
    from backend.cli import main
    from storage import StorageError

    api = Api(client)
    with clock.travel_to(at("2026-10-12")):
        cw = await build_case_world()
        case = await warned_on_site(api, cw)
        good = await recording_for(case["id"], cw.world.town_a, store=app.state.store)
        altered = await recording_for(
            case["id"], cw.world.town_a, store=app.state.store, data=b"X" * 64, sealed=b"Y" * 64
        )
        response = await client.get(
            f"/api/v1/cases/{case['id']}/file/export", headers=await login(client, "officer_a")
        )
        assert response.status_code == 200
    bundle = tmp_path / "case.zip"
    bundle.write_bytes(response.content)
    with zipfile.ZipFile(bundle) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    sealed = hashlib.sha256(b"Y" * 64).hexdigest()
    assert {e["id"]: e["sealed_sha256"] for e in manifest["evidence"]} == {
        good: hashlib.sha256(b"mp4").hexdigest(),
        altered: sealed,
    }
    capsys.readouterr()
    assert main(["casefile", "verify", str(bundle)]) == 1
    out = capsys.readouterr().out
    assert f"evidence/{altered}/{sealed}: SHA-256 does not match the manifest" in out
    assert good not in out

    await recording_for(
        case["id"], cw.world.town_a, store=app.state.store, data=b"short", sealed=b"longer!"
    )

    with pytest.raises(StorageError, match="the store returned 5 bytes, sealed with 7"):
        await asyncio.wait_for(drain_export(case["id"], app.state.store), timeout=30)
    failed = await AuditEvent.select().where(AuditEvent.action == "evidence.integrity_failed")
    assert len(failed) == 1
    assert json.loads(failed[0]["payload"])["read_size"] == 5


async def test_provisional_2027_deadline_becomes_final_after_the_schedule_is_imported(
    client, db, settings
):
    from backend.calendar.service import forget_cache
    from backend.cases.jobs import recompute_provisional_deadlines

    forget_cache()  # the calendar snapshot is cached per process, across test databases
    api = Api(client)
    with clock.travel_to(at("2026-11-02")):
        cw = await build_case_world()
        case = await api.post(
            "head_a", "/cases", {"matter_id": str(cw.vending), "subject_name": "某摊贩"},
            expect=201,
        )  # fmt: skip
        decision = (await api.get("head_a", f"/cases/{case['id']}/deadlines"))[0]
        assert decision["kind"] == "decision"
        assert (decision["due_on"], decision["provisional"]) == ("2027-02-01", True)
        assert "provisional" in decision["warning"]
        await api.post(
            "admin",
            "/calendar/overrides",
            {"days": [{"date": "2027-02-01", "working": False, "name": "测试调休"}],
             "complete_years": [2027], "source": "国务院办公厅通知"},
            expect=201,
        )  # fmt: skip
        outcome = await recompute_provisional_deadlines(settings=settings)
        assert outcome.startswith("recomputed the deadlines of 1 case")
        decision = (await api.get("head_a", f"/cases/{case['id']}/deadlines"))[0]
        assert (decision["due_on"], decision["provisional"]) == ("2027-02-02", False)
        stored = await CaseDeadline.select(CaseDeadline.due_on, CaseDeadline.provisional).where(
            (CaseDeadline.case == uuid.UUID(case["id"])) & (CaseDeadline.kind == "decision")
        )
        assert stored == [{"due_on": dt.date(2027, 2, 2), "provisional": False}]
