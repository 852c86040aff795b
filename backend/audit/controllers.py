from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import Parameter

from backend.audit import service
from backend.audit.schemas import AnchorOut, AuditEventOut
from backend.core.auth import Principal, require_roles
from backend.core.pagination import check_page
from backend.core.schemas import to_struct


class AuditController(Controller):
    path = "/audit"
    tags = ["audit"]
    guards = [require_roles("auditor", "admin")]

    @get("/", operation_id="listAuditEvents")
    async def list_events(
        self,
        request: Request[Principal, Any, Any],
        stream: Annotated[str | None, Parameter(max_length=200)] = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEventOut]:
        """Events in stream order. County-level users also see events not tied to an org unit."""
        check_page(limit, offset)
        if stream:
            service.parse_stream(stream)
        principal = request.user
        rows = await service.list_events(
            stream=stream,
            org_unit_ids=None if principal.unrestricted else principal.scope_org_ids,
            include_unscoped=principal.org_path.count("/") <= 2,
            limit=limit,
            offset=offset,
        )
        return [to_struct(AuditEventOut, r) for r in rows]


CONTROLLERS = [AuditController]


@get("/anchors", operation_id="listAuditAnchors", tags=["public"])
async def list_anchors(limit: int = 100, offset: int = 0) -> list[AnchorOut]:
    """Published audit anchors, newest first: Merkle roots over every audit stream head."""
    from backend.audit.anchors import list_anchors as rows

    check_page(limit, offset)
    return [to_struct(AnchorOut, r) for r in await rows(limit=limit, offset=offset)]


PUBLIC = [list_anchors]
