"""The escalation jobs the scheduler runs (plain async functions)."""

from __future__ import annotations

import logging
from typing import Any

from scheduler.runner import Job

log = logging.getLogger("fieldcase.escalations")


async def sweep_deadlines(*, settings: Any, store: Any = None) -> str:
    from backend.escalations.sweep import run_sweep
    from backend.escalations.webhooks import deliver_due

    result = await run_sweep(tz=settings.timezone)
    if result.fired:
        await deliver_due()
    return str(result)


async def retry_webhooks(*, settings: Any, store: Any = None) -> str:
    from backend.escalations.webhooks import deliver_due

    return str(await deliver_due())


def jobs() -> list[Job]:
    return [
        Job(
            id="escalations.sweep",
            description="deadline sweep: warnings, overdue and escalations",
            seconds=60,
            func=sweep_deadlines,
        ),
        Job(
            id="escalations.webhooks",
            description="webhook deliveries and retries with backoff",
            seconds=30,
            func=retry_webhooks,
        ),
    ]
