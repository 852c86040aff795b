"""Replacements after a draw reuse its ranking and are audited; the item list imports."""

from __future__ import annotations

import datetime as dt

from backend.audit.tables import AuditEvent
from backend.core import clock
from backend.core.auth import system_principal
from backend.inspections import hashrank, service
from backend.inspections import schemas as s
from backend.inspections.tables import InspectionItem, InspectionTask, TaskInspector
from tests.factories import build_world, login
from tests.integration.test_inspections_draw import ITEM, seed_subjects


async def test_replacements_reuse_the_ranking_and_items_import(client, db, tmp_path):
    world = await build_world(officers_per_team=3)
    await seed_subjects(tmp_path, count=24)
    headers = await login(client, "supervisor")

    items_csv = tmp_path / "items.csv"
    items_csv.write_text(
        "事项编码,事项名称,部门,领域,检查方式,法律依据,比例A,比例D\n"
        "SC-001,食品经营许可情况检查,市场监管,market,现场检查,《食品安全法》,3%,0.3\n"
        "SC-002,年报公示检查,市场监管,market,书面检查,《企业信息公示暂行条例》,5%,\n",
        encoding="utf-8",
    )
    report = await service.import_items(principal=system_principal("t"), path=items_csv)
    assert (report.applied, report.inserted) == (True, 2)
    row = await InspectionItem.select().where(InspectionItem.code == "SC-001").first()
    assert row["method"] == "on_site"
    assert service.decoded(row["ratios"]) == {"A": 0.03, "D": 0.3}
    bad = tmp_path / "bad-items.csv"
    bad.write_text("code,name,department,domain,method\nX-1,x,d,market,teleport\n", "utf-8")
    response = await client.post(
        "/api/v1/inspection-items/import",
        headers=headers,
        files={"data": ("bad.csv", bad.read_bytes(), "text/csv")},
    )
    assert response.status_code == 400 and response.json()["rejected"][0]["line"] == 2
    assert await InspectionItem.count() == 2

    today = clock.now().date()
    plan = await service.create_plan(
        principal=system_principal("t"),
        data=s.PlanIn(
            code="P-R",
            name="替换",
            org_unit_id=world.county,
            item_codes=[ITEM["code"]],
            planned_start=today,
            planned_end=today + dt.timedelta(days=10),
            counts={"A": 2, "B": 2},
            inspector_team_ids=[world.team_a, world.team_b, world.team_county],
        ),
    )
    await service.publish_plan(principal=system_principal("t"), plan_id=plan.id)
    drawn = await client.post(
        f"/api/v1/inspection-plans/{plan.id}/draw", headers=headers, json={"entropy": "x"}
    )
    draw_id = drawn.json()["draw_id"]
    record = (await client.get(f"/public/draws/{draw_id}")).json()
    seed = bytes.fromhex(record["seed"])
    task = (
        await InspectionTask.select()
        .where((InspectionTask.plan == plan.id) & (InspectionTask.stratum == "A"))
        .order_by(InspectionTask.subject_code)
        .first()
    )

    # An inspector goes on leave: the next eligible one in this subject's walk takes over.
    team = next(a for a in record["assignments"] if a["subject_id"] == task["subject_code"])
    leaving = team["inspectors"][0]
    response = await client.post(
        f"/api/v1/inspection-tasks/{task['id']}/replace-inspector",
        headers=headers,
        json={"officer_id": leaving, "reason": "病假"},
    )
    assert response.status_code == 201, response.text
    walk = hashrank.inspector_order(seed, task["subject_code"], record["inspector_pool"])
    passed = set(team["inspectors"]) | {x["inspector_id"] for x in team["skipped"]}
    expected = next(i for i in walk if i not in passed)
    assert response.json()["replacement"] == expected
    active = await TaskInspector.select(TaskInspector.officer).where(
        (TaskInspector.task == task["id"]) & TaskInspector.active.eq(True)
    )
    assert {str(r["officer"]) for r in active} == {team["inspectors"][1], expected}

    # The subject was deregistered: the next subject of its stratum's ranking gets a task.
    response = await client.post(
        f"/api/v1/inspection-tasks/{task['id']}/replace-subject",
        headers=headers,
        json={"reason": "已注销"},
    )
    assert response.status_code == 201, response.text
    stratum = next(x for x in record["strata"] if x["name"] == task["stratum"])
    ranking = hashrank.rank(seed, stratum["name"], stratum["pool"])
    assert response.json()["replacement"] == ranking[stratum["quota"]]
    old = await InspectionTask.select().where(InspectionTask.id == task["id"]).first()
    assert old["status"] == "cancelled" and old["cancel_reason"] == "已注销"
    new = (
        await InspectionTask.select()
        .where(InspectionTask.subject_code == ranking[stratum["quota"]])
        .first()
    )
    assert str(new["draw"]) == draw_id and new["status"] == "assigned"
    listed = (await client.get(f"/public/draws/{draw_id}/replacements")).json()
    assert [r["kind"] for r in listed] == ["inspector", "subject"]
    actions = [
        e["action"]
        for e in await AuditEvent.select(AuditEvent.action)
        .where(AuditEvent.stream == f"draw:{draw_id}")
        .order_by(AuditEvent.seq)
    ]
    assert actions == ["draw.inspector_replaced", "draw.subject_replaced"]
    # The published record is untouched.
    assert (await client.get(f"/public/draws/{draw_id}")).json() == record
