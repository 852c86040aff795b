"""``fieldcase scheduler`` (the scheduler process), ``scheduler list``, ``scheduler run JOB``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "scheduler",
        help="run the scheduler process (deadline sweeps, anchoring...), or list/run its jobs",
    )
    parser.set_defaults(func=cmd_scheduler)
    jobs = parser.add_subparsers(dest="scheduler_command")
    listing = jobs.add_parser("list", help="print every job, its interval and next run")
    listing.set_defaults(func=cmd_list)
    run = jobs.add_parser("run", help="run one job once and exit")
    run.add_argument("job", help="job id, e.g. escalations.sweep")
    run.set_defaults(func=cmd_run)


def cmd_list(args: argparse.Namespace, settings: Any) -> int:
    from backend.core import clock
    from scheduler.runner import next_runs

    now = clock.now()
    for job, when in next_runs(now):
        every = int((when - now).total_seconds())
        print(f"{job.id:28} every {every:>6}s  next {clock.iso(when)}  {job.description}")
    return 0


def cmd_run(args: argparse.Namespace, settings: Any) -> int:
    from backend.cli import CommandError, _with_db
    from scheduler.runner import find_job
    from storage import open_store

    try:
        job = find_job(args.job)
    except KeyError as exc:
        raise CommandError(str(exc.args[0])) from exc
    store = open_store(settings)

    async def work() -> Any:
        return await job.func(settings=settings, store=store)

    outcome = asyncio.run(_with_db(settings, work))
    print(f"{job.id}: {outcome if outcome is not None else 'done'}")
    return 0


def cmd_scheduler(args: argparse.Namespace, settings: Any) -> int:
    from storage import open_store

    logging.getLogger("fieldcase").setLevel(settings.log_level.upper())
    store = open_store(settings)
    asyncio.run(serve(settings=settings, store=store))
    return 0


async def serve(*, settings: Any, store: Any) -> None:
    """Run every job on its interval until SIGTERM or SIGINT."""
    from backend.core.db import bind_engine, build_engine, close_pool, start_pool
    from scheduler.runner import build_scheduler

    engine = build_engine(settings.database)
    bind_engine(engine)
    await start_pool(engine, max_size=4)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sched = build_scheduler(settings=settings, store=store)
    sched.start()
    print(f"Fieldcase scheduler running {len(sched.get_jobs())} jobs", file=sys.stderr, flush=True)
    try:
        await stop.wait()
    finally:
        sched.shutdown(wait=False)
        await close_pool(engine)
