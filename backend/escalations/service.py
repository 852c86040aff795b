"""Escalation records, the notifications inbox, webhooks admin, and resolving targets."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

import msgspec
from piccolo.query import OrderByRaw

from backend.audit import service as audit
from backend.core import clock, scope
from backend.core.auth import Principal
from backend.core.db import current_engine, write_tx
from backend.core.errors import NotFound
from backend.core.pagination import Page, check_page
from backend.core.schemas import to_struct
from backend.escalations import schemas as s
from backend.escalations.sweep import close_deadline
from backend.escalations.tables import (
    EscalationRecord,
    Notification,
    TrackedDeadline,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)

# ---------------------------------------------------------------------------
# Resolving a target (for domains that want escalations closed at once)


async def resolve_target(
    *, target_kind: str, target_id: str, actor: str, reason: str = "resolved"
) -> int:
    """Close the tracked deadlines of a target and their open escalations.

    Call it inside the write transaction that resolves the target (case decided,
    transfer accepted...); the sweep would otherwise close them within a minute.
    """
    if current_engine().current_transaction.get() is None:
        raise RuntimeError("resolve_target must run inside write_tx()")
    rows = (
        await TrackedDeadline.select(TrackedDeadline.id)
        .where(
            (TrackedDeadline.target_kind == target_kind)
            & (TrackedDeadline.target_id == str(target_id))
            & TrackedDeadline.resolved_at.is_null()
        )
        .run()
    )
    closed = 0
    for row in rows:
        closed += await close_deadline(
            deadline_id=row["id"], now=clock.now(), actor=actor, reason=reason
        )
    return closed


# ---------------------------------------------------------------------------
# Escalation records


async def list_escalations(
    *,
    principal: Principal,
    status: str | None = None,
    target_kind: str | None = None,
    target_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[s.EscalationOut]:
    check_page(limit, offset)
    query = scope.restrict(EscalationRecord.select(), principal, EscalationRecord.org_unit_id)
    count = scope.restrict(EscalationRecord.count(), principal, EscalationRecord.org_unit_id)
    for column, value in (
        (EscalationRecord.status, status),
        (EscalationRecord.target_kind, target_kind),
        (EscalationRecord.target_id, target_id),
    ):
        if value is not None:
            query = query.where(column == value)
            count = count.where(column == value)
    rows = (
        await query.order_by(EscalationRecord.fired_at, ascending=False)
        .limit(limit)
        .offset(offset)
        .run()
    )
    return Page(
        items=[to_struct(s.EscalationOut, r) for r in rows],
        total=await count.run(),
        limit=limit,
        offset=offset,
    )


# ---------------------------------------------------------------------------
# Notifications inbox


async def list_notifications(
    *, principal: Principal, unread_only: bool = False, limit: int = 50, offset: int = 0
) -> Page[s.NotificationOut]:
    """The user's own notifications: unread first, newest first within each."""
    check_page(limit, offset)
    mine: Any = Notification.user_id == principal.user_id
    if unread_only:
        mine = mine & Notification.read_at.is_null()
    rows = (
        await Notification.select()
        .where(mine)
        .order_by(OrderByRaw("read_at IS NOT NULL"))  # unread first
        .order_by(Notification.created_at, ascending=False)
        .order_by(Notification.id)
        .limit(limit)
        .offset(offset)
        .run()
    )
    statuses = await _escalation_statuses([r["escalation_id"] for r in rows])
    items = []
    for row in rows:
        row["escalation_status"] = statuses.get(row["escalation_id"], "open")
        items.append(to_struct(s.NotificationOut, row))
    total = await Notification.count().where(mine).run()
    return Page(items=items, total=total, limit=limit, offset=offset)


async def _escalation_statuses(ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = (
        await EscalationRecord.select(EscalationRecord.id, EscalationRecord.status)
        .where(EscalationRecord.id.is_in(ids))
        .run()
    )
    return {r["id"]: r["status"] for r in rows}


async def mark_read(*, principal: Principal, notification_id: uuid.UUID) -> s.NotificationOut:
    """Mark one of the user's notifications read (idempotent); others' answer 404."""
    async with write_tx():
        row = (
            await Notification.select()
            .where(
                (Notification.id == notification_id) & (Notification.user_id == principal.user_id)
            )
            .first()
            .run()
        )
        if row is None:
            raise NotFound("notification not found", code="notification.not_found")
        if row["read_at"] is None:
            now = clock.now()
            await (
                Notification.update({Notification.read_at: now})
                .where(Notification.id == notification_id)
                .run()
            )
            await audit.record(
                stream=f"notification:{notification_id}",
                action="notification.read",
                actor=principal.actor,
                payload={"escalation_id": row["escalation_id"]},
            )
            row["read_at"] = now
    statuses = await _escalation_statuses([row["escalation_id"]])
    row["escalation_status"] = statuses.get(row["escalation_id"], "open")
    return to_struct(s.NotificationOut, row)


# ---------------------------------------------------------------------------
# Webhooks


def _webhook_out(row: dict[str, Any], *, secret: str | None = None) -> s.WebhookOut:
    levels = row["levels"]
    if isinstance(levels, str):
        levels = json.loads(levels)
    return s.WebhookOut(
        id=row["id"],
        name=row["name"],
        url=row["url"],
        levels=list(levels),
        active=row["active"],
        created_at=row["created_at"],
        secret=secret,
    )


async def create_webhook(*, principal: Principal, data: s.WebhookIn) -> s.WebhookOut:
    secret = data.secret or secrets.token_urlsafe(32)
    webhook_id = uuid.uuid4()
    row = {
        "id": webhook_id,
        "name": data.name,
        "url": data.url,
        "levels": sorted(set(data.levels)),
        "active": True,
        "created_at": clock.now(),
    }
    async with write_tx():
        await Webhook.insert(
            Webhook(
                id=webhook_id,
                name=data.name,
                url=data.url,
                levels=json.dumps(row["levels"]),
                secret=secret,
                active=True,
                created_at=row["created_at"],
            )
        ).run()
        await audit.record(
            stream=f"webhook:{webhook_id}",
            action="webhook.created",
            actor=principal.actor,
            payload={"name": data.name, "url": data.url, "levels": row["levels"]},
        )
    return _webhook_out(row, secret=secret)


async def list_webhooks() -> list[s.WebhookOut]:
    rows = await Webhook.select().order_by(Webhook.created_at).run()
    return [_webhook_out(r) for r in rows]


async def deactivate_webhook(*, principal: Principal, webhook_id: uuid.UUID) -> s.WebhookOut:
    async with write_tx():
        row = await Webhook.select().where(Webhook.id == webhook_id).first().run()
        if row is None:
            raise NotFound("webhook not found", code="webhook.not_found")
        if row["active"]:
            await Webhook.update({Webhook.active: False}).where(Webhook.id == webhook_id).run()
            await audit.record(
                stream=f"webhook:{webhook_id}",
                action="webhook.deactivated",
                actor=principal.actor,
                payload={},
            )
            row["active"] = False
    return _webhook_out(row)


async def list_deliveries(
    *, webhook_id: uuid.UUID, limit: int = 50, offset: int = 0
) -> Page[s.WebhookDeliveryOut]:
    check_page(limit, offset)
    if await Webhook.count().where(Webhook.id == webhook_id).run() == 0:
        raise NotFound("webhook not found", code="webhook.not_found")
    where = WebhookDelivery.webhook_id == webhook_id
    rows = (
        await WebhookDelivery.select()
        .where(where)
        .order_by(WebhookDelivery.created_at, ascending=False)
        .limit(limit)
        .offset(offset)
        .run()
    )
    attempts = (
        await WebhookAttempt.select()
        .where(WebhookAttempt.delivery_id.is_in([r["id"] for r in rows] or [uuid.UUID(int=0)]))
        .order_by(WebhookAttempt.attempt)
        .run()
    )
    history: dict[uuid.UUID, list[s.WebhookAttemptOut]] = {}
    for a in attempts:
        history.setdefault(a["delivery_id"], []).append(to_struct(s.WebhookAttemptOut, a))
    items = [
        msgspec.convert(
            {**r, "history": [msgspec.to_builtins(h) for h in history.get(r["id"], [])]},
            s.WebhookDeliveryOut,
            strict=False,
        )
        for r in rows
    ]
    total = await WebhookDelivery.count().where(where).run()
    return Page(items=items, total=total, limit=limit, offset=offset)
