"""The deadline provider contract: how a domain tells the escalation sweep what is due.

A domain that owns time limits (cases, inspections, evidence...) sets
``Domain(deadlines="backend.x.deadlines:provide")`` in its ``domain.py``. The
escalation sweep (``backend.escalations``) calls every provider about once a
minute like this::

    async def provide(*, horizon: datetime, watched: Sequence[str]) -> AsyncIterator[DeadlineItem]:
        ...

and the provider yields a ``DeadlineItem`` for

1. every *open* (unresolved) item whose ``due_at`` is at or before ``horizon``
   (the sweep passes ``now`` plus the longest warning lead time, so an item is
   seen before its warning fires), and
2. every target whose ``target_id`` is in ``watched`` (the sweep is already
   tracking it), whatever its due moment, with ``resolved=True`` once it is done
   (case decided, transfer accepted, results published...). A watched id the
   provider does not yield at all counts as resolved (e.g. the row is gone).

``watched`` holds only ids this same provider yielded before and whose
escalation tracking is still open; treat it as a filter ``... OR id IN watched``
(``watched_ids`` turns it into UUIDs).

Providers only read: they run outside any write transaction, must be cheap
(an indexed ``due <= horizon`` query) and should not read the clock to decide
what is due (the sweep decides what "now" is and passes ``horizon``). Calendar
rules (working days, clock stops, extensions) are the provider's job:
``due_at`` is the final moment. Yielding the same item on every call is
expected; the sweep only acts on changes.
For a deadline that is a *day* (``15 WD`` → a date), use ``end_of_day`` so the
item becomes overdue when that day is over in ``FIELDCASE_TIMEZONE``.

``rule_kind`` names an escalation rule (``RULE_KINDS`` below, seeded from
RULES.md; the rule says when the warning and the escalation fire and who hears
about them). Notification recipients are the assignees (users, or officers
mapped to their user accounts), then the squad leaders, heads and the county
command centre of ``org_unit_id`` depending on the level.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

# The target kinds and rule kinds seeded from RULES.md (a provider may use others
# if an admin adds a rule with that kind through the escalation rules API).
RULE_KINDS: dict[str, str] = {
    "lead.filing_decision": "decide whether to open a case (立案) within 15 WD of the lead",
    "case.decision": "decision within 90 days of filing (clock stops, extensions)",
    "case.service": "serve the decision within 7 days",
    "case.publication": "publish the penalty decision within 7 WD",
    "inspection.result_publication": "publish random-inspection results within 20 WD",
    "inspection.task_due": "inspection task due date",
    "transfer.acceptance": "receiving unit accepts or rejects a transfer within 3 WD",
    "legal_review.decision": "legal review (法制审核) within 7 WD",
    "police_transfer.approval": "head approves a police transfer within 3 days",
    "police_transfer.handover": "hand the case over to the police within 24 h",
    "evidence.sealing": "evidence stuck in `uploaded` (not sealed)",
}


@dataclass(frozen=True)
class DeadlineItem:
    """One time limit on one target, as its owning domain sees it now."""

    target_kind: str  # "case", "lead", "transfer", "inspection_task", "evidence"...
    target_id: str  # the target's id as text (a UUID usually)
    rule_kind: str  # a key of RULE_KINDS (or an admin-added rule kind)
    due_at: dt.datetime  # aware; the moment the item becomes overdue
    org_unit_id: uuid.UUID | None = None  # whose squad leaders / heads hear about it
    officer_ids: tuple[uuid.UUID, ...] = ()  # assigned officers (mapped to their users)
    user_ids: tuple[uuid.UUID, ...] = ()  # assigned users, if assignment is by user
    resolved: bool = False
    title: str = ""  # short human text for the notification, e.g. the case number
    # Free-form details shown with the notification (JSON types only).
    details: dict[str, object] = field(default_factory=dict)


Provider = Callable[..., AsyncIterator[DeadlineItem]]


def end_of_day(day: dt.date, tz: ZoneInfo | str) -> dt.datetime:
    """The first moment after ``day`` in ``tz`` (a deadline "within N days" ends here), UTC."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    start_next = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start_next.astimezone(dt.UTC)


def watched_ids(watched: Sequence[str]) -> list[uuid.UUID]:
    """``watched`` as UUIDs (ids that are not UUIDs are skipped), for ``.is_in(...)`` filters."""
    out = []
    for text in watched:
        try:
            out.append(uuid.UUID(text))
        except ValueError:
            continue
    return out
