"""When each escalation level of a deadline fires (pure functions over the calendar).

For a deadline due at ``due_at`` (the moment it becomes overdue) whose last day
is ``due_day`` in the bureau's time zone:

- ``warning`` fires at the start of the working day that is ``warning_working_days``
  working days before ``due_day`` (0: the start of ``due_day`` itself);
- ``overdue`` fires at ``due_at``;
- ``escalated`` fires once ``escalate_working_days`` more working days have passed
  after ``due_day`` (at the end of the last of them).

A sweep that finds several levels due at once (the deadline was first seen late)
fires only the highest: a warning about something already escalated is noise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from backend.calendar.service import WorkCalendar
from backend.core.deadlines import end_of_day

LEVELS: tuple[str, ...] = ("warning", "overdue", "escalated")  # rank = index + 1


def rank_of(level: str) -> int:
    return LEVELS.index(level) + 1


@dataclass(frozen=True)
class Ladder:
    warning_at: dt.datetime
    overdue_at: dt.datetime
    escalated_at: dt.datetime

    def at(self, rank: int) -> dt.datetime:
        return (self.warning_at, self.overdue_at, self.escalated_at)[rank - 1]

    def next_fire_at(self, fired_rank: int) -> dt.datetime | None:
        """When the level after ``fired_rank`` fires; None once escalated."""
        return self.at(fired_rank + 1) if fired_rank < len(LEVELS) else None

    def rank_due(self, now: dt.datetime, fired_rank: int) -> int | None:
        """The highest level due at ``now`` that has not fired yet, if any."""
        due = [r for r in range(fired_rank + 1, len(LEVELS) + 1) if self.at(r) <= now]
        return max(due) if due else None


def ladder(
    *,
    due_at: dt.datetime,
    warning_working_days: int,
    escalate_working_days: int,
    cal: WorkCalendar,
    tz: ZoneInfo,
) -> Ladder:
    due_day = (due_at - dt.timedelta(microseconds=1)).astimezone(tz).date()
    warn_day = cal.subtract_working_days(due_day, warning_working_days)
    warning_at = dt.datetime.combine(warn_day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)
    escalated_at = end_of_day(cal.add_working_days(due_day, escalate_working_days), tz)
    return Ladder(
        warning_at=min(warning_at, due_at),
        overdue_at=due_at,
        escalated_at=max(escalated_at, due_at),
    )


def horizon(
    *, now: dt.datetime, longest_warning: int, cal: WorkCalendar, tz: ZoneInfo
) -> dt.datetime:
    """The latest due moment whose warning could fire before the next day starts."""
    today = now.astimezone(tz).date()
    return end_of_day(cal.add_working_days(today, longest_warning + 1), tz)
