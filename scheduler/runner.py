"""Job registry and the APScheduler setup (memory job store, stable ids, coalesce)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger


@dataclass(frozen=True)
class Job:
    id: str
    description: str
    seconds: int
    func: Callable[..., Awaitable[Any]]


def registered_jobs() -> list[Job]:
    """Every scheduled job; domains own the functions, this only lists them."""
    from backend.domains import collect

    jobs: list[Job] = []
    for provide in collect("jobs"):
        jobs.extend(provide())
    return jobs


def build_scheduler(*, settings: Any, store: Any) -> AsyncIOScheduler:
    sched = AsyncIOScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 120}
    )
    for job in registered_jobs():
        sched.add_job(
            job.func,
            IntervalTrigger(seconds=job.seconds),
            id=job.id,
            name=job.description,
            kwargs={"settings": settings, "store": store},
            replace_existing=True,
        )
    return sched
