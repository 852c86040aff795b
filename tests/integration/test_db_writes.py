"""Write transactions under concurrency, and a locked SQLite file that must not hang the process."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from backend.audit.service import verify_chain
from backend.core.auth import system_principal
from backend.orgs import schemas as s
from backend.orgs import service
from backend.orgs.tables import Officer
from tests.factories import build_world


async def test_concurrent_writes_all_commit_with_an_intact_audit_chain(client, db):  # type: ignore[no-untyped-def]
    world = await build_world()
    principal = system_principal("test")
    before = await Officer.count()

    async def hire(i: int) -> None:
        # Each write reads (the badge check, the audit head) before it writes: the trap of
        # DEFERRED transactions on SQLite.
        await service.create_officer(
            principal=principal,
            data=s.OfficerIn(name=f"并发{i}", badge_no=f"CONC-{i:03d}", org_unit_id=world.town_a),
        )

    await asyncio.gather(*(hire(i) for i in range(25)))
    assert await Officer.count() == before + 25
    _, _, broken = await verify_chain()
    assert broken is None


def test_sqlite_write_that_cannot_get_the_lock_fails_and_the_process_exits(
    sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "locked.sqlite3"
    shutil.copyfile(sqlite_template, path)
    holder = sqlite3.connect(path, timeout=1)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from backend.core.db import bind_engine, build_engine, write_tx
        from backend.settings import DatabaseUrl
        from pathlib import Path
        engine = build_engine(DatabaseUrl(kind="sqlite", path=Path({str(path)!r})))
        engine.connection_kwargs["timeout"] = 0.5
        bind_engine(engine)
        async def main():
            from backend.orgs.tables import Officer
            async with write_tx():
                await Officer.update({{Officer.name: "x"}}).where(Officer.name == "none").run()
        try:
            asyncio.run(main())
        except Exception as exc:
            print(type(exc).__name__, exc)
            sys.exit(3)
        """
    )
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
    finally:
        holder.rollback()
        holder.close()
    assert done.returncode == 3, done.stderr
    assert "locked" in done.stdout
    assert time.monotonic() - started < 30
