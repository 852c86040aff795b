"""On-site records (现场检查笔录, 询问笔录) from the phone: create, update with version, read."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, patch, post

from backend.core.auth import Principal
from backend.onsite import schemas as rs
from backend.onsite import service as records
from backend.settings import Settings
from mobile_api.etag import conditional
from mobile_api.operations import OpContext, operation
from mobile_api.writes import DeviceTime, IdempotencyKey, IfNoneMatch, write


@operation("onsite_record.create", body=rs.OnsiteRecordIn, status_code=201)
async def create_record(ctx: OpContext, data: rs.OnsiteRecordIn) -> rs.OnsiteRecordOut:
    """Write an on-site record; the party signs or refuses (a refusal needs a recording)."""
    return await records.create_record(
        principal=ctx.principal, data=data, device_time=ctx.device_time
    )


@operation("onsite_record.update", body=rs.OnsiteRecordPatch, target="onsite record")
async def update_record(ctx: OpContext, data: rs.OnsiteRecordPatch) -> rs.OnsiteRecordOut:
    """Change a record at the version the device saw; a stale version gets 409 and the current."""
    assert ctx.target is not None
    return await records.update_record(
        principal=ctx.principal, record_id=ctx.target, data=data, device_time=ctx.device_time
    )


class OnsiteRecordController(Controller):
    path = "/onsite-records"
    tags = ["mobile"]

    @post("/", operation_id="mobileCreateOnsiteRecord", status_code=201)
    async def create(
        self,
        data: rs.OnsiteRecordIn,
        request: Request[Principal, Any, Any],
        settings: Settings,
        idempotency_key: IdempotencyKey,
        device_time: DeviceTime = None,
    ) -> Response[rs.OnsiteRecordOut]:
        """Write an on-site record (op ``onsite_record.create``); ``id`` is the client UUID."""
        return await write(
            request,
            settings,
            op="onsite_record.create",
            data=data,
            key=idempotency_key,
            device_time=device_time,
        )

    @patch("/{record_id:uuid}", operation_id="mobileUpdateOnsiteRecord")
    async def update(
        self,
        record_id: uuid.UUID,
        data: rs.OnsiteRecordPatch,
        request: Request[Principal, Any, Any],
        settings: Settings,
        idempotency_key: IdempotencyKey,
        device_time: DeviceTime = None,
    ) -> Response[rs.OnsiteRecordOut]:
        """Update a record (op ``onsite_record.update``); 409 with ``current`` if stale."""
        return await write(
            request,
            settings,
            op="onsite_record.update",
            data=data,
            key=idempotency_key,
            device_time=device_time,
            target=record_id,
        )

    @get("/{record_id:uuid}", operation_id="mobileGetOnsiteRecord")
    async def get_one(
        self,
        record_id: uuid.UUID,
        request: Request[Principal, Any, Any],
        if_none_match: IfNoneMatch = None,
    ) -> Response[rs.OnsiteRecordOut]:
        """A record with its ETag; send it back in If-None-Match to get 304 if unchanged."""
        record = await records.get_record(principal=request.user, record_id=record_id)
        return conditional(request, record)


HANDLERS = [OnsiteRecordController]
