"""Cases: filing, the lifecycle transitions, team assignment, hearings, clock stops, deadlines.

Every status change goes through ``apply_transition`` and the table in
``lifecycle.TRANSITIONS``: the role guard (403), then every precondition (409
listing all unmet ones), then the optimistic version check (409), then the
change, its document, the recomputed deadlines and the audit event in ONE
transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from backend.audit import service as audit
from backend.calendar.service import load_calendar
from backend.cases import lifecycle, numbering
from backend.cases import schemas as s
from backend.cases.concurrency import bump_version
from backend.cases.deadlines import CaseDates, Deadline, StopPeriod, compute_case_deadlines
from backend.cases.leads import local_day
from backend.cases.rules import load_rules
from backend.cases.tables import (
    Case,
    CaseAccess,
    CaseAction,
    CaseDeadline,
    CaseDocument,
    CaseOfficer,
    ClockStop,
    Lead,
    LegalReview,
)
from backend.core import clock, scope
from backend.core.auth import Principal
from backend.core.db import write_tx
from backend.core.errors import BadRequest, Conflict, Forbidden, NotFound
from backend.core.schemas import to_struct
from backend.matters.service import grant_in_force
from backend.matters.tables import Matter
from backend.orgs.tables import Certificate, Officer, OrgUnit, Team, TeamMember


def today() -> dt.date:
    return local_day(clock.now())


# ---------------------------------------------------------------------------
# Reading and access


def _case_columns() -> list[Any]:
    skip = {"matter", "org_unit", "area_org_unit", "grid", "team", "created_by", "filed_at"}
    return [
        *[c for c in Case.all_columns() if c._meta.name not in skip],
        Case.matter.as_alias("matter_id"),
        Case.matter.code.as_alias("matter_code"),
        Case.org_unit.as_alias("org_unit_id"),
        Case.area_org_unit.as_alias("area_org_unit_id"),
        Case.grid.as_alias("grid_id"),
        Case.team.as_alias("team_id"),
    ]


async def _read_access_cases(principal: Principal) -> list[uuid.UUID]:
    if principal.unrestricted or not principal.scope_org_ids:
        return []
    rows = (
        await CaseAccess.select(CaseAccess.case)
        .where(CaseAccess.org_unit.is_in(list(principal.scope_org_ids)))
        .where(CaseAccess.revoked_at.is_null())
        .run()
    )
    return [uuid.UUID(str(r["case"])) for r in rows]


async def load_case(principal: Principal, case_id: uuid.UUID, *, write: bool) -> dict[str, Any]:
    """The case row, 404 when out of scope, 403 when the unit only has read access."""
    row = await Case.select(*_case_columns()).where(Case.id == case_id).first().run()
    if row is None:
        raise NotFound("case not found", code="case.not_found")
    if principal.sees_org(row["org_unit_id"]):
        row["read_only"] = False
        return row
    if case_id in await _read_access_cases(principal):
        if write:
            raise Forbidden("your unit has read-only access to this case", code="case.read_only")
        row["read_only"] = True
        return row
    raise NotFound("case not found", code="case.not_found")


async def _officers_of(case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[s.CaseOfficerOut]]:
    if not case_ids:
        return {}
    rows = (
        await CaseOfficer.select(
            CaseOfficer.case.as_alias("case_id"),
            CaseOfficer.officer.as_alias("officer_id"),
            CaseOfficer.officer.name.as_alias("name"),
            CaseOfficer.role,
        )
        .where(CaseOfficer.case.is_in(list(case_ids)))
        .where(CaseOfficer.removed_at.is_null())
        .order_by(CaseOfficer.assigned_at)
        .run()
    )
    out: dict[uuid.UUID, list[s.CaseOfficerOut]] = {}
    for r in rows:
        out.setdefault(uuid.UUID(str(r["case_id"])), []).append(to_struct(s.CaseOfficerOut, r))
    return out


def _to_out(row: dict[str, Any], officers: list[s.CaseOfficerOut]) -> s.CaseOut:
    case = to_struct(s.CaseOut, row)
    case.officers = officers
    return case


async def get_case(*, principal: Principal, case_id: uuid.UUID) -> s.CaseOut:
    row = await load_case(principal, case_id, write=False)
    officers = await _officers_of([case_id])
    return _to_out(row, officers.get(case_id, []))


async def list_cases(
    *,
    principal: Principal,
    status: str | None = None,
    org_unit_id: uuid.UUID | None = None,
    officer_id: uuid.UUID | None = None,
    team_id: uuid.UUID | None = None,
    changed_since: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[s.CaseOut], int]:
    """Cases in scope (or shared with the unit), newest change first.

    ``changed_since`` with ``officer_id`` or ``team_id`` is what a phone syncs.
    """
    query = Case.select(*_case_columns())
    count = Case.count()
    conditions: list[Any] = []
    if not principal.unrestricted:
        shared = await _read_access_cases(principal)
        visible = Case.org_unit.is_in(list(principal.scope_org_ids) or [uuid.UUID(int=0)])
        conditions.append(visible | Case.id.is_in(shared) if shared else visible)
    if status:
        conditions.append(Case.status == status)
    if org_unit_id:
        conditions.append(Case.org_unit == org_unit_id)
    if team_id:
        conditions.append(Case.team == team_id)
    if officer_id:
        assigned = [
            r["case"]
            for r in await CaseOfficer.select(CaseOfficer.case)
            .where(CaseOfficer.officer == officer_id)
            .where(CaseOfficer.removed_at.is_null())
            .run()
        ]
        conditions.append(Case.id.is_in(assigned or [uuid.UUID(int=0)]))
    if changed_since:
        conditions.append(Case.updated_at > changed_since)
    for condition in conditions:
        query = query.where(condition)
        count = count.where(condition)
    rows = await query.order_by(Case.updated_at, ascending=False).limit(limit).offset(offset).run()
    officers = await _officers_of([r["id"] for r in rows])
    out = []
    for r in rows:
        r["read_only"] = not principal.sees_org(r["org_unit_id"])
        out.append(_to_out(r, officers.get(r["id"], [])))
    return out, await count.run()


async def held_case_markers(
    *,
    principal: Principal,
    team_ids: Sequence[uuid.UUID],
    excluded_statuses: Sequence[str],
    ids: Sequence[uuid.UUID] | None = None,
) -> dict[uuid.UUID, tuple[int, str]]:
    """(version, status) of the cases the principal's officer or teams hold and may act on.

    Held: assigned to the officer, or to one of ``team_ids``; in the principal's own scope
    (a case transferred to another unit, or only shared read-only, is not held); status not
    in ``excluded_statuses``. Light: no officer lists or deadlines. ``ids`` restricts it.
    """
    if principal.officer_id is None or (ids is not None and not ids):
        return {}
    assigned = CaseOfficer.select(CaseOfficer.case).where(
        (CaseOfficer.officer == principal.officer_id) & CaseOfficer.removed_at.is_null()
    )
    if ids is not None:
        assigned = assigned.where(CaseOfficer.case.is_in(list(ids)))
    case_ids = {r["case"] for r in await assigned.run()}
    holder: Any = Case.id.is_in(list(case_ids)) if case_ids else None
    if team_ids:
        by_team = Case.team.is_in(list(team_ids))
        holder = by_team if holder is None else holder | by_team
    if holder is None:
        return {}
    query = Case.select(Case.id, Case.version, Case.status).where(
        holder
        & Case.org_unit.is_in(list(principal.scope_org_ids) or [uuid.UUID(int=0)])
        & Case.status.not_in(list(excluded_statuses))
    )
    if ids is not None:
        query = query.where(Case.id.is_in(list(ids)))
    return {uuid.UUID(str(r["id"])): (r["version"], r["status"]) for r in await query.run()}


# The latest changes of cases after a moment: ``(id, updated_at)`` rows, newest first, with
# two ``{}`` placeholders (the moment, how many). Every change of a case (transitions,
# assignment, transfer) bumps its indexed ``updated_at``: with nothing new this is one empty
# index probe. Plain SQL, which the phones' work poll runs inside its own query.
CASES_CHANGED_SQL = (
    "SELECT id, updated_at FROM enforcement_case WHERE updated_at > {}"
    " ORDER BY updated_at DESC LIMIT {}"
)


# ---------------------------------------------------------------------------
# Facts for the preconditions


async def _certified(
    officer_ids: Sequence[uuid.UUID], domain: str
) -> tuple[lifecycle.Certified, ...]:
    if not officer_ids:
        return ()
    names = {
        str(r["id"]): r["name"]
        for r in await Officer.select(Officer.id, Officer.name)
        .where(Officer.id.is_in(list(officer_ids)))
        .run()
    }
    periods: dict[str, list[tuple[dt.date, dt.date]]] = {k: [] for k in names}
    for c in (
        await Certificate.select(
            Certificate.officer, Certificate.domains, Certificate.valid_from, Certificate.valid_to
        )
        .where(Certificate.officer.is_in(list(officer_ids)))
        .run()
    ):
        if domain in (c["domains"] or []):
            periods[str(c["officer"])].append((c["valid_from"], c["valid_to"]))
    return tuple(
        lifecycle.Certified(officer_id=k, name=names[k], periods=tuple(periods[k])) for k in names
    )


async def active_officer_ids(case_id: uuid.UUID) -> list[uuid.UUID]:
    rows = (
        await CaseOfficer.select(CaseOfficer.officer)
        .where(CaseOfficer.case == case_id)
        .where(CaseOfficer.removed_at.is_null())
        .run()
    )
    return [uuid.UUID(str(r["officer"])) for r in rows]


async def latest_review_status(case_id: uuid.UUID) -> str | None:
    row = (
        await LegalReview.select(LegalReview.status)
        .where(LegalReview.case == case_id)
        .order_by(LegalReview.requested_at, ascending=False)
        .first()
        .run()
    )
    return row["status"] if row else None


async def gather_facts(
    row: dict[str, Any], *, status: str | None = None, on: dt.date | None = None
) -> lifecycle.CaseFacts:
    """The facts the preconditions read, for the case ``row`` as it stands (or would be)."""
    day = on or today()
    rules = await load_rules()
    matter = await Matter.select().where(Matter.id == row["matter_id"]).first().run()
    if matter is None:
        raise NotFound("matter not found", code="matter.not_found")
    units = {
        r["id"]: r
        for r in await OrgUnit.select(OrgUnit.id, OrgUnit.kind, OrgUnit.name)
        .where(OrgUnit.id.is_in([row["org_unit_id"], row["area_org_unit_id"]]))
        .run()
    }
    handler = units[row["org_unit_id"]]
    area = units[row["area_org_unit_id"]]
    case_id = row.get("id")
    officer_ids = row.get("officer_ids")
    if officer_ids is None:
        officer_ids = await active_officer_ids(case_id) if case_id else []
    return lifecycle.CaseFacts(
        status=status or row["status"],
        procedure=row["procedure"],
        today=day,
        rules=rules,
        matter_code=matter["code"],
        matter_domain=matter["domain"],
        matter_active=matter["active"],
        matter_major=matter["major"],
        matter_serious=matter["serious"],
        hearing_threshold_individual=matter["hearing_threshold_individual"],
        hearing_threshold_organisation=matter["hearing_threshold_organisation"],
        subject_kind=row["subject_kind"],
        penalty_kind=row.get("penalty_kind") or "",
        fine_amount=row.get("fine_amount"),
        confiscation_value=row.get("confiscation_value"),
        officers=await _certified(officer_ids, matter["domain"]),
        prior_notice_on=row.get("prior_notice_on"),
        hearing_requested=bool(row.get("hearing_requested")),
        hearing_waived=row.get("hearing_waived_on") is not None,
        hearing_held_on=row.get("hearing_held_on"),
        decided_on=row.get("decided_on"),
        served_on=row.get("served_on"),
        executed_on=row.get("executed_on"),
        review_status=await latest_review_status(case_id) if case_id else None,
        handling_unit_kind=handler["kind"],
        handling_unit_name=handler["name"],
        granted_to_handler=await grant_in_force(
            matter_id=matter["id"], org_unit_id=handler["id"], on=day
        )
        is not None,
        area_is_township=area["kind"] in ("township", "zone"),
        area_name=area["name"],
        granted_to_area=await grant_in_force(matter_id=matter["id"], org_unit_id=area["id"], on=day)
        is not None,
        flags=tuple(row.get("flags") or ()),
        violation_on=row.get("violation_on"),
        violation_ended_on=row.get("violation_ended_on"),
        discovered_on=await _discovered_on(row),
        transfer_pending=case_id is not None and await _transfer_pending(case_id),
    )


async def _discovered_on(row: dict[str, Any]) -> dt.date | None:
    """The day the unit learned of the violation: its lead's receipt, else the filing."""
    if row.get("lead_id") is not None:
        lead = await Lead.select(Lead.received_at).where(Lead.id == row["lead_id"]).first().run()
        if lead is not None:
            return local_day(lead["received_at"])
    filed_on: dt.date | None = row.get("filed_on")
    return filed_on


async def _transfer_pending(case_id: uuid.UUID) -> bool:
    from backend.cases.tables import Transfer

    return bool(
        await Transfer.exists().where(
            (Transfer.case == case_id)
            & Transfer.status.is_in(["requested", "approved", "handed_over"])
        )
    )


def refuse_if_unmet(transition: lifecycle.Transition, facts: lifecycle.CaseFacts) -> None:
    unmet = lifecycle.unmet_preconditions(transition, facts)
    if unmet:
        raise Conflict(
            f"cannot {transition.action}: " + "; ".join(u.detail for u in unmet),
            code="case.preconditions_unmet",
            extra={"unmet": [{"check": u.check, "detail": u.detail} for u in unmet]},
        )


def require_case_role(principal: Principal, roles: Sequence[str], what: str) -> None:
    """403 naming the roles ``what`` needs (and those the principal holds)."""
    if principal.has_any_role(*roles):
        return
    held = ", ".join(sorted(principal.roles)) or "none"
    raise Forbidden(
        f"{what} requires one of the roles: {', '.join(roles)} (you have: {held})",
        code="case.role_forbidden",
        extra={"required_roles": list(roles)},
    )


def check_transition_role(principal: Principal, transition: lifecycle.Transition) -> None:
    require_case_role(principal, transition.roles, transition.action)


def check_write_role(principal: Principal, action: str) -> None:
    """The role guard of a write that keeps the status (``lifecycle.CASE_WRITES``)."""
    write = lifecycle.CASE_WRITES[action]
    require_case_role(principal, write.roles, write.what)


# ---------------------------------------------------------------------------
# Documents, deadlines and the audit trail of every change


async def add_document(
    *,
    case_id: uuid.UUID,
    stage: str,
    kind: str,
    title: str,
    body: str,
    actor: str,
    on: dt.date | None = None,
) -> uuid.UUID:
    doc_id = uuid.uuid4()
    await CaseDocument.insert(
        CaseDocument(
            id=doc_id,
            case=case_id,
            stage=stage,
            kind=kind,
            title=title,
            body=body,
            sha256=hashlib.sha256(body.encode("utf-8")).hexdigest(),
            issued_on=on or today(),
            created_by=actor,
            created_at=clock.now(),
        )
    ).run()
    return doc_id


async def _stops(case_id: uuid.UUID) -> list[StopPeriod]:
    return [
        StopPeriod(reason=r["reason"], started_on=r["started_on"], ended_on=r["ended_on"])
        for r in await ClockStop.select(ClockStop.reason, ClockStop.started_on, ClockStop.ended_on)
        .where(ClockStop.case == case_id)
        .run()
    ]


async def compute_deadlines(row: dict[str, Any]) -> list[Deadline]:
    facts = await gather_facts(row)
    finished = row.get("closed_on") if row["status"] in lifecycle.FINISHED_STATUSES else None
    if row["status"] in ("no_penalty", "transferred_out"):
        finished = row.get("decided_on") or row["updated_at"].date()
    dates = CaseDates(
        procedure=row["procedure"],
        filed_on=row["filed_on"],
        extension_days=row["extension_days"],
        extensions=row["extensions"],
        prior_notice_on=row.get("prior_notice_on"),
        hearing_offered=facts.hearing_offered,
        hearing_requested=bool(row.get("hearing_requested")),
        hearing_waived_on=row.get("hearing_waived_on"),
        decided_on=row.get("decided_on") if row["status"] != "no_penalty" else None,
        served_on=row.get("served_on"),
        published_on=row.get("published_on"),
        executed_on=row.get("executed_on"),
        penalty=row["status"] != "no_penalty",
        finished_on=finished,
    )
    return compute_case_deadlines(
        dates,
        await _stops(row["id"]),
        rules=facts.rules,
        cal=await load_calendar(),
        today=today(),
    )


async def refresh_deadlines(case_id: uuid.UUID) -> None:
    """Store the current due dates (what the escalation sweep reads); inside the caller's tx."""
    row = await Case.select(*_case_columns()).where(Case.id == case_id).first().run()
    assert row is not None
    now = clock.now()
    for d in await compute_deadlines(row):
        values: dict[str, Any] = {
            "due_on": d.due_on,
            "provisional": d.provisional,
            "basis": "\n".join(d.basis),
            "met_on": d.met_on,
            "updated_at": now,
        }
        updated = (
            await CaseDeadline.update(values)  # type: ignore[arg-type]
            .where((CaseDeadline.case == case_id) & (CaseDeadline.kind == d.kind))
            .returning(CaseDeadline.id)
            .run()
        )
        if not updated:
            await CaseDeadline.insert(
                CaseDeadline(
                    id=uuid.uuid4(),
                    case=case_id,
                    kind=d.kind,
                    **values,
                )
            ).run()


async def record_case_event(
    row: dict[str, Any], *, action: str, actor: str, payload: dict[str, Any]
) -> None:
    await audit.record(
        stream=f"case:{row['id']}",
        action=action,
        actor=actor,
        payload=payload,
        org_unit_id=row["org_unit_id"],
    )


async def apply_transition(
    *,
    principal: Principal,
    case_id: uuid.UUID,
    action: str,
    version: int | None,
    note: str = "",
    changes: dict[Any, Any] | None = None,
    payload: dict[str, Any] | None = None,
    check_role: bool = True,
    load_write: bool = True,
) -> dict[str, Any]:
    """Move the case by ``action``; must run inside ``write_tx()``. Returns the row before."""
    transition = lifecycle.TRANSITIONS[action]
    if check_role:
        check_transition_role(principal, transition)
    row = await load_case(principal, case_id, write=load_write)
    refuse_if_unmet(transition, await gather_facts(row))
    target = lifecycle.target_of(transition, row["suspended_from"])
    values = dict(changes or {})
    values[Case.status] = target
    await bump_version(
        Case,
        case_id,
        seen=version if version is not None else row["version"],
        changes=values,
        what="case",
    )
    if transition.document:
        stage, kind, title = transition.document
        await add_document(
            case_id=case_id,
            stage=stage,
            kind=kind,
            title=title,
            body=note or title,
            actor=principal.actor,
        )
    await refresh_deadlines(case_id)
    await record_case_event(
        row,
        action=f"case.{action}",
        actor=principal.actor,
        payload={"from": row["status"], "to": target, "note": note, **(payload or {})},
    )
    return row


# ---------------------------------------------------------------------------
# Filing


async def file_case(*, principal: Principal, data: s.CaseFileIn) -> s.CaseOut:
    """立案 (general procedure): from a lead of the unit, or directly."""
    transition = lifecycle.TRANSITIONS["file"]
    check_transition_role(principal, transition)
    case_id = uuid.uuid4()
    now = clock.now()
    day = local_day(now)
    async with write_tx():
        lead = None
        if data.lead_id is not None:
            lead = await scope.fetch(
                Lead, data.lead_id, principal, org_column=Lead.org_unit, what="lead"
            )
            if lead["status"] != "open":
                raise Conflict(f"the lead is already {lead['status']}", code="lead.already_decided")
            received = local_day(lead["received_at"])
            if data.violation_on is not None and data.violation_on > received:
                # The lead's receipt is the day of discovery (and ends the limitation
                # count): a lead cannot report what had not happened yet.
                raise BadRequest(
                    f"the violation began on {data.violation_on}, after the lead was received "
                    f"on {received}: file it from a lead that reported it, or without a lead",
                    code="case.violation_after_lead",
                )
        org_unit_id = data.org_unit_id or (lead["org_unit"] if lead else principal.org_unit_id)
        scope.require(principal, org_unit_id, what="org unit")
        area = data.area_org_unit_id or org_unit_id
        row: dict[str, Any] = {
            "id": case_id,
            "number": "",
            "lead_id": data.lead_id,
            "matter_id": data.matter_id,
            "org_unit_id": org_unit_id,
            "area_org_unit_id": area,
            "grid_id": data.grid_id or (lead["grid"] if lead else None),
            "procedure": "general",
            "status": lifecycle.NEW,
            "subject_code": data.subject_code or (lead["subject_code"] if lead else ""),
            "subject_name": data.subject_name or (lead["subject_name"] if lead else ""),
            "subject_kind": data.subject_kind,
            "location": data.location or (lead["location"] if lead else ""),
            "description": data.description or (lead["description"] if lead else ""),
            "flags": sorted(set(data.flags)),
            "violation_on": data.violation_on,
            "violation_ended_on": data.violation_ended_on,
            "officer_ids": [],
        }
        refuse_if_unmet(transition, await gather_facts(row, status=lifecycle.NEW, on=day))
        row["number"] = await numbering.next_number(
            org_unit_id=org_unit_id, day=day, series=numbering.GENERAL
        )
        await _insert_case(row, principal=principal, status="filed", filed_on=day, now=now)
        if lead is not None:
            await bump_version(
                Lead,
                lead["id"],
                seen=lead["version"],
                changes={
                    Lead.status: "filed",
                    Lead.case_id: case_id,
                    Lead.decided_at: now,
                    Lead.decided_by: principal.actor,
                },
                what="lead",
            )
            await audit.record(
                stream=f"lead:{lead['id']}",
                action="lead.filed",
                actor=principal.actor,
                payload={"case_id": case_id},
                org_unit_id=lead["org_unit"],
            )
        stage, kind, title = transition.document or ("filing", "filing_approval", "立案审批表")
        await add_document(
            case_id=case_id,
            stage=stage,
            kind=kind,
            title=title,
            body=data.note or row["description"] or title,
            actor=principal.actor,
        )
        await refresh_deadlines(case_id)
        await record_case_event(
            row,
            action="case.file",
            actor=principal.actor,
            payload={
                "from": lifecycle.NEW,
                "to": "filed",
                "number": row["number"],
                "matter_id": data.matter_id,
                "lead_id": data.lead_id,
                "flags": row["flags"],
            },
        )
    return await get_case(principal=principal, case_id=case_id)


async def _insert_case(
    row: dict[str, Any], *, principal: Principal, status: str, filed_on: dt.date, now: dt.datetime
) -> None:
    if row["grid_id"] is not None:
        from backend.orgs.tables import Grid

        if not await Grid.exists().where(Grid.id == row["grid_id"]).run():
            raise NotFound("grid not found", code="grid.not_found")
    if not await OrgUnit.exists().where(OrgUnit.id == row["area_org_unit_id"]).run():
        raise NotFound("area org unit not found", code="org_unit.not_found")
    await Case.insert(
        Case(
            id=row["id"],
            number=row["number"],
            lead_id=row["lead_id"],
            matter=row["matter_id"],
            org_unit=row["org_unit_id"],
            area_org_unit=row["area_org_unit_id"],
            grid=row["grid_id"],
            team=row.get("team_id"),
            procedure=row["procedure"],
            status=status,
            subject_code=row["subject_code"],
            subject_name=row["subject_name"],
            subject_kind=row["subject_kind"],
            location=row["location"],
            description=row["description"],
            flags=row["flags"],
            violation_on=row["violation_on"],
            violation_ended_on=row["violation_ended_on"],
            filed_on=filed_on,
            filed_at=now,
            penalty_kind=row.get("penalty_kind", ""),
            fine_amount=row.get("fine_amount"),
            facts=row.get("facts", ""),
            decided_on=row.get("decided_on"),
            created_by=principal.actor,
            created_at=now,
            updated_at=now,
            version=1,
        )
    ).run()
    for officer_id in row["officer_ids"]:
        await CaseOfficer.insert(
            CaseOfficer(
                id=uuid.uuid4(),
                case=row["id"],
                officer=officer_id,
                role="investigator",
                assigned_at=now,
            )
        ).run()


async def decide_on_site(*, principal: Principal, data: s.OnSiteDecisionIn) -> s.CaseOut:
    """当场处罚: a warning or a small fine decided on the spot by at least two officers."""
    transition = lifecycle.TRANSITIONS["decide_on_site"]
    check_transition_role(principal, transition)
    if len(set(data.officer_ids)) != len(data.officer_ids):
        raise BadRequest("an officer is listed twice", code="case.duplicate_officer")
    case_id = uuid.uuid4()
    now = clock.now()
    day = local_day(now)
    async with write_tx():
        scope.require(principal, data.org_unit_id, what="org unit")
        await _check_officers_visible(principal, data.officer_ids)
        row: dict[str, Any] = {
            "id": case_id,
            "number": "",
            "lead_id": None,
            "matter_id": data.matter_id,
            "org_unit_id": data.org_unit_id,
            "area_org_unit_id": data.org_unit_id,
            "grid_id": data.grid_id,
            "procedure": "simplified",
            "status": lifecycle.NEW,
            "subject_code": data.subject_code,
            "subject_name": data.subject_name,
            "subject_kind": data.subject_kind,
            "location": data.location,
            "description": data.description,
            "flags": [],
            "violation_on": day,
            "violation_ended_on": None,
            "penalty_kind": data.penalty_kind,
            "fine_amount": data.fine_amount if data.penalty_kind == "fine" else None,
            "facts": data.facts,
            "decided_on": day,
            "officer_ids": list(data.officer_ids),
        }
        refuse_if_unmet(transition, await gather_facts(row, status=lifecycle.NEW, on=day))
        row["number"] = await numbering.next_number(
            org_unit_id=data.org_unit_id, day=day, series=numbering.SIMPLIFIED
        )
        await _insert_case(row, principal=principal, status="decided", filed_on=day, now=now)
        stage, kind, title = transition.document or ("decision", "on_site_decision", "决定书")
        await add_document(
            case_id=case_id,
            stage=stage,
            kind=kind,
            title=title,
            body=data.facts or data.description or title,
            actor=principal.actor,
        )
        await refresh_deadlines(case_id)
        await record_case_event(
            row,
            action="case.decide_on_site",
            actor=principal.actor,
            payload={
                "from": lifecycle.NEW,
                "to": "decided",
                "number": row["number"],
                "penalty_kind": data.penalty_kind,
                "fine_amount": row["fine_amount"],
                "officer_ids": data.officer_ids,
            },
        )
        if data.served_on_spot:
            await apply_transition(
                principal=principal,
                case_id=case_id,
                action="serve",
                version=1,
                note="当场交付",
                changes={Case.served_on: day},
            )
    return await get_case(principal=principal, case_id=case_id)


async def _check_officers_visible(principal: Principal, officer_ids: Sequence[uuid.UUID]) -> None:
    if not officer_ids:
        return
    found = (
        await Officer.select(Officer.id, Officer.org_unit)
        .where(Officer.id.is_in(list(officer_ids)))
        .run()
    )
    visible = {uuid.UUID(str(r["id"])) for r in found if principal.sees_org(r["org_unit"])}
    missing = [str(i) for i in officer_ids if i not in visible]
    if missing:
        raise NotFound(f"officers not found: {', '.join(missing)}", code="officer.not_found")


# ---------------------------------------------------------------------------
# The transitions exposed as one call each (the table says who and when)

# What each simple transition writes on the case besides its status.
_STAMPS: dict[str, Any] = {
    "give_prior_notice": Case.prior_notice_on,
    "decide": Case.decided_on,
    "decide_no_penalty": Case.decided_on,
    "serve": Case.served_on,
    "execute": Case.executed_on,
    "close": Case.closed_on,
    "archive": Case.archived_on,
}
SIMPLE_ACTIONS = (
    "investigate",
    "give_prior_notice",
    "request_hearing",
    "decide",
    "decide_no_penalty",
    "serve",
    "execute",
    "close",
    "archive",
    "suspend",
    "resume",
)


async def transition_case(
    *,
    principal: Principal,
    case_id: uuid.UUID,
    action: str,
    version: int | None = None,
    note: str = "",
) -> s.CaseOut:
    """Apply one of ``SIMPLE_ACTIONS`` (reviews and transfers have their own services)."""
    if action not in SIMPLE_ACTIONS:
        raise NotFound(f"no case action {action!r}", code="case.unknown_action")
    day = today()
    changes: dict[Any, Any] = {}
    if action in _STAMPS:
        changes[_STAMPS[action]] = day
    if action == "decide":
        changes[Case.decision_text] = note
    async with write_tx():
        if action == "request_hearing":
            changes[Case.hearing_requested] = True
        if action == "suspend":
            current = await load_case(principal, case_id, write=True)
            changes[Case.suspended_from] = current["status"]
        if action == "resume":
            changes[Case.suspended_from] = ""
        await apply_transition(
            principal=principal,
            case_id=case_id,
            action=action,
            version=version,
            note=note,
            changes=changes,
        )
        if action == "request_hearing":
            await _open_stop(case_id, "hearing", day, "当事人申请听证")
        if action == "suspend":
            await _open_stop(case_id, "suspension", day, note)
        if action == "resume":
            await _close_stops(case_id, "suspension", day)
        if action in ("request_hearing", "suspend", "resume"):
            await refresh_deadlines(case_id)
    return await get_case(principal=principal, case_id=case_id)


async def next_actions(*, principal: Principal, case_id: uuid.UUID) -> list[s.NextActionOut]:
    """The transitions (and the hearing waiver) possible from the case's status, and what
    still blocks each."""
    row = await load_case(principal, case_id, write=False)
    facts = await gather_facts(row)
    review = None
    if row["status"] == "legal_review":
        pending = await (
            LegalReview.select(LegalReview.id)
            .where((LegalReview.case == case_id) & (LegalReview.status == "pending"))
            .first()
            .run()
        )
        review = pending["id"] if pending else None
    out = []
    for transition in lifecycle.NEXT_ACTIONS:
        if row["status"] not in transition.sources:
            continue
        if row["procedure"] not in transition.procedures:
            continue
        unmet = lifecycle.unmet_preconditions(transition, facts)
        role_ok = principal.has_any_role(*transition.roles) and not row["read_only"]
        out.append(
            s.NextActionOut(
                action=transition.action,
                target=lifecycle.target_of(transition, row["suspended_from"]),
                allowed=role_ok and not unmet,
                role_ok=role_ok,
                unmet=[s.UnmetOut(check=u.check, detail=u.detail) for u in unmet],
                path=lifecycle.action_path(transition.action, case_id, review),
            )
        )
    return out


# ---------------------------------------------------------------------------
# Investigation data: penalty proposal, actions, hearings, clock stops, extensions


async def _write_case(
    principal: Principal,
    case_id: uuid.UUID,
    *,
    version: int | None,
    statuses: Sequence[str],
    what: str,
) -> dict[str, Any]:
    row = await load_case(principal, case_id, write=True)
    if row["status"] not in statuses:
        raise Conflict(
            f"{what} is not possible in status {row['status']} (allowed in: {', '.join(statuses)})",
            code="case.bad_status",
        )
    if version is not None and version != row["version"]:
        raise Conflict(
            f"the case was changed by someone else (version {version} is stale); reload",
            code="case.version_conflict",
        )
    return row


async def propose_penalty(
    *, principal: Principal, case_id: uuid.UUID, data: s.PenaltyIn
) -> s.CaseOut:
    check_write_role(principal, "propose_penalty")
    if data.penalty_kind == "fine" and not data.fine_amount:
        raise BadRequest("a fine needs fine_amount", code="case.fine_amount_required")
    async with write_tx():
        row = await _write_case(
            principal,
            case_id,
            version=data.version,
            statuses=("investigating", "legal_review"),
            what="proposing a penalty",
        )
        await bump_version(
            Case,
            case_id,
            seen=row["version"],
            changes={
                Case.penalty_kind: data.penalty_kind,
                Case.fine_amount: data.fine_amount,
                Case.confiscation_value: data.confiscation_value,
                Case.facts: data.facts,
            },
            what="case",
        )
        await add_document(
            case_id=case_id,
            stage="investigation",
            kind="investigation_report",
            title="案件调查终结报告",
            body=data.facts or f"{data.penalty_kind} {data.fine_amount or ''}",
            actor=principal.actor,
        )
        await record_case_event(
            row,
            action="case.penalty_proposed",
            actor=principal.actor,
            payload={
                "penalty_kind": data.penalty_kind,
                "fine_amount": data.fine_amount,
                "confiscation_value": data.confiscation_value,
            },
        )
    return await get_case(principal=principal, case_id=case_id)


async def _check_case_evidence(case_id: uuid.UUID, evidence_ids: Sequence[uuid.UUID]) -> None:
    """Only evidence of this case (taken for it, or attached to it later) goes on its actions."""
    if not evidence_ids:
        return
    try:
        from backend.evidence import service as evidence
        from backend.evidence.tables import Evidence
    except ImportError:  # the evidence domain is not installed
        return
    rows = await (
        Evidence.select(Evidence.id)
        .where(Evidence.id.is_in(list(evidence_ids)))
        .where((Evidence.target_kind == "case") & (Evidence.target_id == case_id))
        .run()
    )
    ours = {str(r["id"]) for r in rows} | {
        str(i) for i in await evidence.linked_evidence_ids(case_id)
    }
    foreign = [str(i) for i in evidence_ids if str(i) not in ours]
    if foreign:
        raise BadRequest(
            f"not evidence of this case: {', '.join(foreign)}", code="case.evidence_not_of_case"
        )


async def record_action(
    *, principal: Principal, case_id: uuid.UUID, data: s.ActionIn
) -> s.ActionOut:
    """An on-site action with the officers present and the recordings that prove it."""
    check_write_role(principal, "record_action")
    action_id = uuid.uuid4()
    async with write_tx():
        row = await _write_case(
            principal,
            case_id,
            version=None,
            statuses=("filed", "investigating", "legal_review", "prior_notice", "hearing",
                      "decided", "served", "executing"),
            what="recording an action",
        )  # fmt: skip
        await _check_officers_visible(principal, data.officer_ids)
        await _check_case_evidence(case_id, data.evidence_ids)
        await CaseAction.insert(
            CaseAction(
                id=action_id,
                case=case_id,
                kind=data.kind,
                at=data.at,
                officer_ids=[str(o) for o in data.officer_ids],
                evidence_ids=[str(e) for e in data.evidence_ids],
                note=data.note,
                recorded_by=principal.actor,
                created_at=clock.now(),
            )
        ).run()
        await Case.update({Case.updated_at: clock.now()}).where(Case.id == case_id).run()
        await record_case_event(
            row,
            action="case.action_recorded",
            actor=principal.actor,
            payload={
                "action_id": action_id,
                "kind": data.kind,
                "at": data.at,
                "officer_ids": data.officer_ids,
                "evidence_ids": data.evidence_ids,
            },
        )
    return s.ActionOut(
        id=action_id,
        kind=data.kind,
        at=data.at,
        officer_ids=[str(o) for o in data.officer_ids],
        evidence_ids=[str(e) for e in data.evidence_ids],
        note=data.note,
    )


async def attach_action_evidence(
    *, principal: Principal, case_id: uuid.UUID, action_id: uuid.UUID, evidence_ids: list[uuid.UUID]
) -> s.ActionOut:
    """Attach recordings to an action already recorded (nothing attached is ever removed)."""
    check_write_role(principal, "attach_action_evidence")
    async with write_tx():
        row = await load_case(principal, case_id, write=True)
        action = (
            await CaseAction.select()
            .where((CaseAction.id == action_id) & (CaseAction.case == case_id))
            .first()
            .run()
        )
        if action is None:
            raise NotFound("action not found", code="case_action.not_found")
        await _check_case_evidence(case_id, evidence_ids)
        merged = list(dict.fromkeys([*(action["evidence_ids"] or []), *map(str, evidence_ids)]))
        await (
            CaseAction.update({CaseAction.evidence_ids: merged})
            .where(CaseAction.id == action_id)
            .run()
        )
        await Case.update({Case.updated_at: clock.now()}).where(Case.id == case_id).run()
        await record_case_event(
            row,
            action="case.action_evidence_attached",
            actor=principal.actor,
            payload={"action_id": action_id, "evidence_ids": evidence_ids},
        )
    return s.ActionOut(
        id=action_id,
        kind=action["kind"],
        at=action["at"],
        officer_ids=action["officer_ids"],
        evidence_ids=merged,
        note=action["note"],
    )


async def list_actions(*, principal: Principal, case_id: uuid.UUID) -> list[s.ActionOut]:
    await load_case(principal, case_id, write=False)
    rows = (
        await CaseAction.select(
            CaseAction.id,
            CaseAction.kind,
            CaseAction.at,
            CaseAction.officer_ids,
            CaseAction.evidence_ids,
            CaseAction.note,
        )
        .where(CaseAction.case == case_id)
        .order_by(CaseAction.at)
        .run()
    )
    return [to_struct(s.ActionOut, r) for r in rows]


async def schedule_hearing(
    *, principal: Principal, case_id: uuid.UUID, data: s.HearingScheduleIn
) -> s.CaseOut:
    check_write_role(principal, "schedule_hearing")
    rules = await load_rules()
    if (data.hearing_on - data.notice_on).days < rules.hearing_notice_days:
        raise BadRequest(
            f"the hearing notice must go out at least {rules.hearing_notice_days} days before "
            "the hearing",
            code="case.hearing_notice_too_late",
        )
    async with write_tx():
        row = await _write_case(
            principal, case_id, version=data.version, statuses=("hearing",), what="a hearing"
        )
        await bump_version(
            Case,
            case_id,
            seen=row["version"],
            changes={Case.hearing_notice_on: data.notice_on, Case.hearing_on: data.hearing_on},
            what="case",
        )
        await add_document(
            case_id=case_id,
            stage="review",
            kind="hearing_notice",
            title="听证通知书",
            body=f"听证定于 {data.hearing_on.isoformat()} 举行",
            actor=principal.actor,
            on=data.notice_on,
        )
        await record_case_event(
            row,
            action="case.hearing_scheduled",
            actor=principal.actor,
            payload={"notice_on": data.notice_on, "hearing_on": data.hearing_on},
        )
    return await get_case(principal=principal, case_id=case_id)


async def waive_hearing(
    *, principal: Principal, case_id: uuid.UUID, data: s.HearingWaiverIn
) -> s.CaseOut:
    """放弃听证: record that the party declined the hearing within its window (audited, with
    a document in the file), so that the case may be decided before the window ends."""
    step = lifecycle.WAIVE_HEARING
    check_write_role(principal, "waive_hearing")
    async with write_tx():
        row = await _write_case(
            principal, case_id, version=data.version, statuses=tuple(step.sources),
            what="waiving the hearing",
        )  # fmt: skip
        facts = await gather_facts(row)
        refuse_if_unmet(step, facts)
        await bump_version(
            Case, case_id, seen=row["version"], changes={Case.hearing_waived_on: facts.today},
            what="case",
        )  # fmt: skip
        stage, kind, title = step.document or ("review", "hearing_waiver", "放弃听证声明")
        await add_document(
            case_id=case_id, stage=stage, kind=kind, title=title, body=data.statement,
            actor=principal.actor,
        )  # fmt: skip
        await refresh_deadlines(case_id)
        await record_case_event(
            row,
            action="case.hearing_waived",
            actor=principal.actor,
            payload={
                "waived_on": facts.today,
                "window_ends": facts.hearing_window_ends,
                "statement": data.statement,
            },
        )
    return await get_case(principal=principal, case_id=case_id)


async def record_hearing(
    *, principal: Principal, case_id: uuid.UUID, data: s.HearingRecordIn
) -> s.CaseOut:
    check_write_role(principal, "record_hearing")
    async with write_tx():
        row = await _write_case(
            principal, case_id, version=data.version, statuses=("hearing",), what="a hearing"
        )
        if row["hearing_on"] is None:
            raise Conflict("schedule the hearing first", code="case.hearing_not_scheduled")
        if data.held_on < row["hearing_on"]:
            raise BadRequest(
                "the hearing cannot be held before its notified date", code="case.hearing_early"
            )
        if data.chair_officer_id and data.chair_officer_id in await active_officer_ids(case_id):
            raise BadRequest(
                "the hearing chair must not be one of the case's investigators",
                code="case.hearing_chair_investigator",
            )
        await bump_version(
            Case, case_id, seen=row["version"], changes={Case.hearing_held_on: data.held_on},
            what="case",
        )  # fmt: skip
        await _close_stops(case_id, "hearing", data.held_on)
        await add_document(
            case_id=case_id,
            stage="review",
            kind="hearing_record",
            title="听证笔录",
            body=f"主持人：{data.chair_name}\n{data.summary}",
            actor=principal.actor,
            on=data.held_on,
        )
        await refresh_deadlines(case_id)
        await record_case_event(
            row,
            action="case.hearing_held",
            actor=principal.actor,
            payload={
                "held_on": data.held_on,
                "chair_name": data.chair_name,
                "chair_officer_id": data.chair_officer_id,
            },
        )
    return await get_case(principal=principal, case_id=case_id)


async def _open_stop(case_id: uuid.UUID, reason: str, day: dt.date, note: str) -> uuid.UUID:
    stop_id = uuid.uuid4()
    await ClockStop.insert(
        ClockStop(id=stop_id, case=case_id, reason=reason, started_on=day, note=note)
    ).run()
    return stop_id


async def _close_stops(case_id: uuid.UUID, reason: str, day: dt.date) -> None:
    await (
        ClockStop.update({ClockStop.ended_on: day})
        .where(ClockStop.case == case_id)
        .where(ClockStop.reason == reason)
        .where(ClockStop.ended_on.is_null())
        .run()
    )


# Clock stops opened and closed by transitions only (suspend/resume, the hearing).
TRANSITION_STOPS = frozenset({"suspension", "hearing"})


async def start_clock_stop(
    *, principal: Principal, case_id: uuid.UUID, data: s.ClockStopIn
) -> s.ClockStopOut:
    """Stop the decision clock for testing, appraisal or a public notice.

    A suspension (中止) is the head's transition and a hearing's stop comes with the
    hearing request: neither opens here, so no officer can pause the clock that way."""
    check_write_role(principal, "start_clock_stop")
    if data.reason in TRANSITION_STOPS:
        raise BadRequest(
            f"a {data.reason} clock stop comes with its transition, not from this endpoint",
            code="case.stop_by_transition",
        )
    async with write_tx():
        row = await _write_case(
            principal,
            case_id,
            version=None,
            statuses=("filed", "investigating", "legal_review", "prior_notice", "hearing"),
            what="stopping the clock",
        )
        if data.started_on < row["filed_on"]:
            raise BadRequest("a clock stop cannot start before filing", code="case.bad_stop")
        if await ClockStop.exists().where(
            (ClockStop.case == case_id)
            & (ClockStop.reason == data.reason)
            & ClockStop.ended_on.is_null()
        ):
            raise Conflict(f"the clock is already stopped for {data.reason}", code="case.stopped")
        stop_id = await _open_stop(case_id, data.reason, data.started_on, data.note)
        await Case.update({Case.updated_at: clock.now()}).where(Case.id == case_id).run()
        await refresh_deadlines(case_id)
        await record_case_event(
            row,
            action="case.clock_stopped",
            actor=principal.actor,
            payload={"stop_id": stop_id, "reason": data.reason, "started_on": data.started_on},
        )
    return s.ClockStopOut(
        id=stop_id, reason=data.reason, started_on=data.started_on, ended_on=None, note=data.note
    )


async def end_clock_stop(
    *, principal: Principal, case_id: uuid.UUID, stop_id: uuid.UUID, data: s.ClockStopEndIn
) -> s.ClockStopOut:
    check_write_role(principal, "end_clock_stop")
    async with write_tx():
        row = await load_case(principal, case_id, write=True)
        stop = (
            await ClockStop.select()
            .where((ClockStop.id == stop_id) & (ClockStop.case == case_id))
            .first()
            .run()
        )
        if stop is None:
            raise NotFound("clock stop not found", code="clock_stop.not_found")
        if stop["ended_on"] is not None:
            raise Conflict("the clock stop already ended", code="clock_stop.ended")
        if stop["reason"] in TRANSITION_STOPS:
            raise Conflict(
                f"a {stop['reason']} clock stop ends with its transition "
                "(resume, or the hearing being held)",
                code="case.stop_by_transition",
            )
        if data.ended_on < stop["started_on"]:
            raise BadRequest("a clock stop cannot end before it starts", code="case.bad_stop")
        await (
            ClockStop.update({ClockStop.ended_on: data.ended_on})
            .where(ClockStop.id == stop_id)
            .run()
        )
        await Case.update({Case.updated_at: clock.now()}).where(Case.id == case_id).run()
        await refresh_deadlines(case_id)
        await record_case_event(
            row,
            action="case.clock_resumed",
            actor=principal.actor,
            payload={"stop_id": stop_id, "ended_on": data.ended_on},
        )
    return s.ClockStopOut(
        id=stop_id,
        reason=stop["reason"],
        started_on=stop["started_on"],
        ended_on=data.ended_on,
        note=stop["note"],
    )


async def extend_decision(
    *, principal: Principal, case_id: uuid.UUID, data: s.ExtensionIn
) -> s.CaseOut:
    """+30 days with the head's approval; any further extension needs a collective decision."""
    check_write_role(principal, "extend_decision")
    rules = await load_rules()
    async with write_tx():
        row = await _write_case(
            principal,
            case_id,
            version=data.version,
            statuses=("filed", "investigating", "legal_review", "prior_notice", "hearing",
                      "suspended"),
            what="extending the decision limit",
        )  # fmt: skip
        if row["extensions"] == 0:
            if data.days > rules.decision_extension_days:
                raise BadRequest(
                    f"the head may extend by at most {rules.decision_extension_days} days",
                    code="case.extension_too_long",
                )
        elif not data.collective_decision_ref.strip():
            raise Conflict(
                "a further extension needs a recorded collective decision "
                "(collective_decision_ref)",
                code="case.collective_decision_required",
            )
        await bump_version(
            Case,
            case_id,
            seen=row["version"],
            changes={
                Case.extension_days: row["extension_days"] + data.days,
                Case.extensions: row["extensions"] + 1,
            },
            what="case",
        )
        await add_document(
            case_id=case_id,
            stage="investigation",
            kind="extension_approval",
            title="延长办案期限审批表",
            body=f"+{data.days} 天：{data.reason} {data.collective_decision_ref}".strip(),
            actor=principal.actor,
        )
        await refresh_deadlines(case_id)
        await record_case_event(
            row,
            action="case.decision_extended",
            actor=principal.actor,
            payload={
                "days": data.days,
                "reason": data.reason,
                "collective_decision_ref": data.collective_decision_ref,
            },
        )
    return await get_case(principal=principal, case_id=case_id)


async def publish_decision(
    *, principal: Principal, case_id: uuid.UUID, version: int | None = None
) -> s.CaseOut:
    check_write_role(principal, "publish_decision")
    async with write_tx():
        row = await _write_case(
            principal,
            case_id,
            version=version,
            statuses=("decided", "served", "executing", "closed"),
            what="publishing the decision",
        )
        if row["published_on"] is not None:
            raise Conflict("the decision is already published", code="case.published")
        await bump_version(
            Case, case_id, seen=row["version"], changes={Case.published_on: today()}, what="case"
        )
        await refresh_deadlines(case_id)
        await record_case_event(
            row, action="case.decision_published", actor=principal.actor, payload={}
        )
    return await get_case(principal=principal, case_id=case_id)


# ---------------------------------------------------------------------------
# Deadlines as the case shows them


async def case_deadlines(*, principal: Principal, case_id: uuid.UUID) -> list[s.DeadlineOut]:
    """The current time limits with how each was computed (and whether it is provisional)."""
    row = await load_case(principal, case_id, write=False)
    out = [
        s.DeadlineOut(
            kind=d.kind,
            due_on=d.due_on,
            provisional=d.provisional,
            basis=list(d.basis),
            met_on=d.met_on,
            paused=d.paused,
            warning=_provisional_warning(d.provisional),
        )
        for d in await compute_deadlines(row)
    ]
    for review in await LegalReview.select(
        LegalReview.status, LegalReview.due_on, LegalReview.due_provisional, LegalReview.extended,
        LegalReview.requested_at, LegalReview.decided_at,
    ).where(LegalReview.case == case_id).order_by(LegalReview.requested_at):  # fmt: skip
        basis = [f"legal review: requested {local_day(review['requested_at']).isoformat()}"]
        if review["extended"]:
            basis.append("extended once")
        out.append(
            s.DeadlineOut(
                kind="legal_review",
                due_on=review["due_on"],
                provisional=review["due_provisional"],
                basis=basis,
                met_on=local_day(review["decided_at"]) if review["decided_at"] else None,
                warning=_provisional_warning(review["due_provisional"]),
            )
        )
    from backend.cases.tables import Transfer

    for transfer in await Transfer.select(
        Transfer.kind, Transfer.status, Transfer.respond_by, Transfer.respond_by_provisional,
        Transfer.responded_at, Transfer.requested_at,
    ).where(Transfer.case == case_id).order_by(Transfer.requested_at):  # fmt: skip
        kind = "police_head_decision" if transfer["kind"] == "to_police" else "transfer_acceptance"
        out.append(
            s.DeadlineOut(
                kind=kind,
                due_on=transfer["respond_by"],
                provisional=transfer["respond_by_provisional"],
                basis=[
                    f"{transfer['kind']} transfer requested "
                    f"{local_day(transfer['requested_at']).isoformat()}"
                ],
                met_on=local_day(transfer["responded_at"]) if transfer["responded_at"] else None,
                warning=_provisional_warning(transfer["respond_by_provisional"]),
            )
        )
    return out


def _provisional_warning(provisional: bool) -> str:
    if not provisional:
        return ""
    return (
        "provisional: the official holiday schedule for a year in this span is not loaded; "
        "weekends were counted as rest days; it will be recomputed once the schedule is imported"
    )


async def recompute_provisional_deadlines() -> int:
    """Recompute stored deadlines that were provisional (after a calendar import)."""
    rows = (
        await CaseDeadline.select(CaseDeadline.case)
        .where(CaseDeadline.provisional == True)  # noqa: E712
        .run()
    )
    case_ids = {uuid.UUID(str(r["case"])) for r in rows}
    for case_id in case_ids:
        async with write_tx():
            await refresh_deadlines(case_id)
    return len(case_ids)


# ---------------------------------------------------------------------------
# Team assignment


async def open_load(officer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Open cases per officer (cases not finished)."""
    if not officer_ids:
        return {}
    rows = (
        await CaseOfficer.select(CaseOfficer.officer, CaseOfficer.case.status.as_alias("status"))
        .where(CaseOfficer.officer.is_in(list(officer_ids)))
        .where(CaseOfficer.removed_at.is_null())
        .run()
    )
    load = {o: 0 for o in officer_ids}
    for r in rows:
        if r["status"] in lifecycle.ACTIVE_STATUSES:
            load[uuid.UUID(str(r["officer"]))] = load.get(uuid.UUID(str(r["officer"])), 0) + 1
    return load


async def propose_team(*, principal: Principal, case_id: uuid.UUID) -> s.TeamProposalOut:
    """The team of the grid covering the case, competent for its domain, least loaded."""
    row = await load_case(principal, case_id, write=False)
    matter = await Matter.select(Matter.domain).where(Matter.id == row["matter_id"]).first().run()
    assert matter is not None
    domain = matter["domain"]
    grid_code = None
    if row["grid_id"]:
        from backend.orgs.tables import Grid

        grid = await Grid.select(Grid.code).where(Grid.id == row["grid_id"]).first().run()
        grid_code = grid["code"] if grid else None
    teams = await Team.select(Team.id, Team.code, Team.domains, Team.grid_codes).where(
        Team.org_unit == row["org_unit_id"]
    )
    day = today()
    best: tuple[tuple[int, int, float], dict[str, Any], list[s.ProposedOfficer], list[str]] | None
    best = None
    for team in teams:
        reasons = []
        covers = bool(grid_code and grid_code in (team["grid_codes"] or []))
        competent = domain in (team["domains"] or [])
        reasons.append(f"covers grid {grid_code}" if covers else "does not cover the case's grid")
        reasons.append(f"competent for {domain}" if competent else f"not competent for {domain}")
        member_ids = [
            uuid.UUID(str(m["officer"]))
            for m in await TeamMember.select(TeamMember.officer).where(
                TeamMember.team == team["id"]
            )
        ]
        on_duty = {
            uuid.UUID(str(o["id"]))
            for o in await Officer.select(Officer.id)
            .where(Officer.id.is_in(member_ids or [uuid.UUID(int=0)]))
            .where(Officer.status == "on_duty")
        }
        certified = [
            c for c in await _certified([m for m in member_ids if m in on_duty], domain)
            if c.certified_on(day)
        ]  # fmt: skip
        load = await open_load([uuid.UUID(c.officer_id) for c in certified])
        ranked = sorted(certified, key=lambda c: (load[uuid.UUID(c.officer_id)], c.name))
        officers = [
            s.ProposedOfficer(
                officer_id=uuid.UUID(c.officer_id),
                name=c.name,
                open_cases=load[uuid.UUID(c.officer_id)],
            )
            for c in ranked
        ]
        avg = sum(load.values()) / len(load) if load else 0.0
        reasons.append(f"{len(certified)} certified officers on duty, average open load {avg:.1f}")
        key = (int(covers), int(competent and len(certified) >= 2), -avg)
        if best is None or key > best[0]:
            best = (key, team, officers, reasons)
    if best is None:
        return s.TeamProposalOut(team_id=None, team_code="", reasons=["no team in the unit"],
                                 officers=[])  # fmt: skip
    rules = await load_rules()
    _, team, officers, reasons = best
    return s.TeamProposalOut(
        team_id=team["id"],
        team_code=team["code"],
        reasons=reasons,
        officers=officers[: max(rules.min_officers, 2)],
    )


async def assign_team(
    *, principal: Principal, case_id: uuid.UUID, data: s.TeamAssignIn
) -> s.CaseOut:
    """A squad leader confirms the proposal or overrides it (the override is audited)."""
    check_write_role(principal, "assign_team")
    if len(set(data.officer_ids)) != len(data.officer_ids):
        raise BadRequest("an officer is listed twice", code="case.duplicate_officer")
    proposal = await propose_team(principal=principal, case_id=case_id)
    proposed = {o.officer_id for o in proposal.officers}
    overridden = data.team_id != proposal.team_id or set(data.officer_ids) != proposed
    if overridden and not data.reason.strip():
        raise BadRequest(
            "overriding the proposed team needs a reason", code="case.override_reason_required"
        )
    async with write_tx():
        row = await _write_case(
            principal,
            case_id,
            version=data.version,
            statuses=tuple(lifecycle.ACTIVE_STATUSES),
            what="assigning a team",
        )
        team = await scope.fetch(Team, data.team_id, principal, org_column=Team.org_unit,
                                 what="team")  # fmt: skip
        await _check_officers_visible(principal, data.officer_ids)
        now = clock.now()
        current = set(await active_officer_ids(case_id))
        wanted = set(data.officer_ids)
        removed = current - wanted
        if removed:
            await (
                CaseOfficer.update({CaseOfficer.removed_at: now})
                .where(CaseOfficer.case == case_id)
                .where(CaseOfficer.officer.is_in(list(removed)))
                .where(CaseOfficer.removed_at.is_null())
                .run()
            )
        for officer_id in data.officer_ids:
            if officer_id not in current:
                await CaseOfficer.insert(
                    CaseOfficer(id=uuid.uuid4(), case=case_id, officer=officer_id,
                                role="investigator", assigned_at=now)
                ).run()  # fmt: skip
        await bump_version(
            Case, case_id, seen=row["version"], changes={Case.team: team["id"]}, what="case"
        )
        await record_case_event(
            row,
            action="case.team_overridden" if overridden else "case.team_confirmed",
            actor=principal.actor,
            payload={
                "team_id": data.team_id,
                "officer_ids": data.officer_ids,
                "proposed_team_id": proposal.team_id,
                "proposed_officer_ids": sorted(str(o) for o in proposed),
                "reason": data.reason,
            },
        )
    return await get_case(principal=principal, case_id=case_id)
