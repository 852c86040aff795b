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


async def assigned_cases(principal: Principal, ids: list[uuid.UUID] | None) -> dict[uuid.UUID, str]:
    """Open cases of the officer's own unit assigned to the officer or one of their teams."""
    if principal.officer_id is None:
        return {}
    officer = await orgs.get_officer(principal=principal, officer_id=principal.officer_id)
    markers = await case_service.held_case_markers(
        principal=principal,
        team_ids=officer.teams,
        excluded_statuses=sorted(FINISHED_STATUSES),
        ids=ids,
    )
    return {case_id: f"{version}:{status}" for case_id, (version, status) in markers.items()}


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


register_source(
    WorkSource(
        kind="case",
        assigned=assigned_cases,
        changed_sql=case_service.CASES_CHANGED_SQL,
        details=case_details,
    )
)


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
