"""The scheduler process: APScheduler jobs that call the domains' job functions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

StopFn = Callable[[], Awaitable[None]]


async def start_embedded(*, settings: Any, store: Any) -> StopFn:
    """Run the scheduler inside the API process (the embedded default)."""
    from scheduler.runner import build_scheduler

    sched = build_scheduler(settings=settings, store=store)
    sched.start()

    async def stop() -> None:
        sched.shutdown(wait=False)

    return stop
