"""Scheduled work of the cases domain."""

from __future__ import annotations

from typing import Any

from scheduler.runner import Job


async def recompute_provisional_deadlines(*, settings: Any, store: Any = None) -> str:
    """Recompute stored case deadlines that were provisional (the calendar may have changed)."""
    from backend.calendar.service import forget_cache
    from backend.cases.service import recompute_provisional_deadlines as recompute

    forget_cache()
    count = await recompute()
    return f"recomputed the deadlines of {count} case(s) with provisional dates"


def jobs() -> list[Job]:
    return [
        Job(
            id="cases.provisional_deadlines",
            description="recompute provisional case deadlines once the holiday schedule is known",
            seconds=3600,
            func=recompute_provisional_deadlines,
        )
    ]
