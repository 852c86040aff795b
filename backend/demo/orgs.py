"""Demo org model: a county modelled on Jiangyin (江阴), its townships, grids, teams and people."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field

from backend.core import clock
from backend.core.auth import Principal
from backend.orgs import schemas as s
from backend.orgs import service
from backend.orgs.tables import Grid, Officer, OrgUnit, Team, User

COUNTY = ("JY", "江阴市综合行政执法局", "county")
UNITS = [
    ("JY-XXK", "徐霞客镇", "township"),
    ("JY-XQ", "新桥镇", "township"),
    ("JY-ZZ", "周庄镇", "township"),
    ("JY-GX", "江阴高新区", "zone"),
]
DOMAINS = ["market", "urban", "environment", "safety", "health", "culture"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文斌"

TEAM_DOMAINS = {
    "JY": ["market", "safety", "environment", "health", "urban", "culture"],
    "JY-XXK": ["market", "urban", "safety", "environment"],
    "JY-XQ": ["market", "urban", "safety", "health"],
    "JY-ZZ": ["market", "urban", "environment", "culture"],
    "JY-GX": ["market", "safety", "environment", "health"],
}


@dataclass
class DemoOrgs:
    county_id: uuid.UUID
    units: dict[str, uuid.UUID] = field(default_factory=dict)
    teams: dict[str, uuid.UUID] = field(default_factory=dict)
    officers: list[uuid.UUID] = field(default_factory=list)
    base_grids: list[str] = field(default_factory=list)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


async def _unit(
    principal: Principal, code: str, name: str, kind: str, parent: uuid.UUID | None
) -> uuid.UUID:
    row = await service.org_unit_by_code(code)
    if row:
        return uuid.UUID(str(row["id"]))
    unit = await service.create_org_unit(
        principal=principal,
        data=s.OrgUnitIn(code=code, name=name, kind=kind, parent_id=parent),  # type: ignore[arg-type]
    )
    return unit.id


async def _grid(
    principal: Principal, code: str, name: str, level: int, org: uuid.UUID, parent: uuid.UUID | None
) -> uuid.UUID:
    row = await Grid.select(Grid.id).where(Grid.code == code).first().run()
    if row:
        return uuid.UUID(str(row["id"]))
    grid = await service.create_grid(
        principal=principal,
        data=s.GridIn(code=code, name=name, level=level, org_unit_id=org, parent_id=parent),
    )
    return grid.id


async def seed_orgs(principal: Principal, *, password: str) -> DemoOrgs:
    rng = random.Random(20261122)
    county = await _unit(principal, *COUNTY, None)
    demo = DemoOrgs(county_id=county, units={"JY": county})
    for code, name, kind in UNITS:
        demo.units[code] = await _unit(principal, code, name, kind, county)
    # Villages (村/社区) under each township, three grid levels under each unit.
    for code, name, _ in UNITS:
        unit = demo.units[code]
        for v in range(1, 3):
            await _unit(principal, f"{code}-V{v}", f"{name}第{v}社区", "village", unit)
        top = await _grid(principal, f"{code}-G", f"{name}网格", 1, unit, None)
        for m in range(1, 4):
            mid = await _grid(principal, f"{code}-G{m}", f"{name}第{m}片区", 2, unit, top)
            for b in range(1, 5):
                grid_code = f"{code}-G{m}-{b:02d}"
                await _grid(principal, grid_code, f"{name}第{m}片区第{b}网格", 3, unit, mid)
                demo.base_grids.append(grid_code)
    # Teams: the county's direct squad and one all-round squad (全能型中队) per unit.
    team_units = [("JY", "县局直属一中队")] + [
        (code, f"{name}综合执法中队") for code, name, _ in UNITS
    ]
    for unit_code, team_name in team_units:
        team_code = f"T-{unit_code}"
        row = await Team.select(Team.id).where(Team.code == team_code).first().run()
        if row:
            demo.teams[unit_code] = uuid.UUID(str(row["id"]))
            continue
        grids = (
            [g for g in demo.base_grids if g.startswith(unit_code + "-")]
            if unit_code != "JY"
            else []
        )
        team = await service.create_team(
            principal=principal,
            data=s.TeamIn(
                code=team_code,
                name=team_name,
                org_unit_id=demo.units[unit_code],
                domains=TEAM_DOMAINS[unit_code],
                grid_codes=grids,
            ),
        )
        demo.teams[unit_code] = team.id
    # 30 officers, 6 per team; a few certificates expired, a few officers on leave.
    today = clock.local_today()
    members: dict[str, list[s.TeamMemberIn]] = {}
    serial = 0
    for unit_code, _ in team_units:
        for i in range(6):
            serial += 1
            badge = f"JY{serial:04d}"
            existing = (
                await Officer.select(Officer.id).where(Officer.badge_no == badge).first().run()
            )
            if existing:
                officer_id = uuid.UUID(str(existing["id"]))
            else:
                on_leave = serial in (9, 22)
                officer = await service.create_officer(
                    principal=principal,
                    data=s.OfficerIn(
                        name=_name(rng),
                        badge_no=badge,
                        org_unit_id=demo.units[unit_code],
                        status="on_leave" if on_leave else "on_duty",
                        phone=f"139{rng.randrange(10**8):08d}",
                    ),
                )
                officer_id = officer.id
                expired = serial in (5, 16, 27)
                start = today - dt.timedelta(days=rng.randrange(400, 1500))
                end = (
                    today - dt.timedelta(days=30)
                    if expired
                    else today + dt.timedelta(days=rng.randrange(200, 1500))
                )
                domains = sorted(set(rng.sample(TEAM_DOMAINS[unit_code], 2)) | {"market"})
                await service.add_certificate(
                    principal=principal,
                    officer_id=officer_id,
                    data=s.CertificateIn(
                        number=f"32028{serial:06d}", domains=domains, valid_from=start, valid_to=end
                    ),
                )
            demo.officers.append(officer_id)
            members.setdefault(unit_code, []).append(
                s.TeamMemberIn(officer_id=officer_id, role="leader" if i == 0 else "member")
            )
    for unit_code, team_members in members.items():
        await service.set_team_members(
            principal=principal,
            team_id=demo.teams[unit_code],
            data=s.TeamMembersIn(members=team_members),
        )
    await _seed_users(principal, demo, password=password)
    return demo


# (username, display name, roles, unit code, officer index or None)
DEMO_USERS: list[tuple[str, str, list[str], str, int | None]] = [
    ("admin", "系统管理员", ["admin"], "JY", None),
    ("supervisor", "双随机管理员", ["supervisor"], "JY", None),
    ("head", "局领导", ["head"], "JY", None),
    ("legal", "法制审核员", ["legal_reviewer"], "JY", None),
    ("auditor", "纪检监察", ["auditor"], "JY", None),
    ("leader1", "徐霞客中队长", ["squad_leader", "officer"], "JY-XXK", 6),
    ("officer1", "执法队员一", ["officer"], "JY-XXK", 7),
    ("officer2", "执法队员二", ["officer"], "JY-XXK", 9),
    ("officer3", "执法队员三", ["officer"], "JY-XXK", 10),
    ("officer4", "执法队员四", ["officer"], "JY-XQ", 12),
    ("officer5", "执法队员五", ["officer"], "JY-XQ", 13),
    ("officer6", "执法队员六", ["officer"], "JY-XQ", 14),
]


async def _seed_users(principal: Principal, demo: DemoOrgs, *, password: str) -> None:
    for username, display, roles, unit_code, officer_index in DEMO_USERS:
        if await User.exists().where(User.username == username).run():
            continue
        officer_id = demo.officers[officer_index] if officer_index is not None else None
        await service.create_user(
            principal=principal,
            data=s.UserIn(
                username=username,
                password=password,
                roles=roles,  # type: ignore[arg-type]
                org_unit_id=demo.units[unit_code],
                display_name=display,
                officer_id=officer_id,
            ),
        )


async def has_data() -> bool:
    return bool(await OrgUnit.exists().run())


async def officer_names() -> dict[uuid.UUID, str]:
    rows = await Officer.select(Officer.id, Officer.name).run()
    return {uuid.UUID(str(r["id"])): r["name"] for r in rows}
