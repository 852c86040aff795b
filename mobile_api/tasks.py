"""Inspection tasks on the phone: the work source, check-in with distance, results, completion.

Calls backend.inspections services only. What the inspections domain does not keep
(GPS accuracy, the distance to the subject and its flag, the device time) is kept in
the operation's stored response and its audit event.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, post

from backend.core.auth import Principal
from backend.core.errors import Conflict, NotFound
from backend.core.schemas import Input, Output
from backend.inspections import schemas as ins
from backend.inspections import service as items_service
from backend.inspections import subjects as subjects_service
from backend.inspections import tasks as task_service
from backend.settings import Settings
from mobile_api import schemas as s
from mobile_api.config import mobile_config
from mobile_api.operations import OpContext, operation
from mobile_api.work import WorkSource, register_source
from mobile_api.writes import DeviceTime, IdempotencyKey, write

OPEN_STATUSES = frozenset({"assigned", "checked_in"})
NEXT_ACTIONS = {
    "assigned": ["task.check_in", "task.record_results", "onsite_record.create"],
    "checked_in": [
        "task.record_results",
        "task.complete",
        "onsite_record.create",
        "evidence.create",
    ],
}
EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), good to a few metres at these ranges."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


# ---------------------------------------------------------------------------
# The work source


async def assigned_tasks(principal: Principal, ids: list[uuid.UUID] | None) -> dict[uuid.UUID, str]:
    """Open tasks whose current team includes the officer (a replaced inspector drops out)."""
    if principal.officer_id is None:
        return {}
    markers = await task_service.task_markers_for_officer(
        officer_id=principal.officer_id, statuses=sorted(OPEN_STATUSES), ids=ids
    )
    return {task_id: f"{version}:{status}" for task_id, (version, status) in markers.items()}


async def _subject(principal: Principal, subject_id: uuid.UUID) -> ins.SubjectOut | None:
    try:
        return await subjects_service.get_subject(principal=principal, subject_id=subject_id)
    except NotFound:
        return None


async def render_tasks(
    principal: Principal, tasks: list[ins.TaskOut]
) -> dict[uuid.UUID, s.TaskWork]:
    codes = sorted({r.item_code for t in tasks for r in t.results})
    names = {
        c: row.get("name", "") for c, row in (await items_service.items_by_code(codes)).items()
    }
    subjects: dict[uuid.UUID, ins.SubjectOut | None] = {}
    out: dict[uuid.UUID, s.TaskWork] = {}
    for task in tasks:
        if task.subject_id not in subjects:
            subjects[task.subject_id] = await _subject(principal, task.subject_id)
        subject = subjects[task.subject_id]
        location = (
            s.Location(lat=subject.lat, lon=subject.lon)
            if subject is not None and subject.lat is not None and subject.lon is not None
            else None
        )
        out[task.id] = s.TaskWork(
            id=task.id,
            status=task.status,
            version=task.version,
            due_date=task.due_date,
            subject_id=task.subject_id,
            subject_code=task.subject_code,
            subject_name=task.subject_name,
            address=subject.address if subject is not None else "",
            location=location,
            org_unit_id=task.org_unit_id,
            plan_id=task.plan_id,
            items=[
                s.ItemResult(
                    item_code=r.item_code,
                    item_name=names.get(r.item_code, ""),
                    category=r.category,
                    note=r.note,
                )
                for r in task.results
            ],
            inspectors=[
                s.InspectorBrief(officer_id=i.officer_id, name=i.name) for i in task.inspectors
            ],
            checked_in_at=task.checked_in_at,
            completed_at=task.completed_at,
            updated_at=task.updated_at,
            next_actions=NEXT_ACTIONS.get(task.status, []),
        )
    return out


async def task_details(principal: Principal, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    wanted = set(ids)
    mine = await task_service.officer_tasks(principal=principal, ids=ids)
    found = {t.id for t in mine}
    for task_id in wanted - found:
        # Not on its team (a squad leader, a supervisor): the domain's scope rules decide.
        try:
            mine.append(await task_service.get_task(principal=principal, task_id=task_id))
        except NotFound:
            continue
    return dict(await render_tasks(principal, mine))


register_source(
    WorkSource(
        kind="task",
        assigned=assigned_tasks,
        changed_sql=task_service.TASKS_CHANGED_SQL,
        details=task_details,
    )
)


# ---------------------------------------------------------------------------
# Field actions


class CheckInIn(Input):
    version: int
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    # GPS accuracy radius in metres, as the phone reports it.
    accuracy_m: Annotated[float, msgspec.Meta(ge=0, le=100_000)] | None = None


class CheckInOut(Output):
    task: s.TaskWork
    distance_m: float | None
    # True when the check-in is further from the subject than the limit (default 500 m).
    distance_flagged: bool
    accuracy_m: float | None
    device_time: dt.datetime | None
    server_time: dt.datetime


async def _current_task(principal: Principal, task_id: uuid.UUID) -> s.TaskWork:
    task = await task_service.get_task(principal=principal, task_id=task_id)
    return (await render_tasks(principal, [task]))[task.id]


async def _stale_with_current(principal: Principal, task_id: uuid.UUID, exc: Conflict) -> Conflict:
    """The domain's version conflict, carrying the task as the server has it now."""
    current = await _current_task(principal, task_id)
    return Conflict(
        exc.detail, code=exc.code, extra={**exc.extra, "current": msgspec.to_builtins(current)}
    )


@operation("task.check_in", body=CheckInIn, target="task")
async def check_in(ctx: OpContext, data: CheckInIn) -> CheckInOut:
    """Check in on arrival: GPS, accuracy and device time; far from the subject is flagged."""
    assert ctx.target is not None
    before = await _current_task(ctx.principal, ctx.target)
    try:
        await task_service.check_in(
            principal=ctx.principal,
            task_id=ctx.target,
            version=data.version,
            lat=data.lat,
            lon=data.lon,
        )
    except Conflict as exc:
        if exc.code == "task.version_conflict":
            raise await _stale_with_current(ctx.principal, ctx.target, exc) from None
        raise
    distance = (
        round(distance_m(data.lat, data.lon, before.location.lat, before.location.lon), 1)
        if before.location is not None
        else None
    )
    limit = mobile_config(ctx.settings).checkin_max_distance_m
    flagged = distance is not None and distance > limit
    ctx.notes.update(
        {
            "distance_m": distance,
            "distance_flagged": flagged,
            "accuracy_m": data.accuracy_m,
            "lat": data.lat,
            "lon": data.lon,
        }
    )
    return CheckInOut(
        task=await _current_task(ctx.principal, ctx.target),
        distance_m=distance,
        distance_flagged=flagged,
        accuracy_m=data.accuracy_m,
        device_time=ctx.device_time,
        server_time=ctx.clock.server_time,
    )


@operation("task.record_results", body=ins.ResultsIn, target="task")
async def record_results(ctx: OpContext, data: ins.ResultsIn) -> s.TaskWork:
    """Results per item with the standard categories; a problem found opens a lead."""
    assert ctx.target is not None
    try:
        await task_service.record_results(
            principal=ctx.principal, task_id=ctx.target, version=data.version, results=data.results
        )
    except Conflict as exc:
        if exc.code == "task.version_conflict":
            raise await _stale_with_current(ctx.principal, ctx.target, exc) from None
        raise
    return await _current_task(ctx.principal, ctx.target)


@operation("task.complete", body=ins.CompleteIn, target="task")
async def complete(ctx: OpContext, data: ins.CompleteIn) -> s.TaskWork:
    """Close the inspection once every item has a result."""
    assert ctx.target is not None
    try:
        await task_service.complete_task(
            principal=ctx.principal,
            task_id=ctx.target,
            version=data.version,
            inspection_date=data.inspection_date,
        )
    except Conflict as exc:
        if exc.code == "task.version_conflict":
            raise await _stale_with_current(ctx.principal, ctx.target, exc) from None
        raise
    return await _current_task(ctx.principal, ctx.target)


class TaskActionController(Controller):
    path = "/tasks"
    tags = ["mobile"]

    @post("/{task_id:uuid}/check-in", operation_id="mobileTaskCheckIn", status_code=200)
    async def check_in(
        self,
        task_id: uuid.UUID,
        data: CheckInIn,
        request: Request[Principal, Any, Any],
        settings: Settings,
        idempotency_key: IdempotencyKey,
        device_time: DeviceTime = None,
    ) -> Response[CheckInOut]:
        """Check in on arrival (op ``task.check_in``)."""
        return await write(
            request,
            settings,
            op="task.check_in",
            data=data,
            key=idempotency_key,
            device_time=device_time,
            target=task_id,
        )

    @post("/{task_id:uuid}/results", operation_id="mobileTaskResults", status_code=200)
    async def results(
        self,
        task_id: uuid.UUID,
        data: ins.ResultsIn,
        request: Request[Principal, Any, Any],
        settings: Settings,
        idempotency_key: IdempotencyKey,
        device_time: DeviceTime = None,
    ) -> Response[s.TaskWork]:
        """Record results per item (op ``task.record_results``); 409 with ``current`` if stale."""
        return await write(
            request,
            settings,
            op="task.record_results",
            data=data,
            key=idempotency_key,
            device_time=device_time,
            target=task_id,
        )

    @post("/{task_id:uuid}/complete", operation_id="mobileTaskComplete", status_code=200)
    async def complete(
        self,
        task_id: uuid.UUID,
        data: ins.CompleteIn,
        request: Request[Principal, Any, Any],
        settings: Settings,
        idempotency_key: IdempotencyKey,
        device_time: DeviceTime = None,
    ) -> Response[s.TaskWork]:
        """Complete the inspection (op ``task.complete``)."""
        return await write(
            request,
            settings,
            op="task.complete",
            data=data,
            key=idempotency_key,
            device_time=device_time,
            target=task_id,
        )


HANDLERS = [TaskActionController]
