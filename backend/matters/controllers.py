"""Admin API of the matters catalogue and the jurisdiction grants."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from litestar import Controller, Request, get, patch, post

from backend.core.auth import Principal, require_roles
from backend.matters import schemas as s
from backend.matters import service

ADMIN = [require_roles("admin")]


class MatterController(Controller):
    path = "/matters"
    tags = ["matters"]

    @get("/", operation_id="listMatters")
    async def list_matters(
        self, domain: str | None = None, category: str | None = None, active: bool | None = None
    ) -> list[s.MatterOut]:
        return await service.list_matters(domain=domain, category=category, active=active)

    @post("/", operation_id="createMatter", guards=ADMIN)
    async def create(self, data: s.MatterIn, request: Request[Principal, Any, Any]) -> s.MatterOut:
        return await service.create_matter(principal=request.user, data=data)

    @get("/{matter_id:uuid}", operation_id="getMatter")
    async def get_one(self, matter_id: uuid.UUID) -> s.MatterOut:
        return await service.get_matter(matter_id=matter_id)

    @patch("/{matter_id:uuid}", operation_id="updateMatter", guards=ADMIN)
    async def update(
        self, matter_id: uuid.UUID, data: s.MatterPatch, request: Request[Principal, Any, Any]
    ) -> s.MatterOut:
        return await service.update_matter(principal=request.user, matter_id=matter_id, data=data)

    @post("/import", operation_id="importMatters", guards=ADMIN, status_code=200)
    async def import_file(
        self, request: Request[Principal, Any, Any], filename: str = "upload.csv"
    ) -> s.ImportResult:
        """Import matters and/or grants from a CSV or XLSX body (one sheet per kind)."""
        content = await request.body()
        return await service.import_file(principal=request.user, name=filename, content=content)


class GrantController(Controller):
    path = "/grants"
    tags = ["matters"]

    @get("/", operation_id="listGrants")
    async def list_grants(
        self,
        request: Request[Principal, Any, Any],
        matter_id: uuid.UUID | None = None,
        org_unit_id: uuid.UUID | None = None,
        on: dt.date | None = None,
    ) -> list[s.GrantOut]:
        """The history of grants, or those in force on the day ``on``."""
        return await service.list_grants(
            principal=request.user, matter_id=matter_id, org_unit_id=org_unit_id, on=on
        )

    @post("/", operation_id="createGrant", guards=ADMIN)
    async def create(self, data: s.GrantIn, request: Request[Principal, Any, Any]) -> s.GrantOut:
        return await service.create_grant(principal=request.user, data=data)

    @post("/{grant_id:uuid}/withdraw", operation_id="withdrawGrant", guards=ADMIN, status_code=200)
    async def withdraw(
        self, grant_id: uuid.UUID, data: s.GrantWithdrawIn, request: Request[Principal, Any, Any]
    ) -> s.GrantOut:
        return await service.withdraw_grant(principal=request.user, grant_id=grant_id, data=data)


CONTROLLERS = [MatterController, GrantController]
