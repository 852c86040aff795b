"""API bodies of escalation rules, escalation records, notifications and webhooks."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from backend.core.schemas import Input, Output

Level = Literal["warning", "overdue", "escalated"]
RecipientGroup = Literal["assignees", "squad_leader", "head", "command_centre"]
WorkingDays = Annotated[int, msgspec.Meta(ge=0, le=60)]


class Recipients(Input):
    warning: list[RecipientGroup]
    overdue: list[RecipientGroup]
    escalated: list[RecipientGroup]


class RuleIn(Input):
    kind: Annotated[str, msgspec.Meta(min_length=3, max_length=80, pattern=r"^[a-z_]+\.[a-z_.]+$")]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    target_kind: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    warning_working_days: WorkingDays = 3
    escalate_working_days: WorkingDays = 2
    recipients: Recipients | None = None
    active: bool = True


class RulePatch(Input):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    warning_working_days: WorkingDays | msgspec.UnsetType = msgspec.UNSET
    escalate_working_days: WorkingDays | msgspec.UnsetType = msgspec.UNSET
    recipients: Recipients | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


class RuleOut(Output):
    id: uuid.UUID
    kind: str
    name: str
    target_kind: str
    warning_working_days: int
    escalate_working_days: int
    recipients: dict[str, list[str]]
    active: bool
    updated_at: dt.datetime


class EscalationOut(Output):
    id: uuid.UUID
    target_kind: str
    target_id: str
    rule_kind: str
    level: str
    due_at: dt.datetime
    fired_at: dt.datetime
    org_unit_id: uuid.UUID | None
    status: str
    closed_at: dt.datetime | None
    close_reason: str


class NotificationOut(Output):
    id: uuid.UUID
    escalation_id: uuid.UUID
    level: str
    title: str
    body: str
    target_kind: str
    target_id: str
    created_at: dt.datetime
    read_at: dt.datetime | None
    escalation_status: str


class WebhookIn(Input):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    url: Annotated[str, msgspec.Meta(min_length=8, max_length=500, pattern=r"^https?://")]
    secret: Annotated[str, msgspec.Meta(min_length=16, max_length=200)] | None = None
    levels: list[Level] = msgspec.field(default_factory=lambda: ["warning", "overdue", "escalated"])


class WebhookOut(Output):
    id: uuid.UUID
    name: str
    url: str
    levels: list[str]
    active: bool
    created_at: dt.datetime
    # Only in the answer to the creation: the receiver checks signatures with it.
    secret: str | None = None


class WebhookAttemptOut(Output):
    attempt: int
    at: dt.datetime
    status_code: int | None
    error: str
    duration_ms: int


class WebhookDeliveryOut(Output):
    id: uuid.UUID
    webhook_id: uuid.UUID
    escalation_id: uuid.UUID
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    history: list[WebhookAttemptOut]
