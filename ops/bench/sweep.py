"""Deadline sweep on PostgreSQL: 1,000,000 open deadlines, 1 % due.

Prints the first sweep (fires the 10,000 due levels: records, audit events), the idle
sweep right after (nothing due), and the idle sweep's ratio to ``SELECT count(*)`` of
the due rows on the same table (target ≤ 2×). Then two scheduler processes sweep a
fresh batch of 10,000 due deadlines at once and the bench checks that exactly one record
exists per (target, rule, level).

Environment: ``BENCH_SWEEP_TOTAL`` (default 1000000), ``BENCH_SWEEP_DUE_PERCENT`` (1).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo


async def seed_deadlines(*, total: int, due: int, prefix: str = "bench") -> None:
    """``total`` open deadlines of rule ``case.decision``; ``due`` of them overdue now."""
    from backend.escalations.tables import TrackedDeadline

    if not prefix.isidentifier():
        raise ValueError("prefix must be a plain word")
    await TrackedDeadline.raw(
        "INSERT INTO escalation_deadline (id, source, target_kind, target_id, rule_kind, due_at,"
        " org_unit_id, officer_ids, user_ids, title, details, fired_rank, next_fire_at,"
        " resolved_at, created_at, updated_at)"
        f" SELECT gen_random_uuid(), 'bench', 'case', '{prefix}-' || g::text, 'case.decision',"
        f" CASE WHEN g <= {int(due)} THEN now() - interval '1 hour'"
        " ELSE now() + interval '60 days' END,"
        " NULL, '[]', '[]', '', (chr(123) || chr(125))::json, 0,"
        f" CASE WHEN g <= {int(due)} THEN now() - interval '1 hour'"
        " ELSE now() + interval '50 days' END,"
        f" NULL, now(), now() FROM generate_series(1, {int(total)}) g"
    ).run()
    await TrackedDeadline.raw("ANALYZE escalation_deadline").run()


def fieldcase_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["FIELDCASE_DATABASE_URL"] = url
    return env


async def timed(work: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = await work()
    return time.perf_counter() - started, value


async def run(url: str, total: int, due: int) -> None:
    from backend.core.db import bind_engine, build_engine, close_pool, migrate, start_pool
    from backend.escalations.sweep import run_sweep
    from backend.escalations.tables import EscalationRecord, TrackedDeadline
    from backend.settings import DatabaseUrl, parse_database_url

    dburl: DatabaseUrl = parse_database_url(url, base=Path.cwd())
    engine = build_engine(dburl)
    await migrate(engine)
    bind_engine(engine)
    await start_pool(engine, max_size=4)
    tz = ZoneInfo("Asia/Shanghai")
    try:
        seed_s, _ = await timed(lambda: seed_deadlines(total=total, due=due))
        print(f"seeded {total:,} open deadlines ({due:,} due) in {seed_s:.1f} s")
        first_s, first = await timed(lambda: run_sweep(tz=tz, providers={}))
        print(f"first sweep: {first_s:.2f} s ({first.fired:,} levels fired)")
        idle = []
        for _ in range(5):
            seconds, result = await timed(lambda: run_sweep(tz=tz, providers={}))
            assert result.fired == 0
            idle.append(seconds)
        count_sql = "SELECT count(*) FROM escalation_deadline WHERE due_at <= now()"

        async def median_count() -> float:
            spent = []
            for _ in range(5):
                seconds, _ = await timed(lambda: TrackedDeadline.raw(count_sql).run())
                spent.append(seconds)
            return statistics.median(spent)

        idle_s = statistics.median(idle)
        count_s = await median_count()
        # The app never queries by due_at; an index makes the baseline as fast as it can be.
        await TrackedDeadline.raw(
            "CREATE INDEX IF NOT EXISTS bench_due_at ON escalation_deadline (due_at)"
        ).run()
        await TrackedDeadline.raw("ANALYZE escalation_deadline").run()
        indexed_s = await median_count()
        print(f"idle sweep: {idle_s * 1000:.1f} ms (median of 5)")
        print(f"SELECT count(*) of the due rows: {count_s * 1000:.1f} ms (no index on due_at)")
        print(f"  the same with an index on due_at: {indexed_s * 1000:.1f} ms")
        print(
            f"ratio idle sweep / count: {idle_s / count_s:.2f}x, / indexed count: "
            f"{idle_s / indexed_s:.2f}x (target <= 2x)"
        )

        # Two scheduler processes against one database, 10,000 fresh due deadlines.
        await seed_deadlines(total=due, due=due, prefix="race")
        procs = [
            await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "fieldcase"),
                "scheduler",
                "run",
                "escalations.sweep",
                env=fieldcase_env(url),
                stdout=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outs = [(await p.communicate())[0].decode().strip() for p in procs]
        rows = await EscalationRecord.raw(
            "SELECT count(*) AS n, count(DISTINCT (target_id, rule_kind, level)) AS d"
            " FROM escalation_record WHERE target_id LIKE 'race-%'"
        ).run()
        print(f"two schedulers: {outs}")
        print(f"records {rows[0]['n']:,}, distinct (target, rule, level) {rows[0]['d']:,}")
        assert rows[0]["n"] == rows[0]["d"] == due
    finally:
        await close_pool(engine)


def main() -> None:
    total = int(os.environ.get("BENCH_SWEEP_TOTAL", "1000000"))
    due = total * int(os.environ.get("BENCH_SWEEP_DUE_PERCENT", "1")) // 100
    url = os.environ.get("BENCH_PG_URL")
    if url:
        asyncio.run(run(url, total, due))
        return
    from tests.conftest import start_pg_cluster, stop_pg_cluster

    base = Path(tempfile.mkdtemp(prefix="fieldcase-bench-pg-"))
    cluster = start_pg_cluster(base)
    try:
        cluster.psql("CREATE DATABASE bench")
        asyncio.run(run(cluster.url_text("bench"), total, due))
    finally:
        stop_pg_cluster(cluster)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
