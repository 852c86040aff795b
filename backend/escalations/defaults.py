"""The escalation rules seeded from RULES.md; admins change them through the rules API."""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.core.deadlines import RULE_KINDS

RECIPIENT_GROUPS = ("assignees", "squad_leader", "head", "command_centre")

# The ladder: assigned officers → squad leader → head → county command centre.
DEFAULT_RECIPIENTS: dict[str, list[str]] = {
    "warning": ["assignees"],
    "overdue": ["assignees", "squad_leader"],
    "escalated": ["assignees", "squad_leader", "head", "command_centre"],
}


@dataclass(frozen=True)
class DefaultRule:
    kind: str
    target_kind: str
    warning_working_days: int = 3
    escalate_working_days: int = 2
    recipients: dict[str, list[str]] = field(default_factory=lambda: dict(DEFAULT_RECIPIENTS))

    @property
    def name(self) -> str:
        return RULE_KINDS[self.kind]


# Short limits (3 WD, 3 days, 24 h) warn one working day ahead, or on the day itself:
# a warning three working days before a three-day limit would fire when it starts.
DEFAULT_RULES: tuple[DefaultRule, ...] = (
    DefaultRule("lead.filing_decision", "lead"),
    DefaultRule("case.decision", "case"),
    DefaultRule("case.service", "case", warning_working_days=2),
    DefaultRule("case.publication", "case"),
    DefaultRule("inspection.result_publication", "inspection_task"),
    DefaultRule("inspection.task_due", "inspection_task"),
    DefaultRule("transfer.acceptance", "transfer", warning_working_days=1),
    DefaultRule("legal_review.decision", "legal_review"),
    DefaultRule("police_transfer.approval", "police_transfer", warning_working_days=1),
    DefaultRule(
        "police_transfer.handover",
        "police_transfer",
        warning_working_days=0,
        escalate_working_days=1,
    ),
    DefaultRule("evidence.sealing", "evidence", warning_working_days=0, escalate_working_days=1),
)
