"""Fresh databases for benchmarks: a SQLite file and a throwaway PostgreSQL cluster.

PostgreSQL comes from ``FIELDCASE_BENCH_PG`` (``postgresql://user@host:port``, a server
where the benchmark may create databases) or else a private cluster started with the
same helper the tests use (needs the PostgreSQL binaries).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

from backend.core.db import (
    bind_engine,
    build_engine,
    close_pool,
    migrate,
    start_pool,
    write_tx,
)
from backend.inspections.bulk import insert_rows
from backend.settings import DatabaseUrl, parse_database_url


@contextlib.contextmanager
def postgres_server() -> Iterator[Any]:
    """A function ``new_database() -> DatabaseUrl``, or None if no PostgreSQL is available."""
    given = os.environ.get("FIELDCASE_BENCH_PG")
    if given:
        base = parse_database_url(given.rstrip("/") + "/postgres", base=Path("."))

        def create_on_server() -> DatabaseUrl:
            name = f"bench_{uuid.uuid4().hex[:10]}"
            env = {**os.environ, "PGPASSWORD": base.password}
            subprocess.run(
                [
                    "psql",
                    "-h",
                    base.host,
                    "-p",
                    str(base.port),
                    "-U",
                    base.user,
                    "-d",
                    "postgres",
                    "-qc",
                    f"CREATE DATABASE {name}",
                ],
                check=True,
                env=env,
                capture_output=True,
            )
            return DatabaseUrl(
                kind="postgres",
                host=base.host,
                port=base.port,
                user=base.user,
                password=base.password,
                database=name,
            )

        yield create_on_server
        return
    from tests.conftest import PG_BIN, start_pg_cluster, stop_pg_cluster

    if not (PG_BIN / "initdb").exists():
        yield None
        return
    cluster = start_pg_cluster(Path(tempfile.mkdtemp(prefix="fieldcase-bench-pg-")))

    def create_in_cluster() -> DatabaseUrl:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        cluster.psql(f"CREATE DATABASE {name}")
        return cluster.url(name)

    try:
        yield create_in_cluster
    finally:
        stop_pg_cluster(cluster)


def sqlite_database(directory: Path) -> DatabaseUrl:
    return DatabaseUrl(kind="sqlite", path=directory / f"bench-{uuid.uuid4().hex[:8]}.sqlite3")


@contextlib.asynccontextmanager
async def fresh(url: DatabaseUrl) -> AsyncIterator[None]:
    """Migrate ``url`` and bind every table to it for the duration of the block."""
    engine = build_engine(url)
    await migrate(engine)
    bind_engine(engine)
    await start_pool(engine, max_size=4)
    try:
        yield
    finally:
        await close_pool(engine)


async def bulk_insert(table: str, columns: Sequence[str], records: list[tuple[Any, ...]]) -> None:
    """Insert many rows fast (executemany / COPY) in one write transaction."""
    async with write_tx():
        await insert_rows(table, columns, records)


def machine_note() -> str:
    """CPU count and load, printed with the figures: on a shared machine they vary a lot."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load}"


def kind_name(url: DatabaseUrl) -> str:
    return "SQLite" if url.is_sqlite else "PostgreSQL"
