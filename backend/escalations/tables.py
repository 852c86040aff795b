"""Escalation rules, tracked deadlines, escalation records, notifications and webhooks."""

from piccolo.columns import (
    JSON,
    UUID,
    BigSerial,
    Boolean,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class EscalationRule(Table, tablename="escalation_rule"):
    """When a kind of deadline warns and escalates, and who hears about each level."""

    id = UUID(primary_key=True)
    kind = Varchar(length=80, unique=True)
    name = Varchar(length=200)
    target_kind = Varchar(length=40)
    warning_working_days = Integer(default=3)
    escalate_working_days = Integer(default=2)
    # {"warning": ["assignees"], "overdue": [...], "escalated": [...]}
    recipients = JSON()
    active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class TrackedDeadline(Table, tablename="escalation_deadline"):
    """A provider's deadline as last seen; (target_kind, target_id, rule_kind) is unique."""

    id = UUID(primary_key=True)
    source = Varchar(length=60, index=True)
    target_kind = Varchar(length=40)
    target_id = Varchar(length=64)
    rule_kind = Varchar(length=80)
    due_at = Timestamptz()
    org_unit_id = UUID(null=True, default=None)
    officer_ids = JSON(default="[]")
    user_ids = JSON(default="[]")
    title = Varchar(length=200, default="")
    details = JSON(default="{}")
    # 0 none, 1 warning, 2 overdue, 3 escalated: the highest level fired so far.
    fired_rank = Integer(default=0)
    # When the next level fires; NULL once resolved, fully escalated or the rule is off.
    next_fire_at = Timestamptz(null=True, default=None, index=True)
    resolved_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class EscalationRecord(Table, tablename="escalation_record"):
    """One level fired for one deadline; (target_kind, target_id, rule_kind, level) is unique."""

    id = UUID(primary_key=True)
    deadline_id = UUID(index=True)
    target_kind = Varchar(length=40)
    target_id = Varchar(length=64)
    rule_kind = Varchar(length=80)
    level = Varchar(length=20)
    due_at = Timestamptz()
    fired_at = Timestamptz()
    org_unit_id = UUID(null=True, default=None, index=True)
    status = Varchar(length=20, default="open")
    closed_at = Timestamptz(null=True, default=None)
    close_reason = Varchar(length=200, default="")


class Notification(Table, tablename="notification"):
    """One user's copy of an escalation; (escalation_id, user_id) is unique."""

    id = UUID(primary_key=True)
    user_id = UUID(index=True)
    escalation_id = UUID(index=True)
    level = Varchar(length=20)
    title = Varchar(length=300)
    body = Text(default="")
    target_kind = Varchar(length=40)
    target_id = Varchar(length=64)
    created_at = Timestamptz()
    read_at = Timestamptz(null=True, default=None)


class Webhook(Table, tablename="webhook"):
    """An outside receiver (SMS or messaging gateway) of fired escalations."""

    id = UUID(primary_key=True)
    name = Varchar(length=100)
    url = Varchar(length=500)
    secret = Varchar(length=200)
    levels = JSON(default='["warning", "overdue", "escalated"]')
    active = Boolean(default=True)
    created_at = Timestamptz()


class WebhookDelivery(Table, tablename="webhook_delivery"):
    """One escalation to send to one webhook; (webhook_id, escalation_id) is unique."""

    id = UUID(primary_key=True)
    webhook_id = UUID(index=True)
    escalation_id = UUID()
    body = Text()
    status = Varchar(length=20, default="pending")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None, index=True)
    # A sender holds the delivery until then, so two schedulers never post it at once.
    leased_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None)


class WebhookAttempt(Table, tablename="webhook_attempt"):
    """Every HTTP attempt of a delivery, successful or not."""

    id = BigSerial(primary_key=True)
    delivery_id = UUID(index=True)
    attempt = Integer()
    at = Timestamptz()
    status_code = Integer(null=True, default=None)
    error = Varchar(length=500, default="")
    duration_ms = Integer(default=0)
