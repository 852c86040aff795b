"""Plans, the hashrank-v1 draw, its public record and verification, tasks, results, publicity."""

from __future__ import annotations

import datetime as dt
import json

from backend import cli
from backend.audit.tables import AuditEvent
from backend.calendar.service import load_calendar
from backend.cases.tables import Lead
from backend.core import clock
from backend.core.auth import system_principal
from backend.inspections import credit_code, deadlines, hashrank, subjects, tasks
from backend.inspections.tables import InspectionTask
from backend.orgs import schemas as os_
from backend.orgs import service as orgs
from backend.orgs.tables import Conflict
from tests.factories import build_world, login

ITEM = {
    "code": "SC-001",
    "name": "食品经营许可情况检查",
    "department": "市场监管",
    "domain": "market",
    "method": "on_site",
    "legal_basis": "《食品安全法》",
    "subject_types": [],
    "ratios": {"A": 0.1, "B": 0.2},
}


def code(n: int) -> str:
    return credit_code.complete(f"913202810{n:08d}")


async def seed_subjects(tmp_path, count: int = 40) -> list[str]:
    lines = ["credit_code,name,org_unit,grid_code,risk_class,abnormal"]
    codes = []
    for n in range(count):
        unit = "C-A" if n % 2 else "C-B"
        risk = "ABCD"[n % 4]
        flagged = "1" if n % 13 == 0 else "0"
        lines.append(f"{code(n)},主体{n},{unit},{unit}-G1-01,{risk},{flagged}")
        codes.append(code(n))
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = await subjects.import_subjects(principal=system_principal("test"), path=path)
    assert report.applied
    return codes


async def test_plan_draw_verify_tasks_results_and_publicity(client, db, tmp_path, capsys):
    world = await build_world(officers_per_team=4)
    codes = await seed_subjects(tmp_path)
    # The townships' officers have a conflict of interest with every subject.
    conflicted = {str(o) for o in world.officers_a + world.officers_b}
    await orgs.record_conflict(
        principal=system_principal("test"),
        data=os_.ConflictIn(officer_id=world.officers_a[0], subject_code=codes[0]),
    )
    await Conflict.insert(
        *[
            Conflict(officer=o, subject_code=c, recorded_at=clock.now())
            for c in codes
            for o in world.officers_a + world.officers_b
            if (o, c) != (world.officers_a[0], codes[0])
        ]
    ).run()
    headers = await login(client, "supervisor")
    response = await client.post("/api/v1/inspection-items", headers=headers, json=ITEM)
    assert response.status_code == 201, response.text

    today = clock.now().date()
    plan_body = {
        "code": "P-2026-1",
        "name": "2026年食品经营抽查",
        "org_unit_id": str(world.county),
        "item_codes": ["SC-001"],
        "planned_start": today.isoformat(),
        "planned_end": (today + dt.timedelta(days=30)).isoformat(),
        "counts": {"flagged": 2},
        "team_size": 2,
        "workload_cap": 20,
        "inspector_team_ids": [str(world.team_a), str(world.team_b), str(world.team_county)],
    }
    for bad, field in (({"team_size": 1}, "team_size"), ({"ratios": {"A": 1.5}}, "ratios")):
        response = await client.post(
            "/api/v1/inspection-plans", headers=headers, json=plan_body | bad
        )
        assert response.status_code == 400 and field in response.json()["detail"]
    response = await client.post("/api/v1/inspection-plans", headers=headers, json=plan_body)
    assert response.status_code == 201, response.text
    plan = response.json()
    assert plan["status"] == "draft" and plan["commitment"] == ""
    assert (await client.get("/public/plans")).json() == []

    response = await client.post(
        f"/api/v1/inspection-plans/{plan['id']}/draw", headers=headers, json={}
    )
    assert response.status_code == 409 and response.json()["code"] == "plan.cannot_draw"
    response = await client.post(f"/api/v1/inspection-plans/{plan['id']}/publish", headers=headers)
    assert response.status_code == 200
    commitment = response.json()["commitment"]
    assert "secret" not in response.json()
    public = (await client.get("/public/plans")).json()
    assert public[0]["commitment"] == commitment and public[0]["algorithm"] == "hashrank-v1"

    response = await client.post(
        f"/api/v1/inspection-plans/{plan['id']}/draw",
        headers=headers,
        json={"entropy": "福彩3D 2026321 期 5 8 1"},
    )
    assert response.status_code == 201, response.text
    drawn = response.json()
    again = await client.post(
        f"/api/v1/inspection-plans/{plan['id']}/draw", headers=headers, json={}
    )
    assert again.status_code == 409

    record = (await client.get(f"/public/draws/{drawn['draw_id']}")).json()
    assert record["commitment"] == commitment
    hashrank.verify(record)
    by_name = {s["name"]: s for s in record["strata"]}
    # A 10 % and B 20 % from the item, C and D from the rule, flagged fixed at 2.
    assert by_name["A"]["quota"] == 1 and by_name["flagged"]["quota"] == 2
    assert by_name["D"]["quota"] == hashrank.quota_for(len(by_name["D"]["pool"]), ratio=0.3)
    assert all(not conflicted & set(a["inspectors"]) for a in record["assignments"])
    skips = [s for a in record["assignments"] for s in a["skipped"]]
    assert skips and all(s["reason"] == "conflict" for s in skips)
    assert {s["inspector_id"] for s in skips} <= conflicted
    listing = (await client.get("/public/draws")).json()
    assert listing[0]["draw_id"] == drawn["draw_id"]

    # Verification from the file alone; one changed selected id fails it.
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    assert cli.main(["draw", "verify", str(path)]) == 0
    assert capsys.readouterr().out.startswith("OK")
    stratum = by_name["D"]
    stratum["selected"][0] = next(c for c in stratum["pool"] if c not in stratum["selected"])
    path.write_text(json.dumps(record), encoding="utf-8")
    assert cli.main(["draw", "verify", str(path)]) == 1
    assert "MISMATCH: stratum D: selected[0]" in capsys.readouterr().out

    # Tasks: one per selected subject, with its team and due date.
    response = await client.get(
        f"/api/v1/inspection-tasks?plan_id={plan['id']}&limit=500", headers=headers
    )
    task_list = response.json()["items"]
    assert len(task_list) == drawn["selected"]
    task = task_list[0]
    assert len(task["inspectors"]) == 2 and task["due_date"] == plan_body["planned_end"]
    officer = task["inspectors"][0]["officer_id"]
    mine = await tasks.tasks_for_officer(principal=system_principal("t"), officer_id=officer)
    assert task["id"] in {str(t.id) for t in mine}
    cursor = max(t.updated_at for t in mine)

    url = f"/api/v1/inspection-tasks/{task['id']}"
    stale = await client.post(f"{url}/check-in", headers=headers, json={"version": 7})
    assert stale.status_code == 409 and stale.json()["code"] == "task.version_conflict"
    checked = await client.post(
        f"{url}/check-in", headers=headers, json={"version": 1, "lat": 31.9, "lon": 120.3}
    )
    assert checked.status_code == 200 and checked.json()["status"] == "checked_in"
    changed = await tasks.tasks_for_officer(
        principal=system_principal("t"), officer_id=officer, since=cursor
    )
    assert [str(t.id) for t in changed] == [task["id"]]
    plan_now = (await client.get(f"/api/v1/inspection-plans/{plan['id']}", headers=headers)).json()
    assert plan_now["status"] == "in_progress"

    bad = await client.post(
        f"{url}/results",
        headers=headers,
        json={"version": 2, "results": [{"item_code": "SC-001", "category": "挺好"}]},
    )
    assert bad.status_code == 400 and bad.json()["code"] == "task.bad_category"
    recorded = await client.post(
        f"{url}/results",
        headers=headers,
        json={
            "version": 2,
            "results": [
                {"item_code": "SC-001", "category": "发现问题待后续处理", "note": "内部备注"}
            ],
        },
    )
    assert recorded.status_code == 200, recorded.text
    inspection_day = today - dt.timedelta(days=1)
    done = await client.post(
        f"{url}/complete",
        headers=headers,
        json={"version": 3, "inspection_date": inspection_day.isoformat()},
    )
    assert done.status_code == 200, done.text
    expected_due = (await load_calendar()).add_working_days(inspection_day, 20)
    assert done.json()["publication_due"] == expected_due.isoformat()
    leads = await Lead.select().where(Lead.source == "inspection").run()
    assert len(leads) == 1 and leads[0]["subject_code"] == task["subject_code"]
    assert leads[0]["source_ref"] == f"inspection_task:{task['id']}:SC-001"
    horizon = clock.now() + dt.timedelta(days=60)
    due_items = [i async for i in deadlines.provide(horizon=horizon, watched=[])]
    publication = [i for i in due_items if i.rule_kind == "inspection.result_publication"]
    assert [(i.target_id, i.resolved) for i in publication] == [(task["id"], False)]
    assert {i.rule_kind for i in due_items} == {
        "inspection.task_due",
        "inspection.result_publication",
    }
    owner = await tasks.resolve_evidence_target(system_principal("t"), task["id"])
    assert str(owner) == task["org_unit_id"]

    for other in task_list[1:]:
        u = f"/api/v1/inspection-tasks/{other['id']}"
        r = await client.post(
            f"{u}/results",
            headers=headers,
            json={"version": 1, "results": [{"item_code": "SC-001", "category": "未发现问题"}]},
        )
        assert r.status_code == 200, r.text
        r = await client.post(f"{u}/complete", headers=headers, json={"version": 2})
        assert r.status_code == 200, r.text
    plan_now = (await client.get(f"/api/v1/inspection-plans/{plan['id']}", headers=headers)).json()
    assert plan_now["status"] == "completed"
    assert (await client.get("/public/results")).json()["total"] == 0
    published = await client.post(
        f"/api/v1/inspection-plans/{plan['id']}/publish-results", headers=headers
    )
    assert published.json()["status"] == "results_published"
    watched = [i async for i in deadlines.provide(horizon=clock.now(), watched=[task["id"]])]
    assert {(i.rule_kind, i.resolved) for i in watched} == {
        ("inspection.task_due", True),
        ("inspection.result_publication", True),
    }
    results = (await client.get("/public/results?limit=500")).json()
    assert results["total"] == len(task_list)
    first = next(r for r in results["items"] if r["task_id"] == task["id"])
    assert first["category"] == "发现问题待后续处理"
    assert first["inspection_date"] == inspection_day.isoformat()
    assert first["inspectors"][0]["certificate_numbers"]
    assert "内部备注" not in json.dumps(results, ensure_ascii=False)
    assert "139" not in json.dumps(first)
    actions = {
        e["action"]
        for e in await AuditEvent.select(AuditEvent.action)
        .where(AuditEvent.stream == f"plan:{plan['id']}")
        .run()
    }
    assert {"plan.published", "plan.drawn", "plan.completed", "plan.results_published"} <= actions

    # The no-repeat window: a second plan on the same item does not draw these subjects again.
    second = plan_body | {
        "code": "P-2026-2",
        "counts": {},
        "ratios": {"A": 1, "B": 1, "C": 1, "D": 1, "flagged": 1},
    }
    response = await client.post("/api/v1/inspection-plans", headers=headers, json=second)
    plan2 = response.json()
    await client.post(f"/api/v1/inspection-plans/{plan2['id']}/publish", headers=headers)
    response = await client.post(
        f"/api/v1/inspection-plans/{plan2['id']}/draw", headers=headers, json={}
    )
    assert response.status_code == 201, response.text
    record2 = (await client.get(f"/public/draws/{response.json()['draw_id']}")).json()
    pool2 = {c for s in record2["strata"] for c in s["pool"]}
    assert pool2 and not pool2 & {t["subject_code"] for t in task_list}
    hashrank.verify(record2)


async def test_draw_that_cannot_staff_every_subject_is_409_and_changes_nothing(
    client, db, tmp_path
):
    world = await build_world(officers_per_team=2)
    await seed_subjects(tmp_path, count=12)
    headers = await login(client, "supervisor")
    await client.post("/api/v1/inspection-items", headers=headers, json=ITEM)
    today = clock.now().date()
    response = await client.post(
        "/api/v1/inspection-plans",
        headers=headers,
        json={
            "code": "P-SHORT",
            "name": "人手不足",
            "org_unit_id": str(world.county),
            "item_codes": ["SC-001"],
            "planned_start": today.isoformat(),
            "planned_end": today.isoformat(),
            "counts": {"A": 3, "B": 3, "C": 3, "D": 3},
            "team_size": 2,
            "workload_cap": 1,
            "inspector_team_ids": [str(world.team_a)],
        },
    )
    plan = response.json()
    await client.post(f"/api/v1/inspection-plans/{plan['id']}/publish", headers=headers)
    response = await client.post(
        f"/api/v1/inspection-plans/{plan['id']}/draw", headers=headers, json={}
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "draw.understaffed" and body["shortfall"]
    assert body["short_subjects"] >= 1
    assert await InspectionTask.count() == 0
    again = (await client.get(f"/api/v1/inspection-plans/{plan['id']}", headers=headers)).json()
    assert again["status"] == "published" and again["draw_id"] is None
