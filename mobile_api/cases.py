"""Cases on the phone: the work source and the simplified on-site penalty (当场处罚).

Calls backend.cases and backend.orgs services only.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, post

from backend.cases import schemas as cs
from backend.cases import service as case_service
from backend.cases.lifecycle import FINISHED_STATUSES
from backend.core.auth import Principal
from backend.core.errors import NotFound
from backend.core.schemas import Output
from backend.orgs import service as orgs
from backend.settings import Settings
from mobile_api import schemas as s
from mobile_api.operations import OpContext, operation
from mobile_api.work import WorkSource, register_source
from mobile_api.writes import DeviceTime, IdempotencyKey, write

MAX_CASES = 10_000


async def _held(principal: Principal) -> list[cs.CaseOut]:
    """Open cases assigned to the officer, or to a team the officer belongs to."""
    if principal.officer_id is None:
        return []
    found: dict[uuid.UUID, cs.CaseOut] = {}
    mine, _ = await case_service.list_cases(
        principal=principal, officer_id=principal.officer_id, limit=MAX_CASES
    )
    officer = await orgs.get_officer(principal=principal, officer_id=principal.officer_id)
    team_cases: list[cs.CaseOut] = []
    for team_id in officer.teams:
        cases, _ = await case_service.list_cases(
            principal=principal, team_id=team_id, limit=MAX_CASES
        )
        team_cases.extend(cases)
    for case in [*mine, *team_cases]:
        if case.status not in FINISHED_STATUSES and not case.read_only:
            found[case.id] = case
    return list(found.values())


async def assigned_cases(principal: Principal) -> dict[uuid.UUID, str]:
    return {c.id: f"{c.version}:{c.status}" for c in await _held(principal)}


async def render_case(principal: Principal, case: cs.CaseOut) -> s.CaseWork:
    actions = await case_service.next_actions(principal=principal, case_id=case.id)
    deadlines = await case_service.case_deadlines(principal=principal, case_id=case.id)
    return s.CaseWork(
        id=case.id,
        number=case.number,
        title=case.description or case.matter_code,
        status=case.status,
        procedure=case.procedure,
        version=case.version,
        org_unit_id=case.org_unit_id,
        subject_name=case.subject_name,
        address=case.location,
        location=None,
        deadlines=[
            s.CaseDeadline(name=d.kind, due_date=d.due_on) for d in deadlines if d.met_on is None
        ],
        next_actions=[a.action for a in actions if a.allowed],
        updated_at=case.updated_at,
    )


async def case_details(principal: Principal, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    out: dict[uuid.UUID, Any] = {}
    for case_id in ids:
        try:
            case = await case_service.get_case(principal=principal, case_id=case_id)
        except NotFound:
            continue
        out[case_id] = await render_case(principal, case)
    return out


register_source(WorkSource(kind="case", assigned=assigned_cases, details=case_details))


class OnSiteDecisionOut(Output):
    # The decision number (决定书文号) to write on the paper given to the party.
    decision_number: str
    case: s.CaseWork


@operation("case.decide_on_site", body=cs.OnSiteDecisionIn, status_code=201)
async def decide_on_site(ctx: OpContext, data: cs.OnSiteDecisionIn) -> OnSiteDecisionOut:
    """当场处罚: a warning or a small fine decided, and usually served, on the spot."""
    case = await case_service.decide_on_site(principal=ctx.principal, data=data)
    ctx.notes["case_id"] = str(case.id)
    return OnSiteDecisionOut(
        decision_number=case.number, case=await render_case(ctx.principal, case)
    )


class CaseActionController(Controller):
    path = "/cases"
    tags = ["mobile"]

    @post("/on-site-decisions", operation_id="mobileDecideOnSite", status_code=201)
    async def decide_on_site(
        self,
        data: cs.OnSiteDecisionIn,
        request: Request[Principal, Any, Any],
        settings: Settings,
        idempotency_key: IdempotencyKey,
        device_time: DeviceTime = None,
    ) -> Response[OnSiteDecisionOut]:
        """Simplified on-site penalty (op ``case.decide_on_site``); answers its decision number."""
        return await write(
            request,
            settings,
            op="case.decide_on_site",
            data=data,
            key=idempotency_key,
            device_time=device_time,
        )


HANDLERS = [CaseActionController]
