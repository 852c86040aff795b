"""Escalation rules, tracked deadlines, escalation records, notifications and webhooks."""
