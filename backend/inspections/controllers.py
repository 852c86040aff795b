"""Web API (/api/v1) and public pages (/public) of the inspections domain."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter

from backend.core.auth import Principal, require_roles
from backend.core.errors import BadRequest
from backend.core.pagination import Page, check_page
from backend.inspections import draws, service, subjects, tasks
from backend.inspections import schemas as s

ORGANISERS = [require_roles("supervisor", "admin")]
READERS = [require_roles("supervisor", "admin", "auditor", "head", "squad_leader")]
Upload = Annotated[UploadFile, Body(media_type=RequestEncodingType.MULTI_PART)]


async def _saved(upload: UploadFile, directory: str) -> Path:
    """Stream an uploaded file to ``directory``, keeping its extension."""
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise BadRequest("upload a .csv or .xlsx file", code="import.bad_format")
    path = Path(directory) / f"upload{suffix}"
    with path.open("wb") as out:
        while chunk := await upload.read(1 << 20):
            out.write(chunk)
    return path


class ItemController(Controller):
    path = "/inspection-items"
    tags = ["inspections"]

    @get("/", operation_id="listInspectionItems")
    async def list_items(self, active_only: bool = False) -> list[s.ItemOut]:
        return await service.list_items(active_only=active_only)

    @post("/", operation_id="createInspectionItem", guards=ORGANISERS)
    async def create(self, data: s.ItemIn, request: Request[Principal, Any, Any]) -> s.ItemOut:
        return await service.create_item(principal=request.user, data=data)

    @get("/{item_id:uuid}", operation_id="getInspectionItem")
    async def get_one(self, item_id: uuid.UUID) -> s.ItemOut:
        return await service.get_item(item_id=item_id)

    @patch("/{item_id:uuid}", operation_id="updateInspectionItem", guards=ORGANISERS)
    async def update(
        self, item_id: uuid.UUID, data: s.ItemPatch, request: Request[Principal, Any, Any]
    ) -> s.ItemOut:
        return await service.update_item(principal=request.user, item_id=item_id, data=data)

    @post("/import", operation_id="importInspectionItems", guards=ORGANISERS, status_code=200)
    async def import_file(self, data: Upload, request: Request[Principal, Any, Any]) -> Any:
        """Upsert items by code from CSV/XLSX; 400 with every rejected row, nothing applied."""
        with tempfile.TemporaryDirectory() as tmp:
            report = await service.import_items(
                principal=request.user, path=await _saved(data, tmp)
            )
        return _report_response(report)


def _report_response(report: s.ImportReport) -> Response[Any]:
    import msgspec

    body = msgspec.to_builtins(report)
    if not report.applied:
        lines = "; ".join(f"line {r.line}: {r.reason}" for r in report.rejected[:5])
        body = {
            "status": 400,
            "code": "import.rejected_rows",
            "detail": f"{len(report.rejected)} rows rejected, nothing imported ({lines})",
            **body,
        }
        return Response(body, status_code=400)
    return Response(body, status_code=200)


class SubjectController(Controller):
    path = "/subjects"
    tags = ["inspections"]
    guards = READERS

    @get("/", operation_id="listSubjects")
    async def list_subjects(
        self,
        request: Request[Principal, Any, Any],
        org_unit_id: uuid.UUID | None = None,
        grid_code: str | None = None,
        risk_class: Annotated[str | None, Parameter(pattern="^[ABCD]$")] = None,
        q: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page[s.SubjectOut]:
        check_page(limit, offset)
        items, total = await subjects.list_subjects(
            principal=request.user,
            org_unit_id=org_unit_id,
            grid_code=grid_code,
            risk_class=risk_class,
            q=q,
            limit=limit,
            offset=offset,
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @post("/", operation_id="createSubject", guards=ORGANISERS)
    async def create(
        self, data: s.SubjectIn, request: Request[Principal, Any, Any]
    ) -> s.SubjectOut:
        return await subjects.create_subject(principal=request.user, data=data)

    @get("/{subject_id:uuid}", operation_id="getSubject")
    async def get_one(
        self, subject_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> s.SubjectOut:
        return await subjects.get_subject(principal=request.user, subject_id=subject_id)

    @patch("/{subject_id:uuid}", operation_id="updateSubject", guards=ORGANISERS)
    async def update(
        self, subject_id: uuid.UUID, data: s.SubjectPatch, request: Request[Principal, Any, Any]
    ) -> s.SubjectOut:
        return await subjects.update_subject(
            principal=request.user, subject_id=subject_id, data=data
        )

    @post("/import", operation_id="importSubjects", guards=ORGANISERS, status_code=200)
    async def import_file(self, data: Upload, request: Request[Principal, Any, Any]) -> Any:
        """Upsert subjects by credit code; 400 listing every rejected row, nothing applied."""
        with tempfile.TemporaryDirectory() as tmp:
            path = await _saved(data, tmp)
            report = await subjects.import_subjects(
                principal=request.user, path=path, source=data.filename
            )
        return _report_response(report)


class PlanController(Controller):
    path = "/inspection-plans"
    tags = ["inspections"]

    @get("/", operation_id="listInspectionPlans", guards=READERS)
    async def list_plans(
        self, request: Request[Principal, Any, Any], status: s.PlanStatus | None = None
    ) -> list[s.PlanOut]:
        return await service.list_plans(principal=request.user, status=status)

    @post("/", operation_id="createInspectionPlan", guards=ORGANISERS)
    async def create(self, data: s.PlanIn, request: Request[Principal, Any, Any]) -> s.PlanOut:
        return await service.create_plan(principal=request.user, data=data)

    @get("/{plan_id:uuid}", operation_id="getInspectionPlan", guards=READERS)
    async def get_one(self, plan_id: uuid.UUID, request: Request[Principal, Any, Any]) -> s.PlanOut:
        return await service.get_plan(principal=request.user, plan_id=plan_id)

    @patch("/{plan_id:uuid}", operation_id="updateInspectionPlan", guards=ORGANISERS)
    async def update(
        self, plan_id: uuid.UUID, data: s.PlanPatch, request: Request[Principal, Any, Any]
    ) -> s.PlanOut:
        return await service.update_plan(principal=request.user, plan_id=plan_id, data=data)

    @post(
        "/{plan_id:uuid}/publish",
        operation_id="publishInspectionPlan",
        guards=ORGANISERS,
        status_code=200,
    )
    async def publish(self, plan_id: uuid.UUID, request: Request[Principal, Any, Any]) -> s.PlanOut:
        """Publish the plan and the commitment of its draw secret (hashrank-v1 step 1)."""
        return await service.publish_plan(principal=request.user, plan_id=plan_id)

    @post("/{plan_id:uuid}/draw", operation_id="drawInspectionPlan", guards=ORGANISERS)
    async def draw(
        self, plan_id: uuid.UUID, data: s.DrawIn, request: Request[Principal, Any, Any]
    ) -> s.DrawOut:
        """Run the draw; 409 if the plan is not published or a subject cannot be staffed."""
        return await draws.draw_plan(principal=request.user, plan_id=plan_id, entropy=data.entropy)

    @post(
        "/{plan_id:uuid}/publish-results",
        operation_id="publishInspectionResults",
        guards=ORGANISERS,
        status_code=200,
    )
    async def publish_results(
        self, plan_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> s.PlanOut:
        await tasks.publish_plan_results(principal=request.user, plan_id=plan_id)
        return await service.get_plan(principal=request.user, plan_id=plan_id)


CONTROLLERS: list[Any] = [ItemController, SubjectController, PlanController, *tasks.CONTROLLERS]


# ---------------------------------------------------------------------------
# Public (no login)


@get("/plans", operation_id="publicPlans", exclude_from_auth=True, tags=["public"])
async def public_plans() -> list[s.PublicPlanOut]:
    """Published plans with the commitment of their draw secret (before the draw)."""
    return await service.public_plans()


@get("/draws", operation_id="publicDraws", exclude_from_auth=True, tags=["public"])
async def public_draws() -> list[dict[str, Any]]:
    return await draws.public_draws()


@get("/draws/{draw_id:uuid}", operation_id="publicDraw", exclude_from_auth=True, tags=["public"])
async def public_draw(draw_id: uuid.UUID) -> Response[bytes]:
    """The draw record exactly as published, for anyone to recompute (hashrank-v1)."""
    return Response(await draws.public_record_json(draw_id=draw_id), media_type="application/json")


@get(
    "/draws/{draw_id:uuid}/replacements",
    operation_id="publicDrawReplacements",
    exclude_from_auth=True,
    tags=["public"],
)
async def public_replacements(draw_id: uuid.UUID) -> list[s.ReplacementOut]:
    return await draws.list_replacements(draw_id=draw_id)


@get("/results", operation_id="publicResults", exclude_from_auth=True, tags=["public"])
async def public_results(limit: int = 100, offset: int = 0) -> Page[s.PublicResultOut]:
    """Published inspection results (一公开): no phone numbers, no internal notes."""
    check_page(limit, offset)
    items, total = await tasks.public_results(limit=limit, offset=offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


PUBLIC: list[Any] = [public_plans, public_draws, public_draw, public_replacements, public_results]
