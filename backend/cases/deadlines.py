"""The cases domain's deadline provider for the escalation sweep (``backend.core.deadlines``).

Leads: the decision to file a case or not (``lead.filing_decision``), due at the end of
``decision_due``; resolved once the lead is filed or not filed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence

from backend.cases.tables import Lead
from backend.core.deadlines import DeadlineItem, end_of_day, watched_ids
from backend.settings import get_settings


def last_day_within(horizon: dt.datetime, tz: dt.tzinfo) -> dt.date:
    """The day ``horizon`` ends (or falls in: tracking a day early is harmless)."""
    return (horizon - dt.timedelta(microseconds=1)).astimezone(tz).date()


async def provide(*, horizon: dt.datetime, watched: Sequence[str]) -> AsyncIterator[DeadlineItem]:
    tz = get_settings().timezone
    due_soon = (Lead.status == "open") & (Lead.decision_due <= last_day_within(horizon, tz))
    ids = watched_ids(watched)
    condition = due_soon | Lead.id.is_in(ids) if ids else due_soon
    rows = (
        await Lead.select(
            Lead.id, Lead.number, Lead.status, Lead.decision_due, Lead.org_unit, Lead.subject_name
        )
        .where(condition)
        .run()
    )
    for row in rows:
        yield DeadlineItem(
            target_kind="lead",
            target_id=str(row["id"]),
            rule_kind="lead.filing_decision",
            due_at=end_of_day(row["decision_due"], tz),
            org_unit_id=row["org_unit"],
            resolved=row["status"] != "open",
            title=f"线索 {row['number']} {row['subject_name']}".strip(),
        )
