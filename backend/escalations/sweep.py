"""The deadline sweep: mirror the providers' deadlines, then fire the levels that are due.

1. ``refresh``: every domain's deadline provider (``backend.core.deadlines``) is asked
   what is due soon and what became of the targets already tracked; new deadlines are
   inserted, changed ones updated, resolved ones closed (with their open escalations).
2. ``fire_due``: deadlines whose ``next_fire_at`` has come are claimed in short
   transactions (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several schedulers share
   the work) and get their escalation record, notifications, webhook deliveries and
   audit event. The unique key (target, rule, level) makes a second record impossible
   even if two claims race.

An idle sweep reads one index range (``next_fire_at <= now``) that is empty.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from backend.audit import service as audit
from backend.calendar.service import WorkCalendar, load_calendar
from backend.core import clock
from backend.core.db import is_sqlite, write_tx
from backend.core.deadlines import DeadlineItem
from backend.escalations import ladder as lad
from backend.escalations.defaults import DEFAULT_RULES
from backend.escalations.recipients import Directory, Person, load_directory
from backend.escalations.rules import ensure_default_rules, load_rules
from backend.escalations.tables import (
    EscalationRecord,
    Notification,
    TrackedDeadline,
    Webhook,
    WebhookDelivery,
)

log = logging.getLogger("fieldcase.escalations")

ACTOR = "system:scheduler"
BATCH = 200
LEVEL_NAMES = {"warning": "预警", "overdue": "超期", "escalated": "督办"}


@dataclass
class SweepResult:
    tracked: int = 0
    changed: int = 0
    resolved: int = 0
    fired: int = 0

    def __str__(self) -> str:
        return (
            f"tracked {self.tracked}, changed {self.changed}, "
            f"resolved {self.resolved}, fired {self.fired}"
        )


@dataclass(frozen=True)
class Context:
    now: dt.datetime
    rules: dict[str, dict[str, Any]]
    cal: WorkCalendar
    tz: ZoneInfo

    def ladder_for(self, rule_kind: str, due_at: dt.datetime) -> lad.Ladder | None:
        rule = self.rules.get(rule_kind)
        if rule is None or not rule["active"]:
            return None
        return lad.ladder(
            due_at=due_at,
            warning_working_days=rule["warning_working_days"],
            escalate_working_days=rule["escalate_working_days"],
            cal=self.cal,
            tz=self.tz,
        )

    def next_fire_at(self, rule_kind: str, due_at: dt.datetime, fired_rank: int) -> Any:
        ladder = self.ladder_for(rule_kind, due_at)
        return ladder.next_fire_at(fired_rank) if ladder else None


async def build_context(*, tz: ZoneInfo, now: dt.datetime | None = None) -> Context:
    rules = await load_rules()
    if any(d.kind not in rules for d in DEFAULT_RULES):
        await ensure_default_rules()
        rules = await load_rules()
    return Context(now=now or clock.now(), rules=rules, cal=await load_calendar(), tz=tz)


async def run_sweep(
    *, tz: ZoneInfo, providers: Mapping[str, Any] | None = None, batch: int = BATCH
) -> SweepResult:
    """One sweep: refresh from the providers, then fire every due level."""
    if providers is None:
        from backend.domains import deadline_providers

        providers = deadline_providers()
    ctx = await build_context(tz=tz)
    result = SweepResult()
    for source, provider in providers.items():
        await refresh(ctx=ctx, source=source, provider=provider, result=result, batch=batch)
    result.fired = await fire_due(ctx=ctx, batch=batch)
    return result


# ---------------------------------------------------------------------------
# Refresh


def _key(kind: str, ident: str, rule: str) -> tuple[str, str, str]:
    return (kind, ident, rule)


def _fields(item: DeadlineItem) -> dict[str, Any]:
    return {
        "due_at": item.due_at.astimezone(dt.UTC),
        "org_unit_id": item.org_unit_id,
        "officer_ids": sorted(str(o) for o in item.officer_ids),
        "user_ids": sorted(str(u) for u in item.user_ids),
        "title": item.title[:200],
        "details": dict(item.details),
    }


def _differs(row: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    changed = {}
    for name, value in fields.items():
        old = row[name]
        if name == "due_at":
            old = old.astimezone(dt.UTC)
        if name == "org_unit_id" and old is not None:
            old = uuid.UUID(str(old))
        if old != value:
            changed[name] = value
    return changed


def _db_values(fields: Mapping[str, Any]) -> dict[Any, Any]:
    """Python values of ``_fields`` as the columns store them (JSON as text)."""
    out: dict[Any, Any] = {}
    for name, value in fields.items():
        column = getattr(TrackedDeadline, name)
        out[column] = json.dumps(value, sort_keys=True) if name in _JSON_FIELDS else value
    return out


_JSON_FIELDS = {"officer_ids", "user_ids", "details"}


async def refresh(
    *, ctx: Context, source: str, provider: Any, result: SweepResult, batch: int = BATCH
) -> None:
    open_rows = (
        await TrackedDeadline.select()
        .where((TrackedDeadline.source == source) & TrackedDeadline.resolved_at.is_null())
        .output(load_json=True)
        .run()
    )
    tracked = {_key(r["target_kind"], r["target_id"], r["rule_kind"]): r for r in open_rows}
    horizon = lad.horizon(
        now=ctx.now,
        longest_warning=max((r["warning_working_days"] for r in ctx.rules.values()), default=3),
        cal=ctx.cal,
        tz=ctx.tz,
    )
    watched = sorted({r["target_id"] for r in open_rows})
    seen: set[tuple[str, str, str]] = set()
    new: list[DeadlineItem] = []
    changes: list[tuple[dict[str, Any], dict[str, Any]]] = []
    gone: list[dict[str, Any]] = []
    async for item in provider(horizon=horizon, watched=watched):
        key = _key(item.target_kind, item.target_id, item.rule_kind)
        if key in seen:
            continue
        seen.add(key)
        row = tracked.get(key)
        if item.resolved:
            if row is not None:
                gone.append(row)
        elif row is None:
            new.append(item)
        elif diff := _differs(row, _fields(item)):
            changes.append((row, diff))
    gone.extend(row for key, row in tracked.items() if key not in seen)

    for start in range(0, len(new), batch):
        async with write_tx():
            for item in new[start : start + batch]:
                result.tracked += await _track(ctx=ctx, source=source, item=item)
    for start in range(0, len(changes), batch):
        async with write_tx():
            for row, diff in changes[start : start + batch]:
                result.changed += await _change(ctx=ctx, row=row, diff=diff)
    for start in range(0, len(gone), batch):
        async with write_tx():
            for row in gone[start : start + batch]:
                result.resolved += await close_deadline(
                    deadline_id=row["id"], now=ctx.now, actor=ACTOR, reason="resolved"
                )


async def _track(*, ctx: Context, source: str, item: DeadlineItem) -> int:
    fields = _fields(item)
    deadline_id = uuid.uuid4()
    inserted = (
        await TrackedDeadline.insert(
            TrackedDeadline(
                id=deadline_id,
                source=source,
                target_kind=item.target_kind,
                target_id=item.target_id,
                rule_kind=item.rule_kind,
                fired_rank=0,
                next_fire_at=ctx.next_fire_at(item.rule_kind, fields["due_at"], 0),
                created_at=ctx.now,
                updated_at=ctx.now,
                **{c._meta.name: v for c, v in _db_values(fields).items()},
            )
        )
        .on_conflict(action="DO NOTHING")
        .returning(TrackedDeadline.id)
        .run()
    )
    if inserted:
        await audit.record(
            stream=f"deadline:{deadline_id}",
            action="deadline.tracked",
            actor=ACTOR,
            payload={
                "target": f"{item.target_kind}:{item.target_id}",
                "rule_kind": item.rule_kind,
                "due_at": fields["due_at"],
                "source": source,
            },
            org_unit_id=item.org_unit_id,
        )
        return 1
    # Tracked before and closed (or another scheduler was first): reopen a closed one.
    existing = (
        await TrackedDeadline.select()
        .where(
            (TrackedDeadline.target_kind == item.target_kind)
            & (TrackedDeadline.target_id == item.target_id)
            & (TrackedDeadline.rule_kind == item.rule_kind)
            & TrackedDeadline.resolved_at.is_not_null()
        )
        .output(load_json=True)
        .first()
        .run()
    )
    if existing is None:
        return 0
    diff = _fields(item)
    reopened = (
        await TrackedDeadline.update(
            {
                TrackedDeadline.resolved_at: None,
                TrackedDeadline.next_fire_at: ctx.next_fire_at(
                    item.rule_kind, diff["due_at"], existing["fired_rank"]
                ),
                TrackedDeadline.updated_at: ctx.now,
                **_db_values(diff),
            }
        )
        .where((TrackedDeadline.id == existing["id"]) & TrackedDeadline.resolved_at.is_not_null())
        .returning(TrackedDeadline.id)
        .run()
    )
    if reopened:
        await audit.record(
            stream=f"deadline:{existing['id']}",
            action="deadline.reopened",
            actor=ACTOR,
            payload={"due_at": diff["due_at"]},
            org_unit_id=item.org_unit_id,
        )
    return len(reopened)


async def _change(*, ctx: Context, row: Mapping[str, Any], diff: dict[str, Any]) -> int:
    due_at = diff.get("due_at", row["due_at"])
    updated = (
        await TrackedDeadline.update(
            {
                TrackedDeadline.next_fire_at: ctx.next_fire_at(
                    row["rule_kind"], due_at, row["fired_rank"]
                ),
                TrackedDeadline.updated_at: ctx.now,
                **_db_values(diff),
            }
        )
        # Only the first of several schedulers applies (and audits) a change.
        .where(
            (TrackedDeadline.id == row["id"]) & (TrackedDeadline.updated_at == row["updated_at"])
        )
        .returning(TrackedDeadline.id)
        .run()
    )
    if updated and ({"due_at", "org_unit_id"} & diff.keys()):
        await audit.record(
            stream=f"deadline:{row['id']}",
            action="deadline.changed",
            actor=ACTOR,
            payload={k: diff[k] for k in ("due_at", "org_unit_id") if k in diff},
            org_unit_id=diff.get("org_unit_id", row["org_unit_id"]),
        )
    return len(updated)


async def close_deadline(
    *, deadline_id: uuid.UUID, now: dt.datetime, actor: str, reason: str
) -> int:
    """Mark a deadline resolved and close its open escalations (inside a write transaction)."""
    closed = (
        await TrackedDeadline.update(
            {
                TrackedDeadline.resolved_at: now,
                TrackedDeadline.next_fire_at: None,
                TrackedDeadline.updated_at: now,
            }
        )
        .where((TrackedDeadline.id == deadline_id) & TrackedDeadline.resolved_at.is_null())
        .returning(TrackedDeadline.id, TrackedDeadline.org_unit_id)
        .run()
    )
    if not closed:
        return 0
    records = (
        await EscalationRecord.update(
            {
                EscalationRecord.status: "closed",
                EscalationRecord.closed_at: now,
                EscalationRecord.close_reason: reason[:200],
            }
        )
        .where((EscalationRecord.deadline_id == deadline_id) & (EscalationRecord.status == "open"))
        .returning(EscalationRecord.id)
        .run()
    )
    await audit.record(
        stream=f"deadline:{deadline_id}",
        action="deadline.resolved",
        actor=actor,
        payload={"reason": reason, "closed_escalations": sorted(str(r["id"]) for r in records)},
        org_unit_id=closed[0]["org_unit_id"],
    )
    return 1


# ---------------------------------------------------------------------------
# Fire


async def fire_due(*, ctx: Context, batch: int = BATCH) -> int:
    directory: Directory | None = None
    webhooks: list[dict[str, Any]] | None = None
    fired = 0
    # An idle sweep costs one index probe, without opening a write transaction.
    due = TrackedDeadline.exists().where(TrackedDeadline.next_fire_at <= ctx.now)
    if not await due.run():
        return 0
    while True:
        async with write_tx():
            query = (
                TrackedDeadline.select()
                .where(TrackedDeadline.next_fire_at <= ctx.now)
                .order_by(TrackedDeadline.next_fire_at)
                .limit(batch)
                .output(load_json=True)
            )
            if not is_sqlite():
                query = query.lock_rows("UPDATE", skip_locked=True)
            rows = await query.run()
            if rows and directory is None:
                directory = await load_directory()
                webhooks = (
                    await Webhook.select()
                    .where(Webhook.active == True)  # noqa: E712
                    .output(load_json=True)
                    .run()
                )
            if rows:
                assert directory is not None and webhooks is not None
                fired += await _fire_batch(
                    ctx=ctx, rows=rows, directory=directory, webhooks=webhooks
                )
        if len(rows) < batch:
            return fired


async def _fire_batch(
    *,
    ctx: Context,
    rows: list[dict[str, Any]],
    directory: Directory,
    webhooks: list[dict[str, Any]],
) -> int:
    """Fire the due level of each claimed row in a handful of statements."""
    moves: dict[tuple[int, Any], list[Any]] = {}
    planned: dict[uuid.UUID, tuple[dict[str, Any], str]] = {}
    for row in rows:
        ladder = ctx.ladder_for(row["rule_kind"], row["due_at"])
        rank = ladder.rank_due(ctx.now, row["fired_rank"]) if ladder else None
        new_rank = rank or row["fired_rank"]
        # Always move next_fire_at forward (or clear it): a claimed row never loops.
        next_at = ladder.next_fire_at(new_rank) if ladder else None
        moves.setdefault((new_rank, next_at), []).append(row["id"])
        if rank is not None:
            planned[uuid.uuid4()] = (row, lad.LEVELS[rank - 1])
    for (rank, next_at), ids in moves.items():
        await (
            TrackedDeadline.update(
                {TrackedDeadline.fired_rank: rank, TrackedDeadline.next_fire_at: next_at}
            )
            .where(TrackedDeadline.id.is_in(ids))
            .run()
        )
    if not planned:
        return 0
    inserted = (
        await EscalationRecord.insert(
            *[
                EscalationRecord(
                    id=escalation_id,
                    deadline_id=row["id"],
                    target_kind=row["target_kind"],
                    target_id=row["target_id"],
                    rule_kind=row["rule_kind"],
                    level=level,
                    due_at=row["due_at"],
                    fired_at=ctx.now,
                    org_unit_id=row["org_unit_id"],
                    status="open",
                )
                for escalation_id, (row, level) in planned.items()
            ]
        )
        .on_conflict(action="DO NOTHING")
        .returning(EscalationRecord.id)
        .run()
    )
    notifications: list[Notification] = []
    deliveries: list[WebhookDelivery] = []
    events: list[audit.PendingEvent] = []
    for fired in inserted:
        escalation_id = fired["id"]
        row, level = planned[escalation_id]
        people = _notify(ctx=ctx, row=row, level=level, directory=directory)
        title, body, payload = _message(ctx=ctx, row=row, level=level, people=people)
        payload["escalation_id"] = str(escalation_id)
        notifications.extend(
            Notification(
                id=uuid.uuid4(),
                user_id=p.user_id,
                escalation_id=escalation_id,
                level=level,
                title=title[:300],
                body=body,
                target_kind=row["target_kind"],
                target_id=row["target_id"],
                created_at=ctx.now,
            )
            for p in people
        )
        hooks = [h for h in webhooks if level in (h["levels"] or [])]
        deliveries.extend(
            WebhookDelivery(
                id=uuid.uuid4(),
                webhook_id=hook["id"],
                escalation_id=escalation_id,
                body=json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
                status="pending",
                attempts=0,
                next_attempt_at=ctx.now,
                created_at=ctx.now,
            )
            for hook in hooks
        )
        events.append(
            audit.PendingEvent(
                stream=f"deadline:{row['id']}",
                action=f"escalation.{level}",
                actor=ACTOR,
                payload={
                    "escalation_id": escalation_id,
                    "target": f"{row['target_kind']}:{row['target_id']}",
                    "rule_kind": row["rule_kind"],
                    "due_at": row["due_at"],
                    "recipients": sorted(str(p.user_id) for p in people),
                    "webhooks": len(hooks),
                },
                org_unit_id=row["org_unit_id"],
                at=ctx.now,
            )
        )
    for start in range(0, len(notifications), 500):
        await (
            Notification.insert(*notifications[start : start + 500])
            .on_conflict(action="DO NOTHING")
            .run()
        )
    for start in range(0, len(deliveries), 500):
        await (
            WebhookDelivery.insert(*deliveries[start : start + 500])
            .on_conflict(action="DO NOTHING")
            .run()
        )
    await audit.record_many(events)
    return len(inserted)


def _notify(
    *, ctx: Context, row: Mapping[str, Any], level: str, directory: Directory
) -> list[Person]:
    rule = ctx.rules[row["rule_kind"]]
    return directory.recipients(
        rule["recipients"].get(level, []),
        org_unit_id=uuid.UUID(str(row["org_unit_id"])) if row["org_unit_id"] else None,
        officer_ids=[uuid.UUID(o) for o in row["officer_ids"]],
        user_ids=[uuid.UUID(u) for u in row["user_ids"]],
    )


def _message(
    *, ctx: Context, row: Mapping[str, Any], level: str, people: list[Person]
) -> tuple[str, str, dict[str, Any]]:
    """The notification title and body, and the webhook payload."""
    rule = ctx.rules[row["rule_kind"]]
    title = f"【{LEVEL_NAMES[level]}】{rule['name']}"
    if row["title"]:
        title += f"：{row['title']}"
    due_local = row["due_at"].astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M")
    body = f"期限 {due_local}（{ctx.tz.key}）；对象 {row['target_kind']}:{row['target_id']}"
    payload = {
        "event": "escalation.fired",
        "level": level,
        "rule_kind": row["rule_kind"],
        "rule_name": rule["name"],
        "target_kind": row["target_kind"],
        "target_id": row["target_id"],
        "title": title,
        "due_at": clock.iso(row["due_at"]),
        "fired_at": clock.iso(ctx.now),
        "org_unit_id": str(row["org_unit_id"]) if row["org_unit_id"] else None,
        "recipients": [
            {
                "user_id": str(p.user_id),
                "username": p.username,
                "display_name": p.display_name,
                "phone": p.phone,
            }
            for p in people
        ],
    }
    return title, body, payload
