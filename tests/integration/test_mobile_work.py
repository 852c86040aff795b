"""Mobile work list over real inspection tasks: delta sync, removals, check-in, results."""

from __future__ import annotations

import datetime as dt

from backend.core import clock
from backend.core.auth import system_principal
from backend.inspections import credit_code, draws, subjects
from backend.inspections.tables import InspectionTask
from mobile_api.tables import MobileOperation
from tests.factories import build_world, login
from tests.mobile_helpers import device_login, key

ITEM = {
    "code": "SC-001",
    "name": "食品经营许可情况检查",
    "department": "市场监管",
    "domain": "market",
    "method": "on_site",
    "legal_basis": "《食品安全法》",
    "subject_types": [],
    "ratios": {"A": 1.0},
}
# Subjects of town A, around 31.9 N 120.3 E.
SUBJECT_LAT, SUBJECT_LON = 31.9000, 120.3000


async def drawn_tasks(client, world, tmp_path, count: int = 8) -> list[dict]:
    lines = ["credit_code,name,address,lat,lon,org_unit,grid_code,risk_class,abnormal"]
    for n in range(count):
        code = credit_code.complete(f"913202810{n:08d}")
        lines.append(f"{code},主体{n},甲镇{n}号,{SUBJECT_LAT},{SUBJECT_LON},C-A,C-A-G1-01,A,0")
    path = tmp_path / "subjects.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = await subjects.import_subjects(principal=system_principal("test"), path=path)
    assert report.applied, report
    headers = await login(client, "supervisor")
    assert (
        await client.post("/api/v1/inspection-items", headers=headers, json=ITEM)
    ).status_code == 201
    today = clock.now().date()
    plan = await client.post(
        "/api/v1/inspection-plans",
        headers=headers,
        json={
            "code": "P-M-1",
            "name": "移动端测试抽查",
            "org_unit_id": str(world.town_a),
            "item_codes": ["SC-001"],
            "planned_start": today.isoformat(),
            "planned_end": (today + dt.timedelta(days=30)).isoformat(),
            "team_size": 2,
            "workload_cap": 20,
            "inspector_team_ids": [str(world.team_a)],
        },
    )
    assert plan.status_code == 201, plan.text
    plan_id = plan.json()["id"]
    assert (
        await client.post(f"/api/v1/inspection-plans/{plan_id}/publish", headers=headers)
    ).status_code == 200
    drawn = await client.post(
        f"/api/v1/inspection-plans/{plan_id}/draw", headers=headers, json={"entropy": "x"}
    )
    assert drawn.status_code == 201, drawn.text
    rows = await InspectionTask.select(InspectionTask.id).run()
    assert len(rows) == count
    return rows


async def test_work_list_delta_sync_check_in_results_and_reassignment(client, db, tmp_path):
    world = await build_world(officers_per_team=3)
    await drawn_tasks(client, world, tmp_path)
    phone = await device_login(client, "officer_a")
    me = world.officers_a[1]

    first = await client.get("/mobile/v1/work", headers=phone["headers"])
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["removed"] == [] and not page["has_more"]
    mine = page["items"]
    assert mine and all(i["kind"] == "task" for i in mine)
    assert all(str(me) in {p["officer_id"] for p in i["inspectors"]} for i in mine)
    task = mine[0]
    assert task["address"].startswith("甲镇") and task["location"]["lat"] == SUBJECT_LAT
    assert [i["item_code"] for i in task["items"]] == ["SC-001"]
    assert task["items"][0]["item_name"] == "食品经营许可情况检查"
    assert "task.check_in" in task["next_actions"]
    cursor = page["cursor"]

    # Nothing changed: an empty delta, the same cursor; a detail with ETag gives 304.
    again = (await client.get(f"/mobile/v1/work?since={cursor}", headers=phone["headers"])).json()
    assert again == {"items": [], "removed": [], "cursor": cursor, "has_more": False}
    detail = await client.get(f"/mobile/v1/work/task/{task['id']}", headers=phone["headers"])
    assert detail.status_code == 200
    cached = await client.get(
        f"/mobile/v1/work/task/{task['id']}",
        headers={**phone["headers"], "If-None-Match": detail.headers["etag"]},
    )
    assert cached.status_code == 304
    # Paging: one item per page, the cursors walk the whole list once.
    seen, c = [], None
    while True:
        url = "/mobile/v1/work?limit=1" + (f"&since={c}" if c else "")
        p = (await client.get(url, headers=phone["headers"])).json()
        seen += [i["id"] for i in p["items"]]
        c = p["cursor"]
        if not p["has_more"]:
            break
    assert seen == [i["id"] for i in mine]

    # Check in 2 km away: applied, flagged, recorded; stale version → 409 with current.
    far = {"version": task["version"], "lat": SUBJECT_LAT + 0.018, "lon": SUBJECT_LON}
    k = key()
    checked = await client.post(
        f"/mobile/v1/tasks/{task['id']}/check-in",
        json={**far, "accuracy_m": 12.5},
        headers={**phone["headers"], "Idempotency-Key": k},
    )
    assert checked.status_code == 200, checked.text
    out = checked.json()
    assert out["distance_flagged"] is True and 1900 < out["distance_m"] < 2100
    assert out["task"]["status"] == "checked_in"
    stale = await client.post(
        f"/mobile/v1/tasks/{task['id']}/results",
        json={"version": task["version"], "results": [{"item_code": "SC-001", "category": "x"}]},
        headers={**phone["headers"], "Idempotency-Key": key()},
    )
    assert stale.status_code == 409
    assert stale.json()["current"]["status"] == "checked_in"
    assert stale.json()["current"]["version"] == out["task"]["version"]
    done = await client.post(
        f"/mobile/v1/tasks/{task['id']}/results",
        json={
            "version": out["task"]["version"],
            "results": [{"item_code": "SC-001", "category": "未发现问题"}],
        },
        headers={**phone["headers"], "Idempotency-Key": key()},
    )
    assert done.status_code == 200, done.text
    assert done.json()["items"][0]["category"] == "未发现问题"
    row = await MobileOperation.select().where(MobileOperation.idempotency_key == k).first()
    assert row["op"] == "task.check_in"

    # The delta now holds exactly the changed task.
    delta = (await client.get(f"/mobile/v1/work?since={cursor}", headers=phone["headers"])).json()
    assert [i["id"] for i in delta["items"]] == [task["id"]]
    assert delta["removed"] == []
    cursor = delta["cursor"]

    # Reassigned away: the task is reported as removed, and only that.
    await draws.replace_inspector(
        principal=system_principal("test"),
        task_id=task["id"],
        officer_id=me,
        reason="请假",
    )
    delta = (await client.get(f"/mobile/v1/work?since={cursor}", headers=phone["headers"])).json()
    assert delta["items"] == [] and delta["removed"] == [task["id"]]

    # An officer of another township gets 404 for a task that is not theirs.
    stranger = await device_login(client, "officer_b", device_id="phone-B1")
    hidden = await client.get(f"/mobile/v1/work/task/{task['id']}", headers=stranger["headers"])
    assert hidden.status_code == 404
    sneaky = await client.post(
        f"/mobile/v1/tasks/{task['id']}/check-in",
        json=far,
        headers={**stranger["headers"], "Idempotency-Key": key()},
    )
    assert sneaky.status_code == 404
