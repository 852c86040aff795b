"""Escalation rules as data: seeded from RULES.md, changed by admins through the API."""

from __future__ import annotations

import json
import uuid
from typing import Any

import msgspec

from backend.audit import service as audit
from backend.core import clock
from backend.core.auth import Principal
from backend.core.db import write_tx
from backend.core.errors import Conflict, NotFound
from backend.core.schemas import to_struct
from backend.escalations import schemas as s
from backend.escalations.defaults import DEFAULT_RECIPIENTS, DEFAULT_RULES
from backend.escalations.tables import EscalationRule, TrackedDeadline


async def _insert_rule(
    *,
    kind: str,
    name: str,
    target_kind: str,
    warning_working_days: int,
    escalate_working_days: int,
    recipients: Any,
    active: bool,
) -> uuid.UUID | None:
    """Insert a rule unless its kind exists; its id, or None (inside a write transaction)."""
    rule_id = uuid.uuid4()
    now = clock.now()
    inserted = (
        await EscalationRule.insert(
            EscalationRule(
                id=rule_id,
                kind=kind,
                name=name,
                target_kind=target_kind,
                warning_working_days=warning_working_days,
                escalate_working_days=escalate_working_days,
                recipients=json.dumps(recipients),
                active=active,
                created_at=now,
                updated_at=now,
            )
        )
        .on_conflict(action="DO NOTHING")
        .returning(EscalationRule.id)
        .run()
    )
    return rule_id if inserted else None


async def ensure_default_rules() -> int:
    """Insert the default rules that are missing (idempotent, safe with several processes)."""
    existing = {r["kind"] for r in await EscalationRule.select(EscalationRule.kind).run()}
    added = 0
    missing = [d for d in DEFAULT_RULES if d.kind not in existing]
    if missing:
        async with write_tx():
            for default in missing:
                rule_id = await _insert_rule(
                    kind=default.kind,
                    name=default.name,
                    target_kind=default.target_kind,
                    warning_working_days=default.warning_working_days,
                    escalate_working_days=default.escalate_working_days,
                    recipients=default.recipients,
                    active=True,
                )
                if rule_id is not None:
                    added += 1
                    await audit.record(
                        stream=f"escalation_rule:{rule_id}",
                        action="escalation_rule.seeded",
                        actor="system:escalations",
                        payload={"kind": default.kind, "name": default.name},
                    )
    return added


async def load_rules() -> dict[str, dict[str, Any]]:
    rows = await EscalationRule.select().output(load_json=True).run()
    return {r["kind"]: r for r in rows}


async def list_rules() -> list[s.RuleOut]:
    await ensure_default_rules()
    rows = await EscalationRule.select().order_by(EscalationRule.kind).output(load_json=True).run()
    return [to_struct(s.RuleOut, r) for r in rows]


async def create_rule(*, principal: Principal, data: s.RuleIn) -> s.RuleOut:
    await ensure_default_rules()
    recipients = msgspec.to_builtins(data.recipients) if data.recipients else DEFAULT_RECIPIENTS
    async with write_tx():
        rule_id = await _insert_rule(
            kind=data.kind,
            name=data.name,
            target_kind=data.target_kind,
            warning_working_days=data.warning_working_days,
            escalate_working_days=data.escalate_working_days,
            recipients=recipients,
            active=data.active,
        )
        if rule_id is None:
            raise Conflict(f"a rule of kind {data.kind} exists", code="escalation_rule.exists")
        await audit.record(
            stream=f"escalation_rule:{rule_id}",
            action="escalation_rule.created",
            actor=principal.actor,
            payload=msgspec.to_builtins(data),
        )
    return await get_rule(kind=data.kind)


async def get_rule(*, kind: str) -> s.RuleOut:
    await ensure_default_rules()
    row = (
        await EscalationRule.select()
        .where(EscalationRule.kind == kind)
        .output(load_json=True)
        .first()
        .run()
    )
    if row is None:
        raise NotFound(f"no escalation rule {kind}", code="escalation_rule.not_found")
    return to_struct(s.RuleOut, row)


async def update_rule(*, principal: Principal, kind: str, data: s.RulePatch) -> s.RuleOut:
    """Change a rule; open deadlines of its kind get their next firing time recomputed."""
    from backend.calendar.service import load_calendar
    from backend.escalations.ladder import ladder
    from backend.settings import get_settings

    current = await get_rule(kind=kind)
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if not changes:
        return current
    stored: dict[Any, Any] = {}
    for name, value in changes.items():
        column = getattr(EscalationRule, name)
        stored[column] = json.dumps(msgspec.to_builtins(value)) if name == "recipients" else value
    now = clock.now()
    stored[EscalationRule.updated_at] = now
    merged = msgspec.structs.replace(
        current,
        **{k: msgspec.to_builtins(v) if k == "recipients" else v for k, v in changes.items()},
    )
    cal = await load_calendar()
    tz = get_settings().timezone
    async with write_tx():
        await EscalationRule.update(stored).where(EscalationRule.kind == kind).run()
        open_rows = (
            await TrackedDeadline.select(
                TrackedDeadline.id, TrackedDeadline.due_at, TrackedDeadline.fired_rank
            )
            .where((TrackedDeadline.rule_kind == kind) & TrackedDeadline.resolved_at.is_null())
            .run()
        )
        for row in open_rows:
            next_at = None
            if merged.active:
                next_at = ladder(
                    due_at=row["due_at"],
                    warning_working_days=merged.warning_working_days,
                    escalate_working_days=merged.escalate_working_days,
                    cal=cal,
                    tz=tz,
                ).next_fire_at(row["fired_rank"])
            await (
                TrackedDeadline.update({TrackedDeadline.next_fire_at: next_at})
                .where(TrackedDeadline.id == row["id"])
                .run()
            )
        await audit.record(
            stream=f"escalation_rule:{current.id}",
            action="escalation_rule.updated",
            actor=principal.actor,
            payload={k: msgspec.to_builtins(v) for k, v in changes.items()},
        )
    return await get_rule(kind=kind)
