"""Deadlines of the inspections domain for the escalation sweep (backend/core/deadlines.py).

Two kinds: a task's due date (``inspection.task_due``, open until completed or
cancelled) and the publication of a completed task's results
(``inspection.result_publication``, 20 working days after the inspection, open
until published).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from backend.core.deadlines import DeadlineItem, end_of_day, watched_ids
from backend.inspections.tables import InspectionTask, TaskInspector
from backend.settings import get_settings

TARGET_KIND = "inspection_task"


async def _teams(task_ids: list[Any]) -> dict[str, tuple[uuid.UUID, ...]]:
    if not task_ids:
        return {}
    rows = (
        await TaskInspector.select(TaskInspector.task, TaskInspector.officer)
        .where(TaskInspector.task.is_in(task_ids) & TaskInspector.active.eq(True))
        .order_by(TaskInspector.position)
        .run()
    )
    out: dict[str, list[uuid.UUID]] = {}
    for r in rows:
        out.setdefault(str(r["task"]), []).append(uuid.UUID(str(r["officer"])))
    return {k: tuple(v) for k, v in out.items()}


async def provide(*, horizon: dt.datetime, watched: Sequence[str]) -> AsyncIterator[DeadlineItem]:
    tz = get_settings().timezone
    # A date D is overdue from the end of D, so anything due on or before this day is seen.
    last_day = horizon.astimezone(tz).date()
    watched_uuids = watched_ids(watched)
    columns = [
        InspectionTask.id,
        InspectionTask.subject_code,
        InspectionTask.org_unit,
        InspectionTask.status,
        InspectionTask.due_date,
        InspectionTask.publication_due,
        InspectionTask.published_on,
    ]
    open_due = InspectionTask.status.not_in(["completed", "cancelled"]) & (
        InspectionTask.due_date <= last_day
    )
    unpublished = (
        (InspectionTask.status == "completed")
        & InspectionTask.published_on.is_null()
        & (InspectionTask.publication_due <= last_day)
    )
    condition = open_due | unpublished
    if watched_uuids:
        condition = condition | InspectionTask.id.is_in(watched_uuids)
    rows = await InspectionTask.select(*columns).where(condition).run()
    teams = await _teams([r["id"] for r in rows])
    for r in rows:
        task_id = str(r["id"])
        common: dict[str, Any] = {
            "target_kind": TARGET_KIND,
            "target_id": task_id,
            "org_unit_id": uuid.UUID(str(r["org_unit"])),
            "officer_ids": teams.get(task_id, ()),
        }
        yield DeadlineItem(
            rule_kind="inspection.task_due",
            due_at=end_of_day(r["due_date"], tz),
            resolved=r["status"] in ("completed", "cancelled"),
            title=f"抽查任务 {r['subject_code']} 到期",
            details={"due_date": r["due_date"].isoformat()},
            **common,
        )
        if r["publication_due"] is not None:
            yield DeadlineItem(
                rule_kind="inspection.result_publication",
                due_at=end_of_day(r["publication_due"], tz),
                resolved=r["published_on"] is not None,
                title=f"抽查结果 {r['subject_code']} 待公示",
                details={"publication_due": r["publication_due"].isoformat()},
                **common,
            )
