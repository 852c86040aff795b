"""Job registry and the APScheduler setup (memory job store, stable ids, coalesce).

Jobs are rebuilt from the domains' ``jobs`` hooks at every start, so the memory job
store loses nothing that matters. Every job is safe to run in several scheduler
processes at once: the domains claim their rows with ``FOR UPDATE SKIP LOCKED`` and
unique keys, so this module only triggers work.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger("fieldcase.scheduler")

MISFIRE_GRACE_S = 120


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
    ids = [j.id for j in jobs]
    if len(ids) != len(set(ids)):
        raise ValueError(f"duplicate job ids: {sorted(ids)}")
    return jobs


def find_job(job_id: str) -> Job:
    for job in registered_jobs():
        if job.id == job_id:
            return job
    known = ", ".join(j.id for j in registered_jobs())
    raise KeyError(f"no job {job_id!r} (known: {known})")


async def run_job(job: Job, *, settings: Any, store: Any) -> Any:
    """Run one job once, logging its outcome; errors are logged, not raised (for the loop)."""
    started = time.monotonic()
    try:
        outcome = await job.func(settings=settings, store=store)
    except Exception:
        log.exception("job %s failed after %.1fs", job.id, time.monotonic() - started)
        return None
    log.info("job %s done in %.1fs: %s", job.id, time.monotonic() - started, outcome)
    return outcome


def interval_overrides(text: str | None = None) -> dict[str, int]:
    """``FIELDCASE_JOB_INTERVALS="escalations.sweep=5,audit.anchor=30"``: seconds per job id."""
    text = os.environ.get("FIELDCASE_JOB_INTERVALS", "") if text is None else text
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        job_id, sep, seconds = part.partition("=")
        if not sep or not seconds.strip().isdigit() or int(seconds) < 1:
            raise ValueError(f"FIELDCASE_JOB_INTERVALS: expected job=seconds, got {part!r}")
        out[job_id.strip()] = int(seconds)
    return out


def build_scheduler(*, settings: Any, store: Any) -> AsyncIOScheduler:
    # APScheduler logs every run at INFO; our runner logs one line per job already.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    sched = AsyncIOScheduler(
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_S,
        },
        timezone=dt.UTC,
    )
    overrides = interval_overrides()
    for job in registered_jobs():
        sched.add_job(
            run_job,
            IntervalTrigger(seconds=overrides.get(job.id, job.seconds), timezone=dt.UTC),
            args=[job],
            id=job.id,
            name=job.description,
            kwargs={"settings": settings, "store": store},
            replace_existing=True,
        )
    return sched


def next_runs(now: dt.datetime) -> list[tuple[Job, dt.datetime]]:
    """Each job with its next run if a scheduler started ``now``."""
    overrides = interval_overrides()
    return [
        (job, now + dt.timedelta(seconds=overrides.get(job.id, job.seconds)))
        for job in registered_jobs()
    ]
