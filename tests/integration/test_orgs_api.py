"""The org admin API: scope, roles, validation and audit events."""

from __future__ import annotations

from backend.audit.tables import AuditEvent
from tests.factories import build_world, login


async def test_admin_lists_org_units_and_creates_one_with_audit(client, db):
    world = await build_world()
    headers = await login(client, "admin")
    response = await client.get("/api/v1/org-units", headers=headers)
    assert response.status_code == 200
    codes = [u["code"] for u in response.json()]
    assert codes == ["C", "C-A", "C-B"]

    response = await client.post(
        "/api/v1/org-units",
        headers=headers,
        json={"code": "C-A-V1", "name": "一村", "kind": "village", "parent_id": str(world.town_a)},
    )
    assert response.status_code == 201, response.text
    unit = response.json()
    assert unit["path"] == "/C/C-A/C-A-V1/"
    event = await AuditEvent.select().where(AuditEvent.stream == f"org_unit:{unit['id']}").first()
    assert event["action"] == "org_unit.created"
    assert event["seq"] == 1


async def test_township_user_gets_404_for_officer_of_other_township(client, db):
    world = await build_world()
    headers = await login(client, "admin_a")
    own = await client.get(f"/api/v1/officers/{world.officers_a[0]}", headers=headers)
    assert own.status_code == 200
    other = await client.get(f"/api/v1/officers/{world.officers_b[0]}", headers=headers)
    assert other.status_code == 404
    assert other.json()["code"] == "officer.not_found"
    listing = await client.get("/api/v1/officers", headers=headers)
    ids = {o["id"] for o in listing.json()["items"]}
    assert str(world.officers_b[0]) not in ids
    assert str(world.officers_a[0]) in ids
    # A change to the other township's officer is refused the same way and changes nothing.
    patch = await client.patch(
        f"/api/v1/officers/{world.officers_b[0]}", headers=headers, json={"status": "on_leave"}
    )
    assert patch.status_code == 404
    county = await login(client, "admin")
    seen = await client.get(f"/api/v1/officers/{world.officers_b[0]}", headers=county)
    assert seen.json()["status"] == "on_duty"


async def test_wrong_type_and_unknown_field_are_400_naming_the_field(client, db):
    world = await build_world()
    headers = await login(client, "admin")
    response = await client.post(
        "/api/v1/officers",
        headers=headers,
        json={"name": "张三", "badge_no": 12, "org_unit_id": str(world.town_a)},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "request.invalid"
    assert "badge_no" in body["detail"]
    response = await client.post(
        "/api/v1/officers",
        headers=headers,
        json={"name": "张三", "badge_no": "X1", "org_unit_id": str(world.town_a), "salary": 1},
    )
    assert response.status_code == 400
    assert "salary" in response.json()["detail"]
    count = await client.get("/api/v1/officers", headers=headers)
    assert "X1" not in {o["badge_no"] for o in count.json()["items"]}


async def test_non_admin_cannot_write(client, db):
    world = await build_world()
    headers = await login(client, "officer_a")
    response = await client.post(
        "/api/v1/officers",
        headers=headers,
        json={"name": "张三", "badge_no": "X1", "org_unit_id": str(world.town_a)},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "auth.forbidden"


async def test_duplicate_badge_is_409(client, db):
    world = await build_world()
    headers = await login(client, "admin")
    body = {"name": "张三", "badge_no": "C-A-000", "org_unit_id": str(world.town_a)}
    response = await client.post("/api/v1/officers", headers=headers, json=body)
    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "officer.badge_taken",
        "detail": "badge number C-A-000 is taken",
    }


async def test_team_members_certificates_and_conflicts(client, db):
    world = await build_world()
    headers = await login(client, "admin")
    team = (await client.get(f"/api/v1/teams/{world.team_a}", headers=headers)).json()
    assert len(team["members"]) == 3
    response = await client.put(
        f"/api/v1/teams/{world.team_a}/members",
        headers=headers,
        json={"members": [{"officer_id": str(world.officers_a[0]), "role": "leader"}]},
    )
    assert response.status_code == 200
    assert [m["officer_id"] for m in response.json()["members"]] == [str(world.officers_a[0])]
    response = await client.post(
        f"/api/v1/officers/{world.officers_a[0]}/certificates",
        headers=headers,
        json={
            "number": "N-1",
            "domains": ["market"],
            "valid_from": "2026-01-01",
            "valid_to": "2025-01-01",
        },
    )
    assert response.status_code == 400
    assert response.json()["code"] == "certificate.bad_dates"
    response = await client.post(
        "/api/v1/conflicts",
        headers=headers,
        json={
            "officer_id": str(world.officers_a[0]),
            "subject_code": "91320281MA1XXXXXXX",
            "reason": "亲属",
        },
    )
    assert response.status_code == 201
    listed = await client.get("/api/v1/conflicts", headers=headers)
    assert [c["subject_code"] for c in listed.json()] == ["91320281MA1XXXXXXX"]


async def test_unknown_route_and_method_are_json_errors(client, db):
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    response = await client.delete("/health")
    assert response.status_code == 405
    assert response.json()["status"] == 405
