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
