"""Evidence endpoints. ``EvidenceController`` is mounted twice: under /api/v1 and, through
mobile_api/evidence.py, under /mobile/v1; the review endpoints are web only."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.types import Method

from backend.audit.schemas import AuditEventOut
from backend.core.auth import Principal, require_roles
from backend.core.pagination import Page, check_page
from backend.evidence import schemas as s
from backend.evidence import sealing, service, states
from backend.evidence.policy import EvidencePolicy, policy_from
from backend.settings import Settings
from storage import ObjectStore


def op(name: str) -> Any:
    """An operation id that differs between the web and the mobile mount of one handler."""

    def create(_handler: Any, _method: Method, components: list[Any]) -> str:
        first = next((c for c in components if isinstance(c, str) and c), "")
        return f"mobile{name[0].upper()}{name[1:]}" if first == "mobile" else name

    return create


def _ctx(request: Request[Any, Any, Any], settings: Settings) -> dict[str, Any]:
    store: ObjectStore = request.app.state.store
    return {"store": store, "policy": policy_from(settings), "base_url": str(request.base_url)}


class EvidenceController(Controller):
    path = "/evidence"
    tags = ["evidence"]

    @post("/", operation_id=op("createEvidenceUpload"), status_code=201)
    async def create(
        self, data: s.EvidenceIn, request: Request[Principal, Any, Any], settings: Settings
    ) -> s.SessionOut:
        """Open an upload session: answers a presigned PUT (≤ 16 MiB) or multipart part URLs."""
        return await service.create_upload(
            principal=request.user, data=data, **_ctx(request, settings)
        )

    @get("/{evidence_id:uuid}", operation_id=op("getEvidence"))
    async def get_one(
        self, evidence_id: uuid.UUID, request: Request[Principal, Any, Any], settings: Settings
    ) -> s.EvidenceOut:
        """Metadata, status, flags and thumbnail URLs; recorded as a custody event."""
        return await service.get_evidence(
            principal=request.user, evidence_id=evidence_id, **_ctx(request, settings)
        )

    @get("/{evidence_id:uuid}/parts", operation_id=op("listEvidenceParts"))
    async def parts(
        self, evidence_id: uuid.UUID, request: Request[Principal, Any, Any], settings: Settings
    ) -> s.PartsOut:
        """Which parts of a multipart upload arrived; fresh URLs for the missing ones."""
        return await service.list_parts(
            principal=request.user, evidence_id=evidence_id, **_ctx(request, settings)
        )

    @post(
        "/{evidence_id:uuid}/complete", operation_id=op("completeEvidenceUpload"), status_code=200
    )
    async def complete(
        self,
        evidence_id: uuid.UUID,
        request: Request[Principal, Any, Any],
        settings: Settings,
        data: s.CompleteIn | None = None,
    ) -> Response[s.SessionOut]:
        """Check the size, then seal (at once for small items, right after the answer for large)."""
        ctx = _ctx(request, settings)
        policy: EvidencePolicy = ctx["policy"]
        out = await sealing.complete_upload(
            principal=request.user,
            evidence_id=evidence_id,
            data=data or s.CompleteIn(),
            store=ctx["store"],
            policy=policy,
            tz=settings.timezone,
        )
        if out.status != states.UPLOADED:
            return Response(out)
        seal = sealing.seal_evidence
        kw = {"evidence_id": evidence_id, "store": ctx["store"], "policy": policy}
        return Response(out, background=BackgroundTask(seal, tz=settings.timezone, **kw))

    @get("/{evidence_id:uuid}/download", operation_id=op("downloadEvidence"))
    async def download(
        self, evidence_id: uuid.UUID, request: Request[Principal, Any, Any], settings: Settings
    ) -> s.DownloadOut:
        """A presigned GET of the original valid 60 s; recorded as a custody event."""
        return await service.download(
            principal=request.user, evidence_id=evidence_id, **_ctx(request, settings)
        )


class EvidenceReviewController(Controller):
    path = "/evidence"
    tags = ["evidence"]

    @get("/", operation_id="listEvidence")
    async def list_items(
        self,
        request: Request[Principal, Any, Any],
        target_kind: str | None = None,
        target_id: uuid.UUID | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page[s.EvidenceOut]:
        check_page(limit, offset)
        items, total = await service.list_evidence(
            principal=request.user,
            target_kind=target_kind,
            target_id=target_id,
            status=status,
            limit=limit,
            offset=offset,
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/{evidence_id:uuid}/custody", operation_id="getEvidenceCustody")
    async def custody(
        self, evidence_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> list[AuditEventOut]:
        """The item's audit stream: creation, upload, seal, and every view/download/export."""
        return await service.custody_trail(principal=request.user, evidence_id=evidence_id)

    @post(
        "/{evidence_id:uuid}/withdraw",
        operation_id="withdrawEvidence",
        status_code=200,
        guards=[require_roles(*service.WITHDRAWERS)],
    )
    async def withdraw(
        self, evidence_id: uuid.UUID, data: s.WithdrawIn, request: Request[Principal, Any, Any]
    ) -> s.EvidenceOut:
        """Mark the item withdrawn with a reason; it is kept, never deleted."""
        return await service.withdraw(
            principal=request.user, evidence_id=evidence_id, reason=data.reason
        )

    @post(
        "/{evidence_id:uuid}/cases",
        operation_id="attachEvidenceToCase",
        status_code=200,
        guards=[require_roles(*service.ATTACHERS)],
    )
    async def attach_to_case(
        self, evidence_id: uuid.UUID, data: s.AttachCaseIn, request: Request[Principal, Any, Any]
    ) -> s.EvidenceOut:
        """Make the item evidence of a case (kept for good: legal hold); once per case."""
        return await service.attach_to_case(
            principal=request.user,
            evidence_id=evidence_id,
            case_id=data.case_id,
            store=request.app.state.store,
        )


CONTROLLERS = [EvidenceController, EvidenceReviewController]


def root_handlers() -> list[Any]:
    """The local store's signed-URL endpoints (/storage/local/...)."""
    from storage.local_routes import HANDLERS

    return list(HANDLERS)
