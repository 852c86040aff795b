"""Item list and inspection plans (with the plan status machine).

Draws live in draws.py, tasks and results in tasks.py, the subject directory in
subjects.py. Every write runs in one transaction that also appends its audit event.
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

import msgspec

from backend.audit import service as audit
from backend.core import clock, scope
from backend.core.auth import Principal
from backend.core.db import write_tx
from backend.core.errors import BadRequest, Conflict, NotFound
from backend.core.schemas import to_struct
from backend.inspections import hashrank
from backend.inspections import schemas as s
from backend.inspections.subjects import header_map, table_rows
from backend.inspections.tables import InspectionDraw, InspectionItem, InspectionPlan
from backend.orgs.tables import OrgUnit, Team

# The plan status machine: action -> (from, to). Nothing else moves a plan.
PLAN_TRANSITIONS: dict[str, tuple[str, str]] = {
    "publish": ("draft", "published"),
    "draw": ("published", "drawn"),
    "start": ("drawn", "in_progress"),
    "complete": ("in_progress", "completed"),
    "publish_results": ("completed", "results_published"),
}


def check_transition(status: str, action: str) -> str:
    """The status after ``action``, or 409 naming the plan's current status."""
    source, target = PLAN_TRANSITIONS[action]
    if status != source:
        raise Conflict(
            f"cannot {action.replace('_', ' ')} a plan that is {status} (needs {source})",
            code=f"plan.cannot_{action}",
        )
    return target


def _changes(data: Any) -> dict[Any, Any]:
    return {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}


def _jsonable(data: Any) -> dict[str, Any]:
    return audit.jsonable(msgspec.to_builtins(data))  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------
# Item list


def decoded(value: Any) -> Any:
    """A JSON column's value (Piccolo returns the text)."""
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def _item_out(row: dict[str, Any]) -> s.ItemOut:
    return to_struct(s.ItemOut, row | {"ratios": decoded(row["ratios"]) or {}})


def _check_item(data: s.ItemIn | s.ItemPatch) -> None:
    categories = data.result_categories
    if isinstance(categories, list):
        unknown = sorted(set(categories) - set(s.RESULT_CATEGORIES))
        if unknown:
            raise BadRequest(
                f"unknown result categories: {', '.join(unknown)}", code="item.bad_category"
            )


async def list_items(*, active_only: bool = False) -> list[s.ItemOut]:
    query = InspectionItem.select()
    if active_only:
        query = query.where(InspectionItem.active.eq(True))
    return [_item_out(r) for r in await query.order_by(InspectionItem.code).run()]


async def get_item(*, item_id: uuid.UUID) -> s.ItemOut:
    row = await InspectionItem.select().where(InspectionItem.id == item_id).first().run()
    if row is None:
        raise NotFound("inspection item not found", code="item.not_found")
    return _item_out(row)


async def create_item(*, principal: Principal, data: s.ItemIn) -> s.ItemOut:
    _check_item(data)
    async with write_tx():
        if await InspectionItem.exists().where(InspectionItem.code == data.code).run():
            raise Conflict(f"item code {data.code} is taken", code="item.code_taken")
        item_id = await _insert_item(data)
        await audit.record(
            stream=f"inspection_item:{item_id}",
            action="inspection_item.created",
            actor=principal.actor,
            payload=_jsonable(data),
        )
    return await get_item(item_id=item_id)


async def _insert_item(data: s.ItemIn) -> uuid.UUID:
    now = clock.now()
    item = InspectionItem(
        id=uuid.uuid4(),
        created_at=now,
        updated_at=now,
        active=True,
        **msgspec.structs.asdict(data),
    )
    await InspectionItem.insert(item).run()
    return item.id  # type: ignore[no-any-return]


async def update_item(*, principal: Principal, item_id: uuid.UUID, data: s.ItemPatch) -> s.ItemOut:
    _check_item(data)
    changes = _changes(data)
    async with write_tx():
        if not await InspectionItem.exists().where(InspectionItem.id == item_id).run():
            raise NotFound("inspection item not found", code="item.not_found")
        if changes:
            await (
                InspectionItem.update({**changes, "updated_at": clock.now()})
                .where(InspectionItem.id == item_id)
                .run()
            )
            await audit.record(
                stream=f"inspection_item:{item_id}",
                action="inspection_item.updated",
                actor=principal.actor,
                payload=audit.jsonable(changes),
            )
    return await get_item(item_id=item_id)


ITEM_HEADERS: dict[str, tuple[str, ...]] = {
    "code": ("code", "事项编码", "编码"),
    "name": ("name", "事项名称", "名称"),
    "department": ("department", "部门", "检查部门", "实施主体"),
    "domain": ("domain", "领域", "执法领域"),
    "method": ("method", "检查方式", "方式"),
    "legal_basis": ("legal_basis", "依据", "法律依据"),
    "subject_types": ("subject_types", "检查对象", "对象类型"),
    "frequency": ("frequency", "频次", "抽查频次"),
    "ratio_A": ("ratio_a", "比例a"),
    "ratio_B": ("ratio_b", "比例b"),
    "ratio_C": ("ratio_c", "比例c"),
    "ratio_D": ("ratio_d", "比例d"),
    "ratio_flagged": ("ratio_flagged", "比例flagged", "异常比例"),
}
METHODS = {"on_site": "on_site", "现场检查": "on_site", "documents": "documents"}
METHODS |= {"书面检查": "documents", "online": "online", "网络监测": "online"}


def _item_from_cells(cells: list[str], cols: dict[str, int]) -> s.ItemIn:
    def get(field: str) -> str:
        index = cols.get(field)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    method = METHODS.get(get("method"))
    if method is None:
        raise ValueError(f"method must be on_site, documents or online, not {get('method')!r}")
    ratios: dict[str, float] = {}
    for stratum in s.STRATA:
        text = get(f"ratio_{stratum}").rstrip("%")
        if text:
            try:
                value = float(text) / (100 if get(f"ratio_{stratum}").endswith("%") else 1)
            except ValueError:
                raise ValueError(f"ratio_{stratum} is not a number: {text!r}") from None
            ratios[stratum] = value
    types = [t.strip() for t in get("subject_types").replace("、", "|").split("|") if t.strip()]
    raw = {
        "code": get("code"),
        "name": get("name"),
        "department": get("department"),
        "domain": get("domain"),
        "method": method,
        "legal_basis": get("legal_basis"),
        "subject_types": types,
        "ratios": ratios,
        "frequency": get("frequency"),
    }
    try:
        return msgspec.convert(raw, s.ItemIn)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from None


async def import_items(*, principal: Principal, path: Path) -> s.ImportReport:
    """Upsert items by code from CSV/XLSX; any bad row rejects the whole file."""
    rows = table_rows(path)
    header = next(rows, None)
    if header is None:
        raise BadRequest(f"{path.name} is empty", code="import.empty")
    cols = header_map(header, ITEM_HEADERS)
    missing = [f for f in ("code", "name", "department", "domain", "method") if f not in cols]
    if missing:
        raise BadRequest(
            f"{path.name}: missing columns {', '.join(missing)}", code="import.missing_columns"
        )
    items: list[s.ItemIn] = []
    rejected: list[s.RejectedRow] = []
    seen: dict[str, int] = {}
    for line, cells in enumerate(rows, start=2):
        if not any(c.strip() for c in cells):
            continue
        try:
            item = _item_from_cells(cells, cols)
            if item.code in seen:
                raise ValueError(f"item code {item.code} is already on line {seen[item.code]}")
            seen[item.code] = line
            items.append(item)
        except ValueError as exc:
            rejected.append(s.RejectedRow(line=line, reason=str(exc)))
    if rejected:
        return s.ImportReport(
            rows=len(items) + len(rejected),
            inserted=0,
            updated=0,
            applied=False,
            rejected=rejected,
        )
    inserted = 0
    async with write_tx():
        for item in items:
            existing = (
                await InspectionItem.select(InspectionItem.id)
                .where(InspectionItem.code == item.code)
                .first()
                .run()
            )
            if existing:
                fields: dict[Any, Any] = msgspec.structs.asdict(item)
                fields.pop("code")
                await (
                    InspectionItem.update({**fields, "updated_at": clock.now()})
                    .where(InspectionItem.id == existing["id"])
                    .run()
                )
                item_id = existing["id"]
                action = "inspection_item.updated"
            else:
                item_id = await _insert_item(item)
                inserted += 1
                action = "inspection_item.created"
            await audit.record(
                stream=f"inspection_item:{item_id}",
                action=action,
                actor=principal.actor,
                payload=_jsonable(item) | {"source": path.name},
            )
    return s.ImportReport(
        rows=len(items), inserted=inserted, updated=len(items) - inserted, applied=True
    )


async def items_by_code(codes: list[str]) -> dict[str, dict[str, Any]]:
    rows = await InspectionItem.select().where(InspectionItem.code.is_in(codes or [""])).run()
    return {r["code"]: r for r in rows}


# ---------------------------------------------------------------------------
# Plans


def _plan_columns() -> list[Any]:
    return [c for c in InspectionPlan.all_columns() if c._meta.name != "secret"] + [
        InspectionPlan.org_unit.as_alias("org_unit_id")
    ]


async def _draw_ids(plan_ids: list[Any]) -> dict[str, uuid.UUID]:
    if not plan_ids:
        return {}
    rows = (
        await InspectionDraw.select(InspectionDraw.id, InspectionDraw.plan)
        .where(InspectionDraw.plan.is_in(plan_ids))
        .run()
    )
    return {str(r["plan"]): r["id"] for r in rows}


def _plan_out(row: dict[str, Any], draw_id: uuid.UUID | None) -> s.PlanOut:
    row = {**row, "ratios": decoded(row["ratios"]) or {}, "counts": decoded(row["counts"]) or {}}
    return to_struct(s.PlanOut, row | {"draw_id": draw_id})


async def list_plans(*, principal: Principal, status: str | None = None) -> list[s.PlanOut]:
    query = scope.restrict(
        InspectionPlan.select(*_plan_columns()), principal, InspectionPlan.org_unit
    )
    if status:
        query = query.where(InspectionPlan.status == status)
    rows = await query.order_by(InspectionPlan.planned_start, ascending=False).run()
    draws = await _draw_ids([r["id"] for r in rows])
    return [_plan_out(r, draws.get(str(r["id"]))) for r in rows]


async def get_plan(*, principal: Principal, plan_id: uuid.UUID) -> s.PlanOut:
    row = await scope.fetch(
        InspectionPlan,
        plan_id,
        principal,
        org_column=InspectionPlan.org_unit,
        what="plan",
        columns=_plan_columns(),
    )
    draws = await _draw_ids([row["id"]])
    return _plan_out(row, draws.get(str(row["id"])))


async def _check_plan_refs(principal: Principal, fields: dict[str, Any]) -> None:
    if "item_codes" in fields:
        codes = list(fields["item_codes"])
        if len(set(codes)) != len(codes):
            raise BadRequest("an item is listed twice", code="plan.duplicate_item")
        found = await items_by_code(codes)
        unknown = [c for c in codes if c not in found or not found[c]["active"]]
        if unknown:
            raise BadRequest(
                f"unknown or inactive items: {', '.join(unknown)}", code="plan.unknown_items"
            )
    for key in ("scope_org_unit_ids", "inspector_org_unit_ids"):
        ids = list(fields.get(key) or [])
        if ids:
            rows = await OrgUnit.select(OrgUnit.id).where(OrgUnit.id.is_in(ids)).run()
            known = {str(r["id"]) for r in rows}
            bad = [str(i) for i in ids if str(i) not in known or not principal.sees_org(i)]
            if bad:
                raise BadRequest(f"{key}: unknown org units {', '.join(bad)}", code="plan.bad_ref")
    team_ids = list(fields.get("inspector_team_ids") or [])
    if team_ids:
        rows = await Team.select(Team.id, Team.org_unit).where(Team.id.is_in(team_ids)).run()
        known = {str(r["id"]) for r in rows if principal.sees_org(r["org_unit"])}
        bad = [str(i) for i in team_ids if str(i) not in known]
        if bad:
            raise BadRequest(
                f"inspector_team_ids: unknown teams {', '.join(bad)}", code="plan.bad_ref"
            )
    if "counts" in fields and "ratios" in fields:
        both = sorted(set(fields["counts"]) & set(fields["ratios"]))
        if both:
            raise BadRequest(
                f"strata {', '.join(both)} have both a ratio and a count; give one",
                code="plan.ratio_and_count",
            )


def _check_dates(start: Any, end: Any) -> None:
    if end < start:
        raise BadRequest("planned_end is before planned_start", code="plan.bad_dates")


def _stored(fields: dict[str, Any]) -> dict[Any, Any]:
    """API field values as stored: ids in arrays as text."""
    out = dict(fields)
    for key in ("scope_org_unit_ids", "inspector_team_ids", "inspector_org_unit_ids"):
        if key in out:
            out[key] = [str(v) for v in out[key]]
    return out


async def create_plan(*, principal: Principal, data: s.PlanIn) -> s.PlanOut:
    _check_dates(data.planned_start, data.planned_end)
    fields = msgspec.structs.asdict(data)
    async with write_tx():
        scope.require(principal, data.org_unit_id, what="org unit")
        await _check_plan_refs(principal, fields)
        if await InspectionPlan.exists().where(InspectionPlan.code == data.code).run():
            raise Conflict(f"plan code {data.code} is taken", code="plan.code_taken")
        now = clock.now()
        stored = _stored(fields)
        stored["org_unit"] = stored.pop("org_unit_id")
        plan = InspectionPlan(
            id=uuid.uuid4(), status="draft", created_at=now, updated_at=now, **stored
        )
        await InspectionPlan.insert(plan).run()
        await audit.record(
            stream=f"plan:{plan.id}",
            action="plan.created",
            actor=principal.actor,
            payload=_jsonable(data),
            org_unit_id=data.org_unit_id,
        )
    return await get_plan(principal=principal, plan_id=plan.id)


async def _fetch_plan(principal: Principal, plan_id: uuid.UUID) -> dict[str, Any]:
    return await scope.fetch(
        InspectionPlan, plan_id, principal, org_column=InspectionPlan.org_unit, what="plan"
    )


async def update_plan(*, principal: Principal, plan_id: uuid.UUID, data: s.PlanPatch) -> s.PlanOut:
    changes = _changes(data)
    async with write_tx():
        plan = await _fetch_plan(principal, plan_id)
        if plan["status"] != "draft":
            raise Conflict(f"a {plan['status']} plan cannot be changed", code="plan.not_draft")
        _check_dates(
            changes.get("planned_start", plan["planned_start"]),
            changes.get("planned_end", plan["planned_end"]),
        )
        merged = {
            "counts": changes.get("counts", decoded(plan["counts"]) or {}),
            "ratios": changes.get("ratios", decoded(plan["ratios"]) or {}),
        }
        await _check_plan_refs(principal, changes | merged)
        if changes:
            await (
                InspectionPlan.update({**_stored(changes), "updated_at": clock.now()})
                .where(InspectionPlan.id == plan_id)
                .run()
            )
            await audit.record(
                stream=f"plan:{plan_id}",
                action="plan.updated",
                actor=principal.actor,
                payload=audit.jsonable(changes),
                org_unit_id=plan["org_unit"],
            )
    return await get_plan(principal=principal, plan_id=plan_id)


async def publish_plan(*, principal: Principal, plan_id: uuid.UUID) -> s.PlanOut:
    """Publish a draft plan: draw the secret and publish only its commitment."""
    async with write_tx():
        plan = await _fetch_plan(principal, plan_id)
        target = check_transition(plan["status"], "publish")
        secret = secrets.token_bytes(32)
        commitment = hashrank.commitment(secret)
        now = clock.now()
        await (
            InspectionPlan.update(
                {
                    InspectionPlan.status: target,
                    InspectionPlan.secret: secret.hex(),
                    InspectionPlan.commitment: commitment,
                    InspectionPlan.published_at: now,
                    InspectionPlan.updated_at: now,
                }
            )
            .where(InspectionPlan.id == plan_id)
            .run()
        )
        await audit.record(
            stream=f"plan:{plan_id}",
            action="plan.published",
            actor=principal.actor,
            payload={"algorithm": hashrank.ALGORITHM, "commitment": commitment},
            org_unit_id=plan["org_unit"],
        )
    return await get_plan(principal=principal, plan_id=plan_id)


async def public_plans() -> list[s.PublicPlanOut]:
    """Published plans (and later ones) with their commitments, newest first."""
    rows = (
        await InspectionPlan.select(
            InspectionPlan.id.as_alias("plan_id"),
            InspectionPlan.code,
            InspectionPlan.name,
            InspectionPlan.item_codes,
            InspectionPlan.planned_start,
            InspectionPlan.planned_end,
            InspectionPlan.status,
            InspectionPlan.commitment,
            InspectionPlan.published_at,
        )
        .where(InspectionPlan.status != "draft")
        .order_by(InspectionPlan.published_at, ascending=False)
        .run()
    )
    draws = await _draw_ids([r["plan_id"] for r in rows])
    return [
        to_struct(
            s.PublicPlanOut,
            r | {"algorithm": hashrank.ALGORITHM, "draw_id": draws.get(str(r["plan_id"]))},
        )
        for r in rows
    ]
