"""Web API: read the on-site records of a task or case (they are written from the phone)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get

from backend.core.auth import Principal
from backend.onsite import schemas as s
from backend.onsite import service


class OnsiteRecordController(Controller):
    path = "/onsite-records"
    tags = ["onsite"]

    @get("/", operation_id="listOnsiteRecords")
    async def list_records(
        self,
        request: Request[Principal, Any, Any],
        task_id: uuid.UUID | None = None,
        case_id: uuid.UUID | None = None,
    ) -> list[s.OnsiteRecordOut]:
        return await service.list_records(principal=request.user, task_id=task_id, case_id=case_id)

    @get("/{record_id:uuid}", operation_id="getOnsiteRecord")
    async def get_one(
        self, record_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> s.OnsiteRecordOut:
        return await service.get_record(principal=request.user, record_id=record_id)


CONTROLLERS = [OnsiteRecordController]
