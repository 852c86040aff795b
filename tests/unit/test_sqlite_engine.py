"""The embedded SQLite engine's held-open connections (``start_pool`` / ``close_pool``)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from backend.core.db import (
    SQLITE_IDLE_CONNECTIONS,
    bind_engine,
    build_engine,
    close_pool,
    migrate,
    start_pool,
    write_tx,
)
from backend.settings import DatabaseUrl


def connection_threads() -> int:
    """Live aiosqlite connection threads (one per open connection)."""
    return sum("_connection_worker_thread" in t.name for t in threading.enumerate())


async def settled_threads(limit: int) -> int:
    """Open connections once closing ones' threads have ended (waits up to 5 s)."""
    import asyncio

    for _ in range(50):
        if connection_threads() <= limit:
            break
        await asyncio.sleep(0.1)
    return connection_threads()


async def test_statements_reuse_idle_connections_and_close_pool_closes_them(
    tmp_path: Path,
) -> None:
    engine = build_engine(DatabaseUrl(kind="sqlite", path=tmp_path / "pool.sqlite3"))
    await migrate(engine)
    bind_engine(engine)
    from backend.orgs.tables import OrgUnit

    threads_before = await settled_threads(0)
    await start_pool(engine)
    try:
        async with write_tx():
            await OrgUnit.insert(OrgUnit(code="C", name="县", kind="county")).run()
        for _ in range(50):
            assert [r["code"] for r in await OrgUnit.select(OrgUnit.code).run()] == ["C"]
        # One idle connection served them all: no thread per statement, and what one
        # statement leaves on its connection (a temporary table) the next one sees.
        assert connection_threads() <= threads_before + 1
        await engine.run_ddl("CREATE TEMP TABLE probe (x INTEGER)")
        assert await engine.run_ddl("SELECT count(*) AS n FROM temp.probe") == [{"n": 0}]
        await engine.run_ddl("DROP TABLE temp.probe")
        # A failing statement does not leave a broken connection behind.
        with pytest.raises(Exception, match="UNIQUE"):
            await OrgUnit.insert(OrgUnit(code="C", name="重复", kind="county")).run()
        assert await OrgUnit.count().run() == 1
        # Concurrent statements each get a connection; only a few are kept afterwards.
        import asyncio

        counts = await asyncio.gather(*(OrgUnit.count().run() for _ in range(10)))
        assert counts == [1] * 10
        limit = threads_before + SQLITE_IDLE_CONNECTIONS
        assert await settled_threads(limit) <= limit
    finally:
        await close_pool(engine)
    assert await settled_threads(threads_before) == threads_before
    # Without the pool, statements still work (a connection of their own).
    assert await OrgUnit.count().run() == 1


SCRIPT = """
import asyncio, sys
from pathlib import Path
from backend.core.db import bind_engine, build_engine, migrate, start_pool
from backend.settings import DatabaseUrl

async def main():
    engine = build_engine(DatabaseUrl(kind="sqlite", path=Path(sys.argv[1])))
    await migrate(engine)
    bind_engine(engine)
    await start_pool(engine)
    from backend.orgs.tables import OrgUnit
    print(await OrgUnit.count().run(), flush=True)

asyncio.run(main())  # no close_pool: the idle connection must not keep the process alive
"""


def test_a_process_that_never_closes_the_pool_still_exits(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "exit.sqlite3")],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "0"
