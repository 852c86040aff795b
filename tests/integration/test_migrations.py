"""Every committed migration applies to an empty database, and creates every table."""

from __future__ import annotations

import uuid
from pathlib import Path

from backend.core.db import all_tables, build_engine, close_pool, migrate
from backend.settings import DatabaseUrl
from tests.conftest import PgCluster


async def _table_names(engine) -> set[str]:  # type: ignore[no-untyped-def]
    if engine.engine_type == "sqlite":
        rows = await engine.run_ddl("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = await engine.run_ddl(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    return {r["name"] for r in rows}


async def _check(url: DatabaseUrl) -> None:
    engine = build_engine(url)
    try:
        await migrate(engine)
        names = await _table_names(engine)
        expected = {t._meta.tablename for t in all_tables()}
        assert expected <= names, f"tables missing after migrate: {sorted(expected - names)}"
        assert "migration" in names
        before = await engine.run_ddl("SELECT count(*) AS n FROM migration")
        await migrate(engine)  # a second run applies nothing
        after = await engine.run_ddl("SELECT count(*) AS n FROM migration")
        assert before == after
    finally:
        await close_pool(engine)


async def test_all_migrations_apply_to_empty_sqlite(tmp_path: Path) -> None:
    await _check(DatabaseUrl(kind="sqlite", path=tmp_path / "empty.sqlite3"))


async def test_all_migrations_apply_to_empty_postgres(pg_cluster: PgCluster) -> None:
    name = f"empty_{uuid.uuid4().hex[:10]}"
    pg_cluster.psql(f"CREATE DATABASE {name}")
    try:
        await _check(pg_cluster.url(name))
    finally:
        pg_cluster.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def test_draw_records_survive_the_compression_migrations_both_ways(engine) -> None:  # type: ignore[no-untyped-def]
    """The demo's draw record is the same bytes after going back to the text column
    (backwards) and forwards again into the compressed one, on both databases."""
    import contextlib
    import hashlib
    import io

    from piccolo.apps.migrations.commands.backwards import run_backwards

    from backend.demo import run_demo
    from backend.inspections import draws
    from backend.inspections.tables import InspectionDraw

    await run_demo(password="demo-pass-1")
    rows = await InspectionDraw.select(InspectionDraw.id, InspectionDraw.record_sha256).run()
    assert rows
    published = {r["id"]: await draws.public_record_json(draw_id=r["id"]) for r in rows}
    for r in rows:
        assert hashlib.sha256(published[r["id"]]).hexdigest() == r["record_sha256"]

    with contextlib.redirect_stdout(io.StringIO()):
        result = await run_backwards(
            app_name="inspections", migration_id=COMPRESSED_COLUMN_ID, auto_agree=True
        )
    assert result.success, result.message
    old = await engine.run_ddl("SELECT id, record FROM inspection_draw")
    assert {str(r["id"]): r["record"].encode("utf-8") for r in old} == {
        str(k): v for k, v in published.items()
    }
    columns = await _columns(engine, "inspection_draw")
    assert "record" in columns and "record_zstd" not in columns

    await migrate(engine)
    columns = await _columns(engine, "inspection_draw")
    assert "record_zstd" in columns and "record" not in columns
    for draw_id, body in published.items():
        assert await draws.public_record_json(draw_id=draw_id) == body


COMPRESSED_COLUMN_ID = "2026-12-03T08:31:18:477637"


async def _columns(engine, table: str) -> set[str]:  # type: ignore[no-untyped-def]
    if engine.engine_type == "sqlite":
        rows = await engine.run_ddl(f"SELECT name FROM pragma_table_info('{table}')")
    else:
        rows = await engine.run_ddl(
            "SELECT column_name AS name FROM information_schema.columns "
            f"WHERE table_name = '{table}'"
        )
    return {r["name"] for r in rows}
