"""Org units, grids, teams, officers, certificates, users and conflicts of interest.

Every write runs in one transaction that also appends its audit event.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from piccolo.columns import Column

from backend.audit import service as audit
from backend.core import clock, scope
from backend.core.auth import ROLES, Principal, hash_password
from backend.core.db import write_tx
from backend.core.errors import BadRequest, Conflict, NotFound
from backend.core.schemas import to_struct as _convert
from backend.orgs import schemas as s
from backend.orgs.tables import (
    Certificate,
    Grid,
    Officer,
    OrgUnit,
    Team,
    TeamMember,
    User,
)
from backend.orgs.tables import Conflict as ConflictOfInterest

CHILD_KINDS: dict[str | None, set[str]] = {
    None: {"county"},
    "county": {"township", "zone"},
    "township": {"village"},
    "zone": {"village"},
    "village": set(),
}

# ---------------------------------------------------------------------------
# Scope resolution (who sees which org units)

_SCOPE_TTL_S = 30.0
_scope_cache: dict[str, tuple[float, frozenset[uuid.UUID]]] = {}


def forget_scope_cache() -> None:
    _scope_cache.clear()


async def org_ids_under(path: str) -> frozenset[uuid.UUID]:
    """The ids of the unit at ``path`` and every unit below it (cached briefly)."""
    cached = _scope_cache.get(path)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    rows = await OrgUnit.select(OrgUnit.id).where(OrgUnit.path.like(path + "%")).run()
    ids = frozenset(uuid.UUID(str(r["id"])) for r in rows)
    _scope_cache[path] = (time.monotonic() + _SCOPE_TTL_S, ids)
    return ids


# ---------------------------------------------------------------------------
# Org units


def _org_columns() -> list[Any]:
    return [
        OrgUnit.id,
        OrgUnit.code,
        OrgUnit.name,
        OrgUnit.kind,
        OrgUnit.parent.as_alias("parent_id"),
        OrgUnit.path,
    ]


async def list_org_units(*, principal: Principal) -> list[s.OrgUnitOut]:
    query = scope.restrict(OrgUnit.select(*_org_columns()), principal, OrgUnit.id)
    rows = await query.order_by(OrgUnit.path).run()
    return [_convert(s.OrgUnitOut, r) for r in rows]


async def get_org_unit(*, principal: Principal, org_unit_id: uuid.UUID) -> s.OrgUnitOut:
    row = await scope.fetch(
        OrgUnit,
        org_unit_id,
        principal,
        org_column=OrgUnit.id,
        what="org unit",
        columns=_org_columns(),
    )
    return _convert(s.OrgUnitOut, row)


async def org_unit_by_code(code: str) -> dict[str, Any] | None:
    return await OrgUnit.select(*_org_columns()).where(OrgUnit.code == code).first().run()


async def create_org_unit(*, principal: Principal, data: s.OrgUnitIn) -> s.OrgUnitOut:
    async with write_tx():
        parent_kind: str | None = None
        parent_path = "/"
        if data.parent_id is not None:
            parent = await scope.fetch(
                OrgUnit,
                data.parent_id,
                principal,
                org_column=OrgUnit.id,
                what="parent org unit",
                columns=[OrgUnit.kind, OrgUnit.path],
            )
            parent_kind, parent_path = parent["kind"], parent["path"]
        elif not principal.unrestricted:
            raise BadRequest("parent_id is required", code="org_unit.parent_required")
        if data.kind not in CHILD_KINDS[parent_kind]:
            allowed = ", ".join(sorted(CHILD_KINDS[parent_kind])) or "none"
            raise BadRequest(
                f"a {data.kind} cannot sit under a {parent_kind or 'root'} (allowed: {allowed})",
                code="org_unit.bad_kind",
            )
        if await OrgUnit.exists().where(OrgUnit.code == data.code).run():
            raise Conflict(f"org unit code {data.code} is taken", code="org_unit.code_taken")
        unit = OrgUnit(
            id=uuid.uuid4(),
            code=data.code,
            name=data.name,
            kind=data.kind,
            parent=data.parent_id,
            path=f"{parent_path}{data.code}/",
            created_at=clock.now(),
        )
        await OrgUnit.insert(unit).run()
        await audit.record(
            stream=f"org_unit:{unit.id}",
            action="org_unit.created",
            actor=principal.actor,
            payload={
                "code": data.code,
                "name": data.name,
                "kind": data.kind,
                "parent_id": data.parent_id,
            },
            org_unit_id=unit.id,
        )
    forget_scope_cache()
    # The caller's scope was taken at login, before this unit existed; its parent was checked.
    row = await OrgUnit.select(*_org_columns()).where(OrgUnit.id == unit.id).first().run()
    assert row is not None
    return _convert(s.OrgUnitOut, row)


async def update_org_unit(
    *, principal: Principal, org_unit_id: uuid.UUID, data: s.OrgUnitPatch
) -> s.OrgUnitOut:
    async with write_tx():
        await scope.fetch(OrgUnit, org_unit_id, principal, org_column=OrgUnit.id, what="org unit")
        changes = _changes(data)
        if changes:
            await OrgUnit.update(changes).where(OrgUnit.id == org_unit_id).run()
            await audit.record(
                stream=f"org_unit:{org_unit_id}",
                action="org_unit.updated",
                actor=principal.actor,
                payload=changes,
                org_unit_id=org_unit_id,
            )
    return await get_org_unit(principal=principal, org_unit_id=org_unit_id)


def _changes(data: Any) -> dict[Any, Any]:
    return {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}


# ---------------------------------------------------------------------------
# Grids


def _grid_columns() -> list[Any]:
    return [
        Grid.id,
        Grid.code,
        Grid.name,
        Grid.level,
        Grid.parent.as_alias("parent_id"),
        Grid.org_unit.as_alias("org_unit_id"),
    ]


async def list_grids(
    *, principal: Principal, org_unit_id: uuid.UUID | None = None, level: int | None = None
) -> list[s.GridOut]:
    query = scope.restrict(Grid.select(*_grid_columns()), principal, Grid.org_unit)
    if org_unit_id:
        query = query.where(Grid.org_unit == org_unit_id)
    if level:
        query = query.where(Grid.level == level)
    return [_convert(s.GridOut, r) for r in await query.order_by(Grid.code).run()]


async def get_grid(*, principal: Principal, grid_id: uuid.UUID) -> s.GridOut:
    row = await scope.fetch(
        Grid, grid_id, principal, org_column=Grid.org_unit, what="grid", columns=_grid_columns()
    )
    return _convert(s.GridOut, row)


async def create_grid(*, principal: Principal, data: s.GridIn) -> s.GridOut:
    async with write_tx():
        scope.require(principal, data.org_unit_id, what="org unit")
        if not await OrgUnit.exists().where(OrgUnit.id == data.org_unit_id).run():
            raise NotFound("org unit not found", code="org_unit.not_found")
        if data.parent_id is None:
            if data.level != 1:
                raise BadRequest(
                    "a grid below level 1 needs parent_id", code="grid.parent_required"
                )
        else:
            parent = await scope.fetch(
                Grid,
                data.parent_id,
                principal,
                org_column=Grid.org_unit,
                what="parent grid",
                columns=[Grid.level],
            )
            if parent["level"] != data.level - 1:
                raise BadRequest(
                    f"a level {data.level} grid needs a level {data.level - 1} parent",
                    code="grid.bad_level",
                )
        if await Grid.exists().where(Grid.code == data.code).run():
            raise Conflict(f"grid code {data.code} is taken", code="grid.code_taken")
        grid = Grid(
            id=uuid.uuid4(),
            code=data.code,
            name=data.name,
            level=data.level,
            parent=data.parent_id,
            org_unit=data.org_unit_id,
            created_at=clock.now(),
        )
        await Grid.insert(grid).run()
        await audit.record(
            stream=f"grid:{grid.id}",
            action="grid.created",
            actor=principal.actor,
            payload=_struct_payload(data),
            org_unit_id=data.org_unit_id,
        )
    return await get_grid(principal=principal, grid_id=grid.id)


def _struct_payload(data: Any) -> dict[str, Any]:
    return audit.jsonable(msgspec.to_builtins(data))


# ---------------------------------------------------------------------------
# Teams


async def _team_members(team_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[s.TeamMemberOut]]:
    if not team_ids:
        return {}
    rows = (
        await TeamMember.select(
            TeamMember.team.as_alias("team_id"),
            TeamMember.officer.as_alias("officer_id"),
            TeamMember.officer.name.as_alias("name"),
            TeamMember.role,
        )
        .where(TeamMember.team.is_in(team_ids))
        .order_by(TeamMember.officer.name)
        .run()
    )
    members: dict[uuid.UUID, list[s.TeamMemberOut]] = {}
    for r in rows:
        members.setdefault(uuid.UUID(str(r["team_id"])), []).append(_convert(s.TeamMemberOut, r))
    return members


def _team_columns() -> list[Any]:
    return [
        Team.id,
        Team.code,
        Team.name,
        Team.org_unit.as_alias("org_unit_id"),
        Team.domains,
        Team.grid_codes,
    ]


async def list_teams(
    *, principal: Principal, org_unit_id: uuid.UUID | None = None
) -> list[s.TeamOut]:
    query = scope.restrict(Team.select(*_team_columns()), principal, Team.org_unit)
    if org_unit_id:
        query = query.where(Team.org_unit == org_unit_id)
    rows = await query.order_by(Team.code).run()
    members = await _team_members([uuid.UUID(str(r["id"])) for r in rows])
    out = []
    for r in rows:
        team = _convert(s.TeamOut, r)
        team.members = members.get(team.id, [])
        out.append(team)
    return out


async def get_team(*, principal: Principal, team_id: uuid.UUID) -> s.TeamOut:
    row = await scope.fetch(
        Team, team_id, principal, org_column=Team.org_unit, what="team", columns=_team_columns()
    )
    team = _convert(s.TeamOut, row)
    team.members = (await _team_members([team.id])).get(team.id, [])
    return team


async def create_team(*, principal: Principal, data: s.TeamIn) -> s.TeamOut:
    async with write_tx():
        scope.require(principal, data.org_unit_id, what="org unit")
        if await Team.exists().where(Team.code == data.code).run():
            raise Conflict(f"team code {data.code} is taken", code="team.code_taken")
        await _check_grid_codes(data.grid_codes)
        team = Team(
            id=uuid.uuid4(),
            code=data.code,
            name=data.name,
            org_unit=data.org_unit_id,
            domains=list(data.domains),
            grid_codes=list(data.grid_codes),
            created_at=clock.now(),
        )
        await Team.insert(team).run()
        await audit.record(
            stream=f"team:{team.id}",
            action="team.created",
            actor=principal.actor,
            payload=_struct_payload(data),
            org_unit_id=data.org_unit_id,
        )
    return await get_team(principal=principal, team_id=team.id)


async def _check_grid_codes(codes: list[str]) -> None:
    if not codes:
        return
    rows = await Grid.select(Grid.code).where(Grid.code.is_in(list(codes))).run()
    unknown = sorted(set(codes) - {r["code"] for r in rows})
    if unknown:
        raise BadRequest(f"unknown grid codes: {', '.join(unknown)}", code="team.unknown_grids")


async def update_team(*, principal: Principal, team_id: uuid.UUID, data: s.TeamPatch) -> s.TeamOut:
    async with write_tx():
        row = await scope.fetch(Team, team_id, principal, org_column=Team.org_unit, what="team")
        changes = _changes(data)
        if "grid_codes" in changes:
            await _check_grid_codes(changes["grid_codes"])
        if changes:
            await Team.update(changes).where(Team.id == team_id).run()
            await audit.record(
                stream=f"team:{team_id}",
                action="team.updated",
                actor=principal.actor,
                payload=changes,
                org_unit_id=row["org_unit"],
            )
    return await get_team(principal=principal, team_id=team_id)


async def set_team_members(
    *, principal: Principal, team_id: uuid.UUID, data: s.TeamMembersIn
) -> s.TeamOut:
    async with write_tx():
        team = await scope.fetch(Team, team_id, principal, org_column=Team.org_unit, what="team")
        ids = [m.officer_id for m in data.members]
        if len(set(ids)) != len(ids):
            raise BadRequest("an officer is listed twice", code="team.duplicate_member")
        if ids:
            found = (
                await Officer.select(Officer.id, Officer.org_unit)
                .where(Officer.id.is_in(ids))
                .run()
            )
            visible = {uuid.UUID(str(r["id"])) for r in found if principal.sees_org(r["org_unit"])}
            missing = [str(i) for i in ids if i not in visible]
            if missing:
                raise NotFound(
                    f"officers not found: {', '.join(missing)}", code="officer.not_found"
                )
        current = await (
            TeamMember.select(TeamMember.officer, TeamMember.role)
            .where(TeamMember.team == team_id)
            .run()
        )
        wanted = {(m.officer_id, m.role) for m in data.members}
        if {(uuid.UUID(str(r["officer"])), r["role"]) for r in current} == wanted:
            return await get_team(principal=principal, team_id=team_id)  # unchanged: no event
        await TeamMember.delete().where(TeamMember.team == team_id).run()
        if data.members:
            await TeamMember.insert(
                *[
                    TeamMember(id=uuid.uuid4(), team=team_id, officer=m.officer_id, role=m.role)
                    for m in data.members
                ]
            ).run()
        await audit.record(
            stream=f"team:{team_id}",
            action="team.members.set",
            actor=principal.actor,
            payload={
                "members": [{"officer_id": m.officer_id, "role": m.role} for m in data.members]
            },
            org_unit_id=team["org_unit"],
        )
    return await get_team(principal=principal, team_id=team_id)


# ---------------------------------------------------------------------------
# Officers and certificates


def _cert_columns() -> list[Any]:
    return [
        Certificate.id,
        Certificate.officer.as_alias("officer_id"),
        Certificate.number,
        Certificate.domains,
        Certificate.valid_from,
        Certificate.valid_to,
    ]


def _officer_columns() -> list[Any]:
    return [
        Officer.id,
        Officer.name,
        Officer.badge_no,
        Officer.org_unit.as_alias("org_unit_id"),
        Officer.status,
    ]


async def _decorate_officers(rows: list[dict[str, Any]]) -> list[s.OfficerOut]:
    ids = [uuid.UUID(str(r["id"])) for r in rows]
    certs: dict[uuid.UUID, list[s.CertificateOut]] = {}
    teams: dict[uuid.UUID, list[uuid.UUID]] = {}
    if ids:
        for c in (
            await Certificate.select(*_cert_columns())
            .where(Certificate.officer.is_in(ids))
            .order_by(Certificate.valid_to)
            .run()
        ):
            cert = _convert(s.CertificateOut, c)
            certs.setdefault(cert.officer_id, []).append(cert)
        for m in (
            await TeamMember.select(TeamMember.officer, TeamMember.team)
            .where(TeamMember.officer.is_in(ids))
            .run()
        ):
            teams.setdefault(uuid.UUID(str(m["officer"])), []).append(uuid.UUID(str(m["team"])))
    out = []
    for r in rows:
        officer = _convert(s.OfficerOut, r)
        officer.certificates = certs.get(officer.id, [])
        officer.teams = teams.get(officer.id, [])
        out.append(officer)
    return out


async def list_officers(
    *,
    principal: Principal,
    org_unit_id: uuid.UUID | None = None,
    team_id: uuid.UUID | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[s.OfficerOut], int]:
    query = scope.restrict(Officer.select(*_officer_columns()), principal, Officer.org_unit)
    count = scope.restrict(Officer.count(), principal, Officer.org_unit)
    if org_unit_id:
        query = query.where(Officer.org_unit == org_unit_id)
        count = count.where(Officer.org_unit == org_unit_id)
    if team_id:
        member_ids = TeamMember.select(TeamMember.officer).where(TeamMember.team == team_id)
        ids = [r["officer"] for r in await member_ids.run()]
        query = query.where(Officer.id.is_in(ids or [uuid.UUID(int=0)]))
        count = count.where(Officer.id.is_in(ids or [uuid.UUID(int=0)]))
    rows = await query.order_by(Officer.badge_no).limit(limit).offset(offset).run()
    return await _decorate_officers(rows), await count.run()


async def get_officer(*, principal: Principal, officer_id: uuid.UUID) -> s.OfficerOut:
    row = await scope.fetch(
        Officer,
        officer_id,
        principal,
        org_column=Officer.org_unit,
        what="officer",
        columns=_officer_columns(),
    )
    return (await _decorate_officers([row]))[0]


async def create_officer(*, principal: Principal, data: s.OfficerIn) -> s.OfficerOut:
    async with write_tx():
        scope.require(principal, data.org_unit_id, what="org unit")
        if await Officer.exists().where(Officer.badge_no == data.badge_no).run():
            raise Conflict(f"badge number {data.badge_no} is taken", code="officer.badge_taken")
        officer = Officer(
            id=uuid.uuid4(),
            name=data.name,
            badge_no=data.badge_no,
            org_unit=data.org_unit_id,
            status=data.status,
            phone=data.phone,
            created_at=clock.now(),
        )
        await Officer.insert(officer).run()
        await audit.record(
            stream=f"officer:{officer.id}",
            action="officer.created",
            actor=principal.actor,
            payload={
                "name": data.name,
                "badge_no": data.badge_no,
                "org_unit_id": data.org_unit_id,
                "status": data.status,
            },
            org_unit_id=data.org_unit_id,
        )
    return await get_officer(principal=principal, officer_id=officer.id)


async def update_officer(
    *, principal: Principal, officer_id: uuid.UUID, data: s.OfficerPatch
) -> s.OfficerOut:
    async with write_tx():
        row = await scope.fetch(
            Officer,
            officer_id,
            principal,
            org_column=Officer.org_unit,
            what="officer",
            columns=[Officer.org_unit],
        )
        changes = _changes(data)
        if changes:
            await Officer.update(changes).where(Officer.id == officer_id).run()
            await audit.record(
                stream=f"officer:{officer_id}",
                action="officer.updated",
                actor=principal.actor,
                payload={k: v for k, v in changes.items() if k != "phone"},
                org_unit_id=row["org_unit"],
            )
    return await get_officer(principal=principal, officer_id=officer_id)


async def add_certificate(
    *, principal: Principal, officer_id: uuid.UUID, data: s.CertificateIn
) -> s.CertificateOut:
    if data.valid_to < data.valid_from:
        raise BadRequest("valid_to is before valid_from", code="certificate.bad_dates")
    async with write_tx():
        officer = await scope.fetch(
            Officer,
            officer_id,
            principal,
            org_column=Officer.org_unit,
            what="officer",
            columns=[Officer.org_unit],
        )
        if await Certificate.exists().where(Certificate.number == data.number).run():
            raise Conflict(
                f"certificate {data.number} is already recorded", code="certificate.taken"
            )
        cert = Certificate(
            id=uuid.uuid4(),
            officer=officer_id,
            number=data.number,
            domains=list(data.domains),
            valid_from=data.valid_from,
            valid_to=data.valid_to,
            created_at=clock.now(),
        )
        await Certificate.insert(cert).run()
        await audit.record(
            stream=f"officer:{officer_id}",
            action="officer.certificate.added",
            actor=principal.actor,
            payload=_struct_payload(data),
            org_unit_id=officer["org_unit"],
        )
    row = await Certificate.select(*_cert_columns()).where(Certificate.id == cert.id).first().run()
    assert row is not None
    return _convert(s.CertificateOut, row)


async def valid_certificates(
    officer_ids: list[uuid.UUID], on: dt.date
) -> dict[uuid.UUID, list[s.CertificateOut]]:
    """Certificates valid on ``on`` for each officer (for draws and case checks)."""
    if not officer_ids:
        return {}
    rows = (
        await Certificate.select(*_cert_columns())
        .where(
            Certificate.officer.is_in(officer_ids)
            & (Certificate.valid_from <= on)
            & (Certificate.valid_to >= on)
        )
        .run()
    )
    out: dict[uuid.UUID, list[s.CertificateOut]] = {}
    for r in rows:
        cert = _convert(s.CertificateOut, r)
        out.setdefault(cert.officer_id, []).append(cert)
    return out


# ---------------------------------------------------------------------------
# Users


def _user_columns() -> list[Any]:
    return [
        User.id,
        User.username,
        User.display_name,
        User.roles,
        User.org_unit.as_alias("org_unit_id"),
        User.officer.as_alias("officer_id"),
        User.active,
    ]


async def list_users(*, principal: Principal) -> list[s.UserOut]:
    query = scope.restrict(User.select(*_user_columns()), principal, User.org_unit)
    return [_convert(s.UserOut, r) for r in await query.order_by(User.username).run()]


async def get_user(*, principal: Principal, user_id: uuid.UUID) -> s.UserOut:
    row = await scope.fetch(
        User, user_id, principal, org_column=User.org_unit, what="user", columns=_user_columns()
    )
    return _convert(s.UserOut, row)


def _check_roles(roles: list[str]) -> list[str]:
    bad = sorted(set(roles) - set(ROLES))
    if bad:
        raise BadRequest(f"unknown roles: {', '.join(bad)}", code="user.bad_roles")
    return sorted(set(roles))


async def create_user(*, principal: Principal, data: s.UserIn) -> s.UserOut:
    roles = _check_roles(list(data.roles))
    password_hash = hash_password(data.password)
    async with write_tx():
        scope.require(principal, data.org_unit_id, what="org unit")
        if data.officer_id is not None:
            await scope.fetch(
                Officer, data.officer_id, principal, org_column=Officer.org_unit, what="officer"
            )
        if await User.exists().where(User.username == data.username).run():
            raise Conflict(f"username {data.username} is taken", code="user.username_taken")
        user = User(
            id=uuid.uuid4(),
            username=data.username,
            display_name=data.display_name,
            password_hash=password_hash,
            roles=roles,
            org_unit=data.org_unit_id,
            officer=data.officer_id,
            active=True,
            created_at=clock.now(),
        )
        await User.insert(user).run()
        await audit.record(
            stream=f"user:{user.id}",
            action="user.created",
            actor=principal.actor,
            payload={
                "username": data.username,
                "roles": roles,
                "org_unit_id": data.org_unit_id,
                "officer_id": data.officer_id,
            },
            org_unit_id=data.org_unit_id,
        )
    return await get_user(principal=principal, user_id=user.id)


async def update_user(*, principal: Principal, user_id: uuid.UUID, data: s.UserPatch) -> s.UserOut:
    changes = _changes(data)
    payload = {k: v for k, v in changes.items() if k != "password"}
    if "roles" in changes:
        changes["roles"] = _check_roles(changes["roles"])
        payload["roles"] = changes["roles"]
    if "password" in changes:
        changes["password_hash"] = hash_password(changes.pop("password"))
        payload["password_changed"] = True
    async with write_tx():
        row = await scope.fetch(
            User, user_id, principal, org_column=User.org_unit, what="user", columns=[User.org_unit]
        )
        if changes:
            await User.update(changes).where(User.id == user_id).run()
            await audit.record(
                stream=f"user:{user_id}",
                action="user.updated",
                actor=principal.actor,
                payload=payload,
                org_unit_id=row["org_unit"],
            )
    return await get_user(principal=principal, user_id=user_id)


# ---------------------------------------------------------------------------
# Conflicts of interest


def _conflict_columns() -> list[Any]:
    return [
        ConflictOfInterest.id,
        ConflictOfInterest.officer.as_alias("officer_id"),
        ConflictOfInterest.subject_code,
        ConflictOfInterest.reason,
        ConflictOfInterest.recorded_at,
    ]


async def list_conflicts(
    *, principal: Principal, officer_id: uuid.UUID | None = None, subject_code: str | None = None
) -> list[s.ConflictOut]:
    org_column: Column = ConflictOfInterest.officer.org_unit
    query = scope.restrict(ConflictOfInterest.select(*_conflict_columns()), principal, org_column)
    if officer_id:
        query = query.where(ConflictOfInterest.officer == officer_id)
    if subject_code:
        query = query.where(ConflictOfInterest.subject_code == subject_code)
    rows = await query.order_by(ConflictOfInterest.recorded_at).run()
    return [_convert(s.ConflictOut, r) for r in rows]


async def record_conflict(*, principal: Principal, data: s.ConflictIn) -> s.ConflictOut:
    async with write_tx():
        officer = await scope.fetch(
            Officer,
            data.officer_id,
            principal,
            org_column=Officer.org_unit,
            what="officer",
            columns=[Officer.org_unit],
        )
        conflict = ConflictOfInterest(
            id=uuid.uuid4(),
            officer=data.officer_id,
            subject_code=data.subject_code.upper(),
            reason=data.reason,
            recorded_at=clock.now(),
        )
        await ConflictOfInterest.insert(conflict).run()
        await audit.record(
            stream=f"officer:{data.officer_id}",
            action="officer.conflict.recorded",
            actor=principal.actor,
            payload=_struct_payload(data),
            org_unit_id=officer["org_unit"],
        )
    row = (
        await ConflictOfInterest.select(*_conflict_columns())
        .where(ConflictOfInterest.id == conflict.id)
        .first()
        .run()
    )
    assert row is not None
    return _convert(s.ConflictOut, row)


async def conflicts_with(subject_codes: Sequence[str]) -> dict[str, set[str]]:
    """For each of ``subject_codes`` that has any, the officers (ids as text) who must
    recuse from it. Read by subject (indexed): a draw asks about what it selected, not
    about every conflict its inspectors ever declared."""
    out: dict[str, set[str]] = {}
    codes = list(dict.fromkeys(subject_codes))
    for start in range(0, len(codes), CODES_PER_QUERY):
        rows = (
            await ConflictOfInterest.select(
                ConflictOfInterest.officer, ConflictOfInterest.subject_code
            )
            .where(ConflictOfInterest.subject_code.is_in(codes[start : start + CODES_PER_QUERY]))
            .run()
        )
        for r in rows:
            out.setdefault(r["subject_code"], set()).add(str(r["officer"]))
    return out


CODES_PER_QUERY = 400
