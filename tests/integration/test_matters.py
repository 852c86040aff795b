"""Matters catalogue and the history of jurisdiction grants."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl

from backend.audit.tables import AuditEvent
from backend.matters import service
from tests.factories import build_world, login

MATTERS_CSV = """code,name,category,domain,legal_basis,fine_min,fine_max,major,recorded_actions
M-URB-001,擅自占道经营,penalty,urban,城市市容和环境卫生管理条例第36条,0,500,0,
M-MKT-010,销售过期食品,penalty,market,食品安全法第124条,5000,100000,1,查封、扣押
"""


async def test_import_grant_withdraw_and_in_force_history(client, db):
    world = await build_world(officers_per_team=2)
    admin = await login(client, "admin")
    response = await client.post(
        "/api/v1/matters/import?filename=matters.csv",
        headers={**admin, "Content-Type": "text/csv"},
        content=MATTERS_CSV.encode(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["matters_created"] == 2
    matters = {m["code"]: m for m in (await client.get("/api/v1/matters", headers=admin)).json()}
    assert matters["M-MKT-010"]["major"] is True
    assert matters["M-MKT-010"]["recorded_actions"] == ["查封", "扣押"]

    # Grants from an XLSX sheet: township A gets street vending from 1 March 2026.
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["matter_code", "org_unit_code", "effective_from", "effective_to", "basis"])
    sheet.append(["M-URB-001", "C-A", dt.date(2026, 3, 1), None, "县政府赋权决定"])
    buf = io.BytesIO()
    book.save(buf)
    response = await client.post(
        "/api/v1/matters/import?filename=grants.xlsx", headers=admin, content=buf.getvalue()
    )
    assert response.status_code == 200, response.text
    assert response.json()["grants_created"] == 1
    urb = matters["M-URB-001"]["id"]
    grant = (await client.get(f"/api/v1/grants?matter_id={urb}", headers=admin)).json()[0]

    # Overlapping grant → 409; withdrawal keeps the history.
    overlap = await client.post(
        "/api/v1/grants",
        headers=admin,
        json={"matter_id": urb, "org_unit_id": str(world.town_a), "effective_from": "2026-06-01"},
    )
    assert overlap.status_code == 409
    assert overlap.json()["code"] == "grant.overlap"
    withdrawn = await client.post(
        f"/api/v1/grants/{grant['id']}/withdraw",
        headers=admin,
        json={"effective_to": "2026-09-30", "reason": "上收至县局"},
    )
    assert withdrawn.status_code == 200, withdrawn.text
    in_force_july = await service.grant_in_force(
        matter_id=grant["matter_id"], org_unit_id=world.town_a, on=dt.date(2026, 7, 1)
    )
    assert in_force_july is not None
    assert (
        await service.grant_in_force(
            matter_id=grant["matter_id"], org_unit_id=world.town_a, on=dt.date(2026, 10, 1)
        )
        is None
    )
    history = (await client.get(f"/api/v1/grants?org_unit_id={world.town_a}", headers=admin)).json()
    assert [g["effective_to"] for g in history] == ["2026-09-30"]
    on_day = await client.get("/api/v1/grants?on=2026-10-01", headers=admin)
    assert on_day.json() == []

    # A township admin cannot grant matters to its own township.
    town_admin = await login(client, "admin_a")
    self_grant = await client.post(
        "/api/v1/grants",
        headers=town_admin,
        json={"matter_id": urb, "org_unit_id": str(world.town_a), "effective_from": "2026-11-01"},
    )
    assert self_grant.status_code == 400
    assert self_grant.json()["code"] == "grant.self"
    actions = [
        r["action"]
        for r in await AuditEvent.select(AuditEvent.action)
        .where(AuditEvent.stream == f"grant:{grant['id']}")
        .order_by(AuditEvent.seq)
    ]
    assert actions == ["grant.created", "grant.withdrawn"]


async def test_bad_import_row_names_the_row_and_changes_nothing(client, db):
    await build_world(officers_per_team=2)
    admin = await login(client, "admin")
    bad = MATTERS_CSV + "M-X,坏行,penalty,urban,,abc,,0,\n"
    response = await client.post(
        "/api/v1/matters/import", headers={**admin, "Content-Type": "text/csv"}, content=bad
    )
    assert response.status_code == 400
    assert "row 4" in response.json()["detail"]
    assert (await client.get("/api/v1/matters", headers=admin)).json() == []
