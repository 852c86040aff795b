"""Web API of leads and cases (thin: every rule lives in the service modules)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post, put

from backend.cases import leads, rules
from backend.cases import schemas as s
from backend.core.auth import Principal, require_roles
from backend.core.pagination import Page, check_page

WRITERS = [require_roles("officer", "squad_leader", "head", "supervisor", "admin")]


class LeadController(Controller):
    path = "/leads"
    tags = ["leads"]

    @get("/", operation_id="listLeads")
    async def list_leads(
        self,
        request: Request[Principal, Any, Any],
        status: str | None = None,
        source: str | None = None,
        org_unit_id: uuid.UUID | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page[s.LeadOut]:
        check_page(limit, offset)
        items, total = await leads.list_leads(
            principal=request.user,
            status=status,
            source=source,
            org_unit_id=org_unit_id,
            limit=limit,
            offset=offset,
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @post("/", operation_id="createLead", guards=WRITERS)
    async def create(self, data: s.LeadIn, request: Request[Principal, Any, Any]) -> s.LeadOut:
        return await leads.create_lead(
            principal=request.user,
            org_unit_id=data.org_unit_id,
            source=data.source,
            description=data.description,
            source_ref=data.source_ref,
            grid_id=data.grid_id,
            location=data.location,
            longitude=data.longitude,
            latitude=data.latitude,
            subject_code=data.subject_code,
            subject_name=data.subject_name,
            matter_code=data.matter_code,
        )

    @get("/{lead_id:uuid}", operation_id="getLead")
    async def get_one(self, lead_id: uuid.UUID, request: Request[Principal, Any, Any]) -> s.LeadOut:
        return await leads.get_lead(principal=request.user, lead_id=lead_id)

    @post("/{lead_id:uuid}/not-filed", operation_id="decideLeadNotFiled", status_code=200)
    async def not_filed(
        self, lead_id: uuid.UUID, data: s.LeadNotFiledIn, request: Request[Principal, Any, Any]
    ) -> s.LeadOut:
        """不予立案: close the lead without a case, with the reasons."""
        return await leads.decide_not_to_file(
            principal=request.user, lead_id=lead_id, reason=data.reason, version=data.version
        )

    @post("/{lead_id:uuid}/extend", operation_id="extendLeadDecision", status_code=200)
    async def extend(
        self, lead_id: uuid.UUID, data: s.LeadExtendIn, request: Request[Principal, Any, Any]
    ) -> s.LeadOut:
        """The head approves 15 more working days for the decision to file."""
        return await leads.extend_lead_decision(
            principal=request.user, lead_id=lead_id, reason=data.reason, version=data.version
        )


class CaseRuleController(Controller):
    path = "/case-rules"
    tags = ["cases"]

    @get("/", operation_id="listCaseRules")
    async def list_rules(self) -> list[s.RuleOut]:
        """Every rule of RULES.md that cases use: its local value and its default."""
        current = await rules.load_rules()
        return [
            s.RuleOut(
                key=key,
                value=rules.plain(getattr(current, key)),
                default=rules.plain(getattr(rules.DEFAULTS, key)),
            )
            for key in rules.FIELDS
        ]

    @put("/{key:str}", operation_id="setCaseRule", guards=[require_roles("admin")])
    async def set_rule(
        self, key: str, data: s.RuleIn, request: Request[Principal, Any, Any]
    ) -> s.RuleOut:
        value = await rules.set_rule(principal=request.user, key=key, value=data.value)
        return s.RuleOut(key=key, value=value, default=rules.plain(getattr(rules.DEFAULTS, key)))


CONTROLLERS = [LeadController, CaseRuleController]
