"""Inspection tasks, results per item and their publication (一公开).

The mobile API calls these services: tasks changed since a cursor, check-in and
results carry the task's ``version`` for optimistic concurrency; every change bumps
``version`` and ``updated_at``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from litestar import Controller, Request, get, post
from piccolo.columns import Column

from backend.audit import service as audit
from backend.calendar.service import due_in_working_days, load_calendar
from backend.cases.leads import create_lead
from backend.core import clock, scope
from backend.core.auth import Principal, require_roles, system_principal
from backend.core.db import write_tx
from backend.core.errors import BadRequest, Conflict, Forbidden, NotFound
from backend.core.pagination import Page, check_page
from backend.core.schemas import to_struct
from backend.inspections import draws
from backend.inspections import schemas as s
from backend.inspections.service import PLAN_TRANSITIONS, check_transition, items_by_code
from backend.inspections.tables import (
    InspectionItem,
    InspectionPlan,
    InspectionResult,
    InspectionTask,
    Subject,
    TaskInspector,
)
from backend.orgs.tables import Certificate, Grid, Officer
from backend.settings import get_settings

# The task status machine: action -> (allowed from, to).
TASK_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "check_in": (frozenset({"assigned"}), "checked_in"),
    "record": (frozenset({"assigned", "checked_in"}), "checked_in"),
    "complete": (frozenset({"checked_in"}), "completed"),
}
ORGANISER_ROLES = ("supervisor", "admin")
DEFAULT_PUBLICATION_WORKING_DAYS = 20


def publication_working_days() -> int:
    """Results are published within this many working days of the inspection (default 20)."""
    raw = get_settings().extra.get("FIELDCASE_INSPECTION_PUBLICATION_WORKING_DAYS")
    return int(raw) if raw else DEFAULT_PUBLICATION_WORKING_DAYS


def _task_columns() -> list[Any]:
    return [
        InspectionTask.id,
        InspectionTask.plan.as_alias("plan_id"),
        InspectionTask.draw.as_alias("draw_id"),
        InspectionTask.subject.as_alias("subject_id"),
        InspectionTask.subject_code,
        InspectionTask.subject.name.as_alias("subject_name"),
        InspectionTask.org_unit.as_alias("org_unit_id"),
        InspectionTask.stratum,
        InspectionTask.status,
        InspectionTask.due_date,
        InspectionTask.checked_in_at,
        InspectionTask.inspection_date,
        InspectionTask.completed_at,
        InspectionTask.publication_due,
        InspectionTask.published_on,
        InspectionTask.version,
        InspectionTask.updated_at,
    ]


async def _decorate(rows: list[dict[str, Any]]) -> list[s.TaskOut]:
    ids = [r["id"] for r in rows]
    team: dict[str, list[s.TaskInspectorOut]] = {}
    results: dict[str, list[s.ResultOut]] = {}
    if ids:
        for m in (
            await TaskInspector.select(
                TaskInspector.task,
                TaskInspector.officer.as_alias("officer_id"),
                TaskInspector.officer.name.as_alias("name"),
                TaskInspector.position,
            )
            .where(TaskInspector.task.is_in(ids) & TaskInspector.active.eq(True))
            .order_by(TaskInspector.position)
            .run()
        ):
            team.setdefault(str(m["task"]), []).append(to_struct(s.TaskInspectorOut, m))
        for r in (
            await InspectionResult.select(
                InspectionResult.task,
                InspectionResult.item_code,
                InspectionResult.category,
                InspectionResult.note,
                InspectionResult.recorded_at,
            )
            .where(InspectionResult.task.is_in(ids))
            .order_by(InspectionResult.item_code)
            .run()
        ):
            results.setdefault(str(r["task"]), []).append(to_struct(s.ResultOut, r))
    out = []
    for row in rows:
        task = to_struct(s.TaskOut, row)
        task.inspectors = team.get(str(row["id"]), [])
        task.results = results.get(str(row["id"]), [])
        out.append(task)
    return out


async def _team_of(task_id: Any) -> list[str]:
    rows = (
        await TaskInspector.select(TaskInspector.officer)
        .where((TaskInspector.task == task_id) & TaskInspector.active.eq(True))
        .run()
    )
    return [str(r["officer"]) for r in rows]


async def _fetch_task(principal: Principal, task_id: uuid.UUID) -> dict[str, Any]:
    """A task the principal may see: on its team, or its org unit in scope."""
    row = await InspectionTask.select().where(InspectionTask.id == task_id).first().run()
    if row is None:
        raise NotFound("task not found", code="task.not_found")
    on_team = principal.officer_id is not None and str(principal.officer_id) in await _team_of(
        task_id
    )
    if not on_team:
        scope.require(principal, row["org_unit"], what="task")
    row["_on_team"] = on_team
    return row  # type: ignore[no-any-return]


def _check_actor(principal: Principal, task: dict[str, Any]) -> None:
    """Only the task's own inspectors (or organisers) record what happened on site."""
    if not task["_on_team"] and not principal.has_any_role(*ORGANISER_ROLES):
        raise Forbidden("only the task's inspectors may do this", code="task.not_on_team")


def _check_version(task: dict[str, Any], version: int) -> None:
    if task["version"] != version:
        raise Conflict(
            f"the task changed meanwhile (version {task['version']}, you sent {version}); "
            "reload it and try again",
            code="task.version_conflict",
            extra={"version": task["version"]},
        )


def _task_target(task: dict[str, Any], action: str) -> str:
    allowed, target = TASK_TRANSITIONS[action]
    if task["status"] not in allowed:
        raise Conflict(
            f"cannot {action.replace('_', ' ')} a task that is {task['status']}",
            code=f"task.cannot_{action}",
        )
    return target


async def get_task(*, principal: Principal, task_id: uuid.UUID) -> s.TaskOut:
    await _fetch_task(principal, task_id)
    rows = await InspectionTask.select(*_task_columns()).where(InspectionTask.id == task_id).run()
    return (await _decorate(rows))[0]


async def list_tasks(
    *,
    principal: Principal,
    plan_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[s.TaskOut], int]:
    query = scope.restrict(
        InspectionTask.select(*_task_columns()), principal, InspectionTask.org_unit
    )
    count = scope.restrict(InspectionTask.count(), principal, InspectionTask.org_unit)
    for column, value in ((InspectionTask.plan, plan_id), (InspectionTask.status, status)):
        if value is not None:
            query = query.where(column == value)
            count = count.where(column == value)
    rows = (
        await query.order_by(InspectionTask.due_date)
        .order_by(InspectionTask.id)
        .limit(limit)
        .offset(offset)
        .run()
    )
    return await _decorate(rows), await count.run()


async def tasks_for_officer(
    *,
    principal: Principal,
    officer_id: uuid.UUID | None = None,
    since: dt.datetime | None = None,
    limit: int = 200,
) -> list[s.TaskOut]:
    """Tasks where the officer is on the team, changed after ``since`` (oldest change first).

    The cursor for the next call is the last task's ``updated_at``; cancelled tasks and
    teams the officer left are included so that a phone can drop them.
    """
    officer = officer_id or principal.officer_id
    if officer is None:
        raise BadRequest("this account is not linked to an officer", code="task.no_officer")
    if officer != principal.officer_id and not principal.has_any_role(
        *ORGANISER_ROLES, "squad_leader"
    ):
        raise Forbidden("you may only list your own tasks", code="task.not_yours")
    member_of = TaskInspector.select(TaskInspector.task).where(TaskInspector.officer == officer)
    task_ids = [r["task"] for r in await member_of.run()]
    if not task_ids:
        return []
    query = InspectionTask.select(*_task_columns()).where(InspectionTask.id.is_in(task_ids))
    if since is not None:
        query = query.where(InspectionTask.updated_at > since)
    rows = (
        await query.order_by(InspectionTask.updated_at)
        .order_by(InspectionTask.id)
        .limit(limit)
        .run()
    )
    return await _decorate(rows)


async def task_markers_for_officer(
    *, officer_id: uuid.UUID, statuses: Sequence[str], ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, tuple[int, str]]:
    """(version, status) of the tasks in ``statuses`` whose current team includes the officer.

    One light query (no inspector or result lists): what a phone's work list holds now.
    ``ids`` restricts it to those tasks.
    """
    query = TaskInspector.select(
        TaskInspector.task.as_alias("id"),
        TaskInspector.task.version.as_alias("version"),
        TaskInspector.task.status.as_alias("status"),
    ).where(
        (TaskInspector.officer == officer_id)
        & TaskInspector.active.eq(True)
        & TaskInspector.task.status.is_in(list(statuses))
    )
    if ids is not None:
        if not ids:
            return {}
        query = query.where(TaskInspector.task.is_in(list(ids)))
    return {uuid.UUID(str(r["id"])): (r["version"], r["status"]) for r in await query.run()}


# The latest changes of tasks after a moment: ``(id, updated_at)`` rows, newest first, with
# two ``{}`` placeholders (the moment, how many). Every change of a task (check-in, results,
# a replaced inspector) bumps ``updated_at``, which is indexed: with nothing new this is one
# empty index probe. Plain SQL, which the phones' work poll runs inside its own query.
TASKS_CHANGED_SQL = (
    "SELECT id, updated_at FROM inspection_task WHERE updated_at > {}"
    " ORDER BY updated_at DESC LIMIT {}"
)


async def officer_tasks(*, principal: Principal, ids: Sequence[uuid.UUID]) -> list[s.TaskOut]:
    """The tasks among ``ids`` whose current team includes the principal's officer."""
    if principal.officer_id is None or not ids:
        return []
    on_team = TaskInspector.select(TaskInspector.task).where(
        (TaskInspector.officer == principal.officer_id)
        & TaskInspector.active.eq(True)
        & TaskInspector.task.is_in(list(ids))
    )
    task_ids = [r["task"] for r in await on_team.run()]
    if not task_ids:
        return []
    rows = (
        await InspectionTask.select(*_task_columns()).where(InspectionTask.id.is_in(task_ids)).run()
    )
    return await _decorate(rows)


async def _bump(task_id: Any, changes: dict[Any, Any], now: dt.datetime) -> None:
    await (
        InspectionTask.update(
            {
                **changes,
                InspectionTask.updated_at: now,
                InspectionTask.version: InspectionTask.version + 1,
            }
        )
        .where(InspectionTask.id == task_id)
        .run()
    )


async def _advance_plan(plan_id: Any, action: str, actor: str) -> None:
    plan = (
        await InspectionPlan.select(InspectionPlan.status, InspectionPlan.org_unit)
        .where(InspectionPlan.id == plan_id)
        .first()
        .run()
    )
    assert plan is not None
    if plan["status"] != PLAN_TRANSITIONS[action][0]:
        return
    target = check_transition(plan["status"], action)
    await _move_plan(plan_id, plan["org_unit"], target, actor, {})


async def _move_plan(
    plan_id: Any, org_unit: Any, target: str, actor: str, payload: dict[str, Any]
) -> None:
    await (
        InspectionPlan.update(
            {InspectionPlan.status: target, InspectionPlan.updated_at: clock.now()}
        )
        .where(InspectionPlan.id == plan_id)
        .run()
    )
    await audit.record(
        stream=f"plan:{plan_id}",
        action=f"plan.{target}",
        actor=actor,
        payload={"status": target, **payload},
        org_unit_id=org_unit,
    )


async def check_in(
    *,
    principal: Principal,
    task_id: uuid.UUID,
    version: int,
    lat: float | None = None,
    lon: float | None = None,
) -> s.TaskOut:
    async with write_tx():
        task = await _fetch_task(principal, task_id)
        _check_actor(principal, task)
        _check_version(task, version)
        target = _task_target(task, "check_in")
        now = clock.now()
        await _bump(
            task_id,
            {
                InspectionTask.status: target,
                InspectionTask.checked_in_at: now,
                InspectionTask.check_in_lat: lat,
                InspectionTask.check_in_lon: lon,
            },
            now,
        )
        await _advance_plan(task["plan"], "start", principal.actor)
        await audit.record(
            stream=f"task:{task_id}",
            action="task.checked_in",
            actor=principal.actor,
            payload={"lat": lat, "lon": lon},
            org_unit_id=task["org_unit"],
        )
    return await get_task(principal=principal, task_id=task_id)


async def record_results(
    *, principal: Principal, task_id: uuid.UUID, version: int, results: list[s.ResultIn]
) -> s.TaskOut:
    """Record item results; a result that found a problem opens a lead for the case workflow."""
    async with write_tx():
        task = await _fetch_task(principal, task_id)
        _check_actor(principal, task)
        _check_version(task, version)
        target = _task_target(task, "record")
        lines = {
            r["item_code"]: r
            for r in await InspectionResult.select().where(InspectionResult.task == task_id).run()
        }
        items = await items_by_code(list(lines))
        seen: set[str] = set()
        for result in results:
            if result.item_code not in lines:
                raise BadRequest(
                    f"item {result.item_code} is not part of this task", code="task.unknown_item"
                )
            if result.item_code in seen:
                raise BadRequest(
                    f"item {result.item_code} is given twice", code="task.duplicate_item"
                )
            seen.add(result.item_code)
            allowed = items[result.item_code]["result_categories"] or list(s.RESULT_CATEGORIES)
            if result.category not in allowed:
                raise BadRequest(
                    f"category {result.category!r} is not a result category of item "
                    f"{result.item_code}",
                    code="task.bad_category",
                )
        now = clock.now()
        leads = []
        for result in results:
            line = lines[result.item_code]
            await (
                InspectionResult.update(
                    {
                        InspectionResult.category: result.category,
                        InspectionResult.note: result.note,
                        InspectionResult.recorded_at: now,
                        InspectionResult.recorded_by: principal.officer_id,
                    }
                )
                .where(InspectionResult.id == line["id"])
                .run()
            )
            was_problem = line["category"] not in (None, *s.NO_PROBLEM_CATEGORIES)
            if result.category not in s.NO_PROBLEM_CATEGORIES and not was_problem:
                leads.append(result)
        changes: dict[Column, Any] = {InspectionTask.status: target}
        if task["checked_in_at"] is None:
            changes[InspectionTask.checked_in_at] = now
        await _bump(task_id, changes, now)
        await _advance_plan(task["plan"], "start", principal.actor)
        await audit.record(
            stream=f"task:{task_id}",
            action="task.results.recorded",
            actor=principal.actor,
            payload={
                "results": [{"item_code": r.item_code, "category": r.category} for r in results]
            },
            org_unit_id=task["org_unit"],
        )
        for result in leads:
            await _open_lead(principal, task, result, items[result.item_code])
    return await get_task(principal=principal, task_id=task_id)


async def _open_lead(
    principal: Principal, task: dict[str, Any], result: s.ResultIn, item: dict[str, Any]
) -> None:
    """Hand a finding to the case workflow as a Lead, in the caller's transaction."""
    subject = (
        await Subject.select(
            Subject.name, Subject.address, Subject.lat, Subject.lon, Subject.grid_code
        )
        .where(Subject.id == task["subject"])
        .first()
        .run()
    )
    assert subject is not None
    grid = None
    if subject["grid_code"]:
        grid = await Grid.select(Grid.id).where(Grid.code == subject["grid_code"]).first().run()
    # An inspector from another unit (a county squad in a township) may not see the
    # subject's unit; the lead still belongs there, so the system files it for them.
    filer = principal if principal.sees_org(task["org_unit"]) else system_principal("inspections")
    await create_lead(
        principal=filer,
        org_unit_id=task["org_unit"],
        source="inspection",
        source_ref=f"inspection_task:{task['id']}:{item['code']}",
        description=(
            f"双随机抽查「{item['name']}」({item['code']})结果：{result.category}。{result.note}"
        ).strip(),
        subject_code=task["subject_code"],
        subject_name=subject["name"],
        location=subject["address"],
        latitude=subject["lat"],
        longitude=subject["lon"],
        grid_id=grid["id"] if grid else None,
    )


async def complete_task(
    *,
    principal: Principal,
    task_id: uuid.UUID,
    version: int,
    inspection_date: dt.date | None = None,
) -> s.TaskOut:
    """Close the inspection; its results are due for publication in 20 working days."""
    async with write_tx():
        task = await _fetch_task(principal, task_id)
        _check_actor(principal, task)
        _check_version(task, version)
        target = _task_target(task, "complete")
        open_items = (
            await InspectionResult.select(InspectionResult.item_code)
            .where((InspectionResult.task == task_id) & InspectionResult.category.is_null())
            .run()
        )
        if open_items:
            names = ", ".join(r["item_code"] for r in open_items)
            raise Conflict(f"results missing for items {names}", code="task.results_missing")
        day = inspection_date or clock.local_today()
        if day > clock.local_today():
            raise BadRequest("inspection_date is in the future", code="task.bad_date")
        due = due_in_working_days(
            await load_calendar(), day, publication_working_days(), rule="publish results"
        )
        now = clock.now()
        await _bump(
            task_id,
            {
                InspectionTask.status: target,
                InspectionTask.inspection_date: day,
                InspectionTask.completed_at: now,
                InspectionTask.publication_due: due.date,
            },
            now,
        )
        await audit.record(
            stream=f"task:{task_id}",
            action="task.completed",
            actor=principal.actor,
            payload={"inspection_date": day, "publication_due": due.date, "basis": due.basis},
            org_unit_id=task["org_unit"],
        )
        still_open = (
            await InspectionTask.exists()
            .where(
                (InspectionTask.plan == task["plan"])
                & InspectionTask.status.not_in(["completed", "cancelled"])
            )
            .run()
        )
        if not still_open:
            await _advance_plan(task["plan"], "start", principal.actor)
            await _advance_plan(task["plan"], "complete", principal.actor)
    return await get_task(principal=principal, task_id=task_id)


async def _publish(task_ids: list[Any], today: dt.date) -> None:
    await (
        InspectionTask.update(
            {
                InspectionTask.published_on: today,
                InspectionTask.updated_at: clock.now(),
                InspectionTask.version: InspectionTask.version + 1,
            }
        )
        .where(InspectionTask.id.is_in(task_ids))
        .run()
    )


async def publish_task_results(*, principal: Principal, task_id: uuid.UUID) -> s.TaskOut:
    """Publish one completed task's results now (谁检查、谁录入、谁公开)."""
    async with write_tx():
        task = await _fetch_task(principal, task_id)
        if task["status"] != "completed":
            raise Conflict(
                "only a completed task's results can be published", code="task.not_completed"
            )
        if task["published_on"] is None:
            today = clock.local_today()
            await _publish([task_id], today)
            await audit.record(
                stream=f"task:{task_id}",
                action="task.results.published",
                actor=principal.actor,
                payload={"published_on": today},
                org_unit_id=task["org_unit"],
            )
    return await get_task(principal=principal, task_id=task_id)


async def publish_plan_results(*, principal: Principal, plan_id: uuid.UUID) -> int:
    """Publish every completed task of a completed plan; the plan becomes results_published."""
    async with write_tx():
        plan = await scope.fetch(
            InspectionPlan, plan_id, principal, org_column=InspectionPlan.org_unit, what="plan"
        )
        target = check_transition(plan["status"], "publish_results")
        rows = (
            await InspectionTask.select(InspectionTask.id)
            .where(
                (InspectionTask.plan == plan_id)
                & (InspectionTask.status == "completed")
                & InspectionTask.published_on.is_null()
            )
            .run()
        )
        today = clock.local_today()
        ids = [r["id"] for r in rows]
        if ids:
            await _publish(ids, today)
        await _move_plan(
            plan_id,
            plan["org_unit"],
            target,
            principal.actor,
            {"tasks": len(ids), "published_on": today},
        )
    return len(ids)


async def public_results(*, limit: int, offset: int) -> tuple[list[s.PublicResultOut], int]:
    """Published results with inspectors' names and certificate numbers (nothing internal)."""
    published = InspectionResult.task.published_on.is_not_null() & (
        InspectionResult.task.status == "completed"
    )
    total = await InspectionResult.count().where(published).run()
    rows = (
        await InspectionResult.select(
            InspectionResult.task.as_alias("task_id"),
            InspectionResult.task.plan.code.as_alias("plan_code"),
            InspectionResult.subject_code,
            InspectionResult.task.subject.name.as_alias("subject_name"),
            InspectionResult.item_code,
            InspectionResult.category,
            InspectionResult.task.inspection_date.as_alias("inspection_date"),
            InspectionResult.task.published_on.as_alias("published_on"),
        )
        .where(published)
        .order_by(InspectionResult.task.published_on, ascending=False)
        .order_by(InspectionResult.id)
        .limit(limit)
        .offset(offset)
        .run()
    )
    task_ids = list({r["task_id"] for r in rows})
    names = {
        r["code"]: r["name"]
        for r in await InspectionItem.select(InspectionItem.code, InspectionItem.name).run()
    }
    team: dict[str, list[tuple[Any, str]]] = {}
    if task_ids:
        for m in (
            await TaskInspector.select(
                TaskInspector.task,
                TaskInspector.officer,
                TaskInspector.officer.name.as_alias("name"),
            )
            .where(TaskInspector.task.is_in(task_ids) & TaskInspector.active.eq(True))
            .order_by(TaskInspector.position)
            .run()
        ):
            team.setdefault(str(m["task"]), []).append((m["officer"], m["name"]))
    officer_ids = list({o for members in team.values() for o, _ in members})
    certs: dict[str, list[tuple[dt.date, dt.date, str]]] = {}
    if officer_ids:
        for c in (
            await Certificate.select(
                Certificate.officer,
                Certificate.number,
                Certificate.valid_from,
                Certificate.valid_to,
            )
            .where(Certificate.officer.is_in(officer_ids))
            .run()
        ):
            certs.setdefault(str(c["officer"]), []).append(
                (c["valid_from"], c["valid_to"], c["number"])
            )
    out = []
    for r in rows:
        day = r["inspection_date"]
        inspectors = [
            s.PublicInspectorOut(
                name=name,
                certificate_numbers=[
                    n for start, end, n in certs.get(str(o), []) if start <= day <= end
                ],
            )
            for o, name in team.get(str(r["task_id"]), [])
        ]
        out.append(
            to_struct(
                s.PublicResultOut,
                r | {"item_name": names.get(r["item_code"], ""), "inspectors": []},
            )
        )
        out[-1].inspectors = inspectors
    return out, total


async def officer_names(ids: list[Any]) -> dict[str, str]:
    rows = await Officer.select(Officer.id, Officer.name).where(Officer.id.is_in(ids)).run()
    return {str(r["id"]): r["name"] for r in rows}


async def resolve_evidence_target(principal: Principal, target_id: Any) -> uuid.UUID:
    """The org unit owning a task evidence is attached to (404 if missing or not visible)."""
    try:
        task_id = uuid.UUID(str(target_id))
    except ValueError:
        raise NotFound("task not found", code="task.not_found") from None
    task = await _fetch_task(principal, task_id)
    return uuid.UUID(str(task["org_unit"]))


EVIDENCE_TARGETS = {"task": resolve_evidence_target}


# ---------------------------------------------------------------------------
# Web API


class TaskController(Controller):
    path = "/inspection-tasks"
    tags = ["inspections"]

    @get(
        "/",
        operation_id="listInspectionTasks",
        guards=[require_roles("supervisor", "admin", "auditor", "head", "squad_leader")],
    )
    async def list_tasks(
        self,
        request: Request[Principal, Any, Any],
        plan_id: uuid.UUID | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page[s.TaskOut]:
        check_page(limit, offset)
        items, total = await list_tasks(
            principal=request.user, plan_id=plan_id, status=status, limit=limit, offset=offset
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/mine", operation_id="myInspectionTasks")
    async def mine(
        self, request: Request[Principal, Any, Any], since: dt.datetime | None = None
    ) -> list[s.TaskOut]:
        return await tasks_for_officer(principal=request.user, since=since)

    @get("/{task_id:uuid}", operation_id="getInspectionTask")
    async def get_one(self, task_id: uuid.UUID, request: Request[Principal, Any, Any]) -> s.TaskOut:
        return await get_task(principal=request.user, task_id=task_id)

    @post("/{task_id:uuid}/check-in", operation_id="checkInInspectionTask", status_code=200)
    async def check_in(
        self, task_id: uuid.UUID, data: s.CheckInIn, request: Request[Principal, Any, Any]
    ) -> s.TaskOut:
        return await check_in(
            principal=request.user,
            task_id=task_id,
            version=data.version,
            lat=data.lat,
            lon=data.lon,
        )

    @post("/{task_id:uuid}/results", operation_id="recordInspectionResults", status_code=200)
    async def results(
        self, task_id: uuid.UUID, data: s.ResultsIn, request: Request[Principal, Any, Any]
    ) -> s.TaskOut:
        return await record_results(
            principal=request.user, task_id=task_id, version=data.version, results=data.results
        )

    @post("/{task_id:uuid}/complete", operation_id="completeInspectionTask", status_code=200)
    async def complete(
        self, task_id: uuid.UUID, data: s.CompleteIn, request: Request[Principal, Any, Any]
    ) -> s.TaskOut:
        return await complete_task(
            principal=request.user,
            task_id=task_id,
            version=data.version,
            inspection_date=data.inspection_date,
        )

    @post(
        "/{task_id:uuid}/publish",
        operation_id="publishInspectionTask",
        status_code=200,
        guards=[require_roles(*ORGANISER_ROLES)],
    )
    async def publish(self, task_id: uuid.UUID, request: Request[Principal, Any, Any]) -> s.TaskOut:
        return await publish_task_results(principal=request.user, task_id=task_id)

    @post(
        "/{task_id:uuid}/replace-inspector",
        operation_id="replaceTaskInspector",
        guards=[require_roles(*ORGANISER_ROLES)],
    )
    async def replace_inspector(
        self, task_id: uuid.UUID, data: s.ReplacementIn, request: Request[Principal, Any, Any]
    ) -> s.ReplacementOut:
        if data.officer_id is None:
            raise BadRequest("officer_id names the inspector to replace", code="task.no_officer")
        return await draws.replace_inspector(
            principal=request.user,
            task_id=task_id,
            officer_id=data.officer_id,
            reason=data.reason,
        )

    @post(
        "/{task_id:uuid}/replace-subject",
        operation_id="replaceTaskSubject",
        guards=[require_roles(*ORGANISER_ROLES)],
    )
    async def replace_subject(
        self, task_id: uuid.UUID, data: s.ReplacementIn, request: Request[Principal, Any, Any]
    ) -> s.ReplacementOut:
        return await draws.replace_subject(
            principal=request.user, task_id=task_id, reason=data.reason
        )


CONTROLLERS: list[Any] = [TaskController]
