"""Two scheduler processes sweep one PostgreSQL database: one record per (target, rule, level)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from backend.core.db import bind_engine, build_engine, close_pool, start_pool
from ops.bench.sweep import seed_deadlines
from tests.conftest import PgCluster

FIELDCASE = str(Path(sys.executable).parent / "fieldcase")


@pytest.mark.e2e
def test_two_scheduler_processes_fire_each_due_level_once(
    pg_cluster: PgCluster, pg_template: str, tmp_path: Path
) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_cluster.psql(f"CREATE DATABASE {name} TEMPLATE {pg_template}")

    async def seed() -> None:
        engine = build_engine(pg_cluster.url(name))
        bind_engine(engine)
        await start_pool(engine, max_size=2)
        try:
            await seed_deadlines(total=600, due=600, prefix="race")
        finally:
            await close_pool(engine)

    try:
        asyncio.run(seed())
        env = dict(os.environ)
        env["FIELDCASE_DATABASE_URL"] = pg_cluster.url_text(name)
        env["FIELDCASE_STORAGE_URL"] = f"file://{tmp_path}/objects"
        procs = [
            subprocess.Popen(
                [FIELDCASE, "scheduler", "run", "escalations.sweep"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        fired = sum(int(out.rsplit("fired ", 1)[1]) for out, _ in outs)
        assert fired == 600
        counts = pg_cluster.psql(
            "SELECT count(*), count(DISTINCT (target_id, rule_kind, level)) FROM escalation_record",
            database=name,
        ).strip()
        assert counts == "600|600"
        # Each fired level left exactly one audit event.
        events = pg_cluster.psql(
            "SELECT count(*) FROM audit_event WHERE action = 'escalation.overdue'", database=name
        ).strip()
        assert events == "600"
    finally:
        pg_cluster.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
