"""Escalation rules (admin), escalation records, the notifications inbox, webhooks (admin)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.params import Parameter

from backend.core.auth import Principal, require_roles
from backend.core.pagination import Page
from backend.escalations import rules, service
from backend.escalations import schemas as s

ADMIN = [require_roles("admin")]


class EscalationRuleController(Controller):
    path = "/escalation-rules"
    tags = ["escalations"]

    @get("/", operation_id="listEscalationRules")
    async def list_rules(self) -> list[s.RuleOut]:
        """Every rule: when it warns and escalates, and who hears about each level."""
        return await rules.list_rules()

    @post("/", operation_id="createEscalationRule", guards=ADMIN)
    async def create(self, data: s.RuleIn, request: Request[Principal, Any, Any]) -> s.RuleOut:
        return await rules.create_rule(principal=request.user, data=data)

    @get("/{kind:str}", operation_id="getEscalationRule")
    async def get_one(self, kind: str) -> s.RuleOut:
        return await rules.get_rule(kind=kind)

    @patch("/{kind:str}", operation_id="updateEscalationRule", guards=ADMIN)
    async def update(
        self, kind: str, data: s.RulePatch, request: Request[Principal, Any, Any]
    ) -> s.RuleOut:
        """Change a rule; open deadlines of its kind follow the new numbers."""
        return await rules.update_rule(principal=request.user, kind=kind, data=data)


class EscalationController(Controller):
    path = "/escalations"
    tags = ["escalations"]

    @get("/", operation_id="listEscalations")
    async def list_escalations(
        self,
        request: Request[Principal, Any, Any],
        status: Annotated[str | None, Parameter(max_length=20)] = None,
        target_kind: Annotated[str | None, Parameter(max_length=40)] = None,
        target_id: Annotated[str | None, Parameter(max_length=64)] = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[s.EscalationOut]:
        """Fired levels in the user's org scope, newest first."""
        return await service.list_escalations(
            principal=request.user,
            status=status,
            target_kind=target_kind,
            target_id=target_id,
            limit=limit,
            offset=offset,
        )


class NotificationController(Controller):
    path = "/notifications"
    tags = ["escalations"]

    @get("/", operation_id="listNotifications")
    async def inbox(
        self,
        request: Request[Principal, Any, Any],
        unread: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[s.NotificationOut]:
        """The user's own notifications, unread first, newest first."""
        return await service.list_notifications(
            principal=request.user, unread_only=unread, limit=limit, offset=offset
        )

    @post("/{notification_id:uuid}/read", operation_id="readNotification", status_code=200)
    async def read(
        self, notification_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> s.NotificationOut:
        return await service.mark_read(principal=request.user, notification_id=notification_id)


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["escalations"]
    guards = ADMIN

    @get("/", operation_id="listWebhooks")
    async def list_webhooks(self) -> list[s.WebhookOut]:
        return await service.list_webhooks()

    @post("/", operation_id="createWebhook")
    async def create(
        self, data: s.WebhookIn, request: Request[Principal, Any, Any]
    ) -> s.WebhookOut:
        """Register a receiver; the answer carries the signing secret, once."""
        return await service.create_webhook(principal=request.user, data=data)

    @post("/{webhook_id:uuid}/deactivate", operation_id="deactivateWebhook", status_code=200)
    async def deactivate(
        self, webhook_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> s.WebhookOut:
        return await service.deactivate_webhook(principal=request.user, webhook_id=webhook_id)

    @get("/{webhook_id:uuid}/deliveries", operation_id="listWebhookDeliveries")
    async def deliveries(
        self, webhook_id: uuid.UUID, limit: int = 50, offset: int = 0
    ) -> Page[s.WebhookDeliveryOut]:
        """Deliveries with every attempt (status code, error, duration)."""
        return await service.list_deliveries(webhook_id=webhook_id, limit=limit, offset=offset)


CONTROLLERS = [
    EscalationRuleController,
    EscalationController,
    NotificationController,
    WebhookController,
]
