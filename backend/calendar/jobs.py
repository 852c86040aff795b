"""The daily calendar data check."""

from __future__ import annotations

import logging
from typing import Any

from scheduler.runner import Job

log = logging.getLogger("fieldcase.calendar")


async def check_calendar_data(*, settings: Any, store: Any = None) -> str:
    """Warn (in the log and the job's outcome) when next year's holidays are not known."""
    from backend.calendar.service import coverage_warning, forget_cache
    from backend.core import clock

    forget_cache()  # the check reads what is imported now, not a cached snapshot
    warning = await coverage_warning(clock.today(settings.timezone))
    if warning:
        log.warning("calendar data check: %s", warning)
        return f"WARNING: {warning}"
    return "calendar data complete"


def jobs() -> list[Job]:
    return [
        Job(
            id="calendar.check",
            description="daily check that next year's holiday schedule is known",
            seconds=86400,
            func=check_calendar_data,
        )
    ]
