"""Leads (线索): received from grids, the 12345 hotline, complaints, inspections, patrols and
referrals; decided (file a case or not, with reasons) within 15 working days, +15 with approval.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from backend.audit import service as audit
from backend.calendar.service import WorkCalendar, due_in_working_days, load_calendar
from backend.cases import numbering
from backend.cases import schemas as s
from backend.cases.concurrency import bump_version
from backend.cases.rules import load_rules
from backend.cases.tables import Lead, LeadClockStop
from backend.core import clock, scope
from backend.core.auth import Principal, check_roles
from backend.core.db import write_tx
from backend.core.errors import BadRequest, Conflict, NotFound
from backend.core.schemas import to_struct
from backend.orgs.tables import Grid, OrgUnit
from backend.settings import get_settings

LEAD_DECIDERS = ("head", "squad_leader", "admin")
LEAD_HANDLERS = ("officer", *LEAD_DECIDERS)


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(get_settings().timezone).date()


def _columns() -> list[Any]:
    return [
        *[c for c in Lead.all_columns() if c._meta.name not in ("org_unit", "grid")],
        Lead.org_unit.as_alias("org_unit_id"),
        Lead.grid.as_alias("grid_id"),
    ]


async def get_lead(*, principal: Principal, lead_id: uuid.UUID) -> s.LeadOut:
    row = await scope.fetch(
        Lead, lead_id, principal, org_column=Lead.org_unit, what="lead", columns=_columns()
    )
    return to_struct(s.LeadOut, row)


async def list_leads(
    *,
    principal: Principal,
    status: str | None = None,
    source: str | None = None,
    org_unit_id: uuid.UUID | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[s.LeadOut], int]:
    query = scope.restrict(Lead.select(*_columns()), principal, Lead.org_unit)
    count = scope.restrict(Lead.count(), principal, Lead.org_unit)
    for column, value in ((Lead.status, status), (Lead.source, source)):
        if value:
            query = query.where(column == value)
            count = count.where(column == value)
    if org_unit_id:
        query = query.where(Lead.org_unit == org_unit_id)
        count = count.where(Lead.org_unit == org_unit_id)
    rows = await query.order_by(Lead.received_at, ascending=False).limit(limit).offset(offset).run()
    return [to_struct(s.LeadOut, r) for r in rows], await count.run()


async def create_lead(
    *,
    principal: Principal,
    org_unit_id: uuid.UUID,
    source: str,
    description: str,
    source_ref: str = "",
    grid_id: uuid.UUID | None = None,
    location: str = "",
    longitude: float | None = None,
    latitude: float | None = None,
    subject_code: str = "",
    subject_name: str = "",
    matter_code: str = "",
) -> s.LeadOut:
    """Register a lead; safe to call inside an outer ``write_tx()`` (it joins it)."""
    if source not in s.LEAD_SOURCES:
        raise BadRequest(
            f"source must be one of {', '.join(s.LEAD_SOURCES)}", code="lead.bad_source"
        )
    if not description.strip():
        raise BadRequest("description must not be empty", code="lead.description_required")
    now = clock.now()
    received = local_day(now)
    rules = await load_rules()
    due = due_in_working_days(
        await load_calendar(), received, rules.lead_decision_wd, rule="decision to file"
    )
    lead_id = uuid.uuid4()
    async with write_tx():
        scope.require(principal, org_unit_id, what="org unit")
        if not await OrgUnit.exists().where(OrgUnit.id == org_unit_id).run():
            raise NotFound("org unit not found", code="org_unit.not_found")
        if grid_id is not None:
            grid = await Grid.select(Grid.org_unit).where(Grid.id == grid_id).first().run()
            if grid is None or not principal.sees_org(grid["org_unit"]):
                raise NotFound("grid not found", code="grid.not_found")
        number = await numbering.next_number(
            org_unit_id=org_unit_id, day=received, series=numbering.LEAD
        )
        await Lead.insert(
            Lead(
                id=lead_id,
                number=number,
                source=source,
                source_ref=source_ref,
                org_unit=org_unit_id,
                grid=grid_id,
                location=location,
                longitude=longitude,
                latitude=latitude,
                subject_code=subject_code,
                subject_name=subject_name,
                matter_code=matter_code,
                description=description,
                status="open",
                received_at=now,
                decision_due=due.date,
                decision_due_provisional=due.provisional,
                decision_extended=False,
                created_by=principal.actor,
                created_at=now,
                updated_at=now,
                version=1,
            )
        ).run()
        await audit.record(
            stream=f"lead:{lead_id}",
            action="lead.created",
            actor=principal.actor,
            payload={
                "source": source,
                "source_ref": source_ref,
                "org_unit_id": org_unit_id,
                "subject_code": subject_code,
                "decision_due": due.date,
                "basis": due.basis,
            },
            org_unit_id=org_unit_id,
        )
        row = await Lead.select(*_columns()).where(Lead.id == lead_id).first().run()
    assert row is not None
    return to_struct(s.LeadOut, row)


async def _open_lead(principal: Principal, lead_id: uuid.UUID) -> dict[str, Any]:
    row = await scope.fetch(Lead, lead_id, principal, org_column=Lead.org_unit, what="lead")
    if row["status"] != "open":
        raise Conflict(f"the lead is already {row['status']}", code="lead.already_decided")
    return row


async def decide_not_to_file(
    *, principal: Principal, lead_id: uuid.UUID, reason: str, version: int | None = None
) -> s.LeadOut:
    """不予立案, with the reasons."""
    check_roles(principal, LEAD_DECIDERS, action="deciding on a lead")
    async with write_tx():
        row = await _open_lead(principal, lead_id)
        now = clock.now()
        await bump_version(
            Lead,
            lead_id,
            seen=version if version is not None else row["version"],
            changes={
                Lead.status: "not_filed",
                Lead.decided_at: now,
                Lead.decided_by: principal.actor,
                Lead.not_filed_reason: reason,
            },
            what="lead",
        )
        await audit.record(
            stream=f"lead:{lead_id}",
            action="lead.not_filed",
            actor=principal.actor,
            payload={"reason": reason},
            org_unit_id=row["org_unit"],
        )
    return await get_lead(principal=principal, lead_id=lead_id)


async def extend_lead_decision(
    *, principal: Principal, lead_id: uuid.UUID, reason: str, version: int | None = None
) -> s.LeadOut:
    """The head approves the +15 working days, once."""
    check_roles(principal, ("head",), action="extending a lead's decision deadline")
    rules = await load_rules()
    cal = await load_calendar()
    async with write_tx():
        row = await _open_lead(principal, lead_id)
        if row["decision_extended"]:
            raise Conflict("the decision deadline was already extended", code="lead.extended")
        due = due_in_working_days(
            cal, row["decision_due"], rules.lead_extension_wd, rule="extension approved"
        )
        await bump_version(
            Lead,
            lead_id,
            seen=version if version is not None else row["version"],
            changes={
                Lead.decision_due: due.date,
                Lead.decision_due_provisional: due.provisional,
                Lead.decision_extended: True,
            },
            what="lead",
        )
        await audit.record(
            stream=f"lead:{lead_id}",
            action="lead.extended",
            actor=principal.actor,
            payload={"reason": reason, "decision_due": due.date, "basis": due.basis},
            org_unit_id=row["org_unit"],
        )
    return await get_lead(principal=principal, lead_id=lead_id)


# ---------------------------------------------------------------------------
# Clock stops: testing/appraisal time does not count toward the decision to file (RULES.md)


def stopped_working_days(cal: WorkCalendar, started_on: dt.date, ended_on: dt.date) -> int:
    """Working days in [started_on, ended_on): the stop's first day is not counted, the day
    it ends is counted again."""
    return cal.working_days_between(
        started_on - dt.timedelta(days=1), ended_on - dt.timedelta(days=1)
    )


async def _open_stop(lead_id: uuid.UUID) -> dict[str, Any] | None:
    return (
        await LeadClockStop.select()
        .where((LeadClockStop.lead == lead_id) & LeadClockStop.ended_on.is_null())
        .first()
        .run()
    )


async def stop_lead_clock(
    *, principal: Principal, lead_id: uuid.UUID, data: s.LeadClockStopIn
) -> s.LeadOut:
    check_roles(principal, LEAD_HANDLERS, action="stopping a lead's decision clock")
    day = local_day(clock.now())
    async with write_tx():
        row = await _open_lead(principal, lead_id)
        if await _open_stop(lead_id) is not None:
            raise Conflict("the decision clock is already stopped", code="lead.clock_stopped")
        if day > row["decision_due"]:
            raise Conflict(
                f"the decision was due on {row['decision_due'].isoformat()}: a stop cannot "
                "start after the deadline",
                code="lead.overdue",
            )
        await bump_version(
            Lead, lead_id, seen=data.version if data.version is not None else row["version"],
            changes={}, what="lead",
        )  # fmt: skip
        now = clock.now()
        await LeadClockStop.insert(
            LeadClockStop(
                id=uuid.uuid4(), lead=lead_id, reason=data.reason, started_on=day, note=data.note,
                created_by=principal.actor, created_at=now,
            )
        ).run()  # fmt: skip
        await audit.record(
            stream=f"lead:{lead_id}",
            action="lead.clock_stopped",
            actor=principal.actor,
            payload={"reason": data.reason, "started_on": day, "note": data.note},
            org_unit_id=row["org_unit"],
        )
    return await get_lead(principal=principal, lead_id=lead_id)


async def resume_lead_clock(
    *, principal: Principal, lead_id: uuid.UUID, data: s.LeadClockResumeIn
) -> s.LeadOut:
    """End the open stop; the decision deadline moves by the working days it lasted."""
    check_roles(principal, LEAD_HANDLERS, action="resuming a lead's decision clock")
    day = local_day(clock.now())
    cal = await load_calendar()
    async with write_tx():
        row = await _open_lead(principal, lead_id)
        stop = await _open_stop(lead_id)
        if stop is None:
            raise Conflict("the decision clock is not stopped", code="lead.clock_running")
        shifted = stopped_working_days(cal, stop["started_on"], day)
        due = due_in_working_days(cal, row["decision_due"], shifted, rule="clock stop")
        basis = (
            f"+{shifted} working days: clock stopped for {stop['reason']} from "
            f"{stop['started_on'].isoformat()} to {day.isoformat()}"
        )
        await bump_version(
            Lead,
            lead_id,
            seen=data.version if data.version is not None else row["version"],
            changes={
                Lead.decision_due: due.date,
                Lead.decision_due_provisional: due.provisional,
            },
            what="lead",
        )
        await (
            LeadClockStop.update({LeadClockStop.ended_on: day, LeadClockStop.shifted_wd: shifted})
            .where(LeadClockStop.id == stop["id"])
            .run()
        )
        await audit.record(
            stream=f"lead:{lead_id}",
            action="lead.clock_resumed",
            actor=principal.actor,
            payload={
                "reason": stop["reason"],
                "started_on": stop["started_on"],
                "ended_on": day,
                "note": data.note,
                "decision_due": due.date,
                "basis": basis,
            },
            org_unit_id=row["org_unit"],
        )
    return await get_lead(principal=principal, lead_id=lead_id)
