"""Factories that build a small county through the domain services."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from backend.core import clock
from backend.core.auth import system_principal
from backend.orgs import schemas as s
from backend.orgs import service

PASSWORD = "correct-horse-9"


@dataclass
class World:
    county: uuid.UUID
    town_a: uuid.UUID
    town_b: uuid.UUID
    team_a: uuid.UUID
    team_b: uuid.UUID
    team_county: uuid.UUID
    officers_a: list[uuid.UUID] = field(default_factory=list)
    officers_b: list[uuid.UUID] = field(default_factory=list)
    officers_county: list[uuid.UUID] = field(default_factory=list)
    users: dict[str, uuid.UUID] = field(default_factory=dict)
    grids: dict[str, uuid.UUID] = field(default_factory=dict)


async def build_world(*, officers_per_team: int = 3) -> World:
    """County C with townships A and B, a team each (plus a county team), officers and users."""
    sysp = system_principal("test")
    county = await service.create_org_unit(
        principal=sysp, data=s.OrgUnitIn(code="C", name="测试县", kind="county")
    )
    town_a = await service.create_org_unit(
        principal=sysp,
        data=s.OrgUnitIn(code="C-A", name="甲镇", kind="township", parent_id=county.id),
    )
    town_b = await service.create_org_unit(
        principal=sysp,
        data=s.OrgUnitIn(code="C-B", name="乙镇", kind="township", parent_id=county.id),
    )
    grids: dict[str, uuid.UUID] = {}
    for code, unit in (("C-A", town_a.id), ("C-B", town_b.id)):
        g1 = await service.create_grid(
            principal=sysp, data=s.GridIn(code=f"{code}-G", name=code, level=1, org_unit_id=unit)
        )
        g2 = await service.create_grid(
            principal=sysp,
            data=s.GridIn(code=f"{code}-G1", name=code, level=2, org_unit_id=unit, parent_id=g1.id),
        )
        g3 = await service.create_grid(
            principal=sysp,
            data=s.GridIn(
                code=f"{code}-G1-01", name=code, level=3, org_unit_id=unit, parent_id=g2.id
            ),
        )
        grids[g3.code] = g3.id
    teams: dict[str, uuid.UUID] = {}
    officers: dict[str, list[uuid.UUID]] = {}
    today = clock.local_today()
    for code, unit in (("C", county.id), ("C-A", town_a.id), ("C-B", town_b.id)):
        team = await service.create_team(
            principal=sysp,
            data=s.TeamIn(
                code=f"T-{code}",
                name=f"{code} 中队",
                org_unit_id=unit,
                domains=["market", "urban"],
                grid_codes=[f"{code}-G1-01"] if code != "C" else [],
            ),
        )
        teams[code] = team.id
        ids = []
        for i in range(officers_per_team):
            officer = await service.create_officer(
                principal=sysp,
                data=s.OfficerIn(
                    name=f"{code}队员{i}", badge_no=f"{code}-{i:03d}", org_unit_id=unit
                ),
            )
            await service.add_certificate(
                principal=sysp,
                officer_id=officer.id,
                data=s.CertificateIn(
                    number=f"CERT-{code}-{i}",
                    domains=["market", "urban"],
                    valid_from=today - dt.timedelta(days=365),
                    valid_to=today + dt.timedelta(days=365),
                ),
            )
            ids.append(officer.id)
        officers[code] = ids
        await service.set_team_members(
            principal=sysp,
            team_id=team.id,
            data=s.TeamMembersIn(
                members=[
                    s.TeamMemberIn(officer_id=o, role="leader" if n == 0 else "member")
                    for n, o in enumerate(ids)
                ]
            ),
        )
    world = World(
        county=county.id,
        town_a=town_a.id,
        town_b=town_b.id,
        team_a=teams["C-A"],
        team_b=teams["C-B"],
        team_county=teams["C"],
        officers_a=officers["C-A"],
        officers_b=officers["C-B"],
        officers_county=officers["C"],
        grids=grids,
    )
    users: list[tuple[str, list[str], uuid.UUID, uuid.UUID | None]] = [
        ("admin", ["admin"], county.id, None),
        ("auditor", ["auditor"], county.id, None),
        ("supervisor", ["supervisor"], county.id, None),
        ("head", ["head"], county.id, None),
        ("legal", ["legal_reviewer"], county.id, None),
        ("admin_a", ["admin"], town_a.id, None),
        ("leader_a", ["squad_leader", "officer"], town_a.id, officers["C-A"][0]),
        ("officer_a", ["officer"], town_a.id, officers["C-A"][1]),
        ("officer_b", ["officer"], town_b.id, officers["C-B"][1]),
        ("head_a", ["head"], town_a.id, None),
    ]
    for username, roles, unit, officer_id in users:
        user = await service.create_user(
            principal=sysp,
            data=s.UserIn(
                username=username,
                password=PASSWORD,
                roles=roles,  # type: ignore[arg-type]
                org_unit_id=unit,
                officer_id=officer_id,
            ),
        )
        world.users[username] = user.id
    return world


async def login(client: Any, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Log in through the API; returns the Authorization header."""
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
