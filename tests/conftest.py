"""Shared fixtures: a throwaway PostgreSQL cluster, migrated template databases, the app.

Integration tests take the ``db`` fixture, which runs each test on SQLite and
on PostgreSQL, each in a fresh copy of a migrated template database.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_SESSION_TMP = Path(tempfile.mkdtemp(prefix="fieldcase-tests-"))
os.environ.setdefault("FIELDCASE_SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ["FIELDCASE_VAR_DIR"] = str(_SESSION_TMP / "var")
os.environ["FIELDCASE_DATABASE_URL"] = f"sqlite:///{_SESSION_TMP}/import-time.sqlite3"
os.environ["FIELDCASE_STORAGE_URL"] = f"file://{_SESSION_TMP}/objects"
# Cheap password hashing keeps fixtures fast; production uses the library defaults.
os.environ.setdefault("FIELDCASE_ARGON2_TIME_COST", "1")
os.environ.setdefault("FIELDCASE_ARGON2_MEMORY_KIB", "1024")

from backend.core.db import bind_engine, build_engine, close_pool, migrate  # noqa: E402
from backend.settings import DatabaseUrl, Settings, load_settings  # noqa: E402

PG_BIN = Path(os.environ.get("FIELDCASE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------
# PostgreSQL: a private cluster in a temp dir on a free loopback port


@dataclass
class PgCluster:
    host: str
    port: int
    user: str
    data_dir: Path

    def url(self, database: str) -> DatabaseUrl:
        return DatabaseUrl(
            kind="postgres", host=self.host, port=self.port, user=self.user, database=database
        )

    def url_text(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def start_pg_cluster(base: Path) -> PgCluster:
    base.mkdir(parents=True, exist_ok=True)
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        os.chmod(base, 0o700)
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        ),
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "-l",
                str(base / "log"),
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    _stop_when_gone(data, base)
    return PgCluster(host="127.0.0.1", port=port, user="postgres", data_dir=data)


# Write ends of the watchers' pipes: held (never closed) for as long as this process lives.
_LIFELINES: list[int] = []


def _stop_when_gone(data: Path, base: Path) -> None:
    """A watcher in its own session stops the cluster and removes its directory once the
    process that started it is gone, however it went (``kill -9``, a CI timeout killing the
    process group): no PostgreSQL is left running after the tests. The watcher reads a pipe
    whose only write end this process holds; the end of that pipe is its death (a PID could
    be a zombie's or be reused)."""
    stop = " ".join(
        shlex.quote(part)
        for part in _as_postgres(
            [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
        )
    )
    script = f"cat >/dev/null; {stop} >/dev/null 2>&1; rm -rf {shlex.quote(str(base))}"
    read_end, write_end = os.pipe()  # neither is inherited by other children
    try:
        subprocess.Popen(
            ["sh", "-c", script],
            start_new_session=True,
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    finally:
        os.close(read_end)
    _LIFELINES.append(write_end)


def stop_pg_cluster(cluster: PgCluster) -> None:
    subprocess.run(
        _as_postgres(
            [str(PG_BIN / "pg_ctl"), "-D", str(cluster.data_dir), "-m", "immediate", "-w", "stop"]
        ),
        check=False,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN}: PostgreSQL tests cannot run here")
    base = Path(tempfile.mkdtemp(prefix="fieldcase-pg-"))
    cluster = start_pg_cluster(base)
    try:
        yield cluster
    finally:
        stop_pg_cluster(cluster)
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------
# Migrated templates, copied per test


def _migrate(url: DatabaseUrl) -> None:
    async def run() -> None:
        engine = build_engine(url)
        await migrate(engine)
        await close_pool(engine)

    asyncio.run(run())


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    path = _SESSION_TMP / "template.sqlite3"
    _migrate(DatabaseUrl(kind="sqlite", path=path))
    return path


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PgCluster) -> str:
    pg_cluster.psql("CREATE DATABASE fc_template")
    _migrate(pg_cluster.url("fc_template"))
    return "fc_template"


@dataclass
class TestDb:
    kind: str
    url: DatabaseUrl
    url_text: str
    cluster: PgCluster | None = None


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestDb]:
    """A fresh migrated database: each test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "fieldcase.sqlite3"
        shutil.copyfile(template, path)
        url = DatabaseUrl(kind="sqlite", path=path)
        bind_engine(build_engine(url))
        yield TestDb(kind="sqlite", url=url, url_text=f"sqlite:///{path}")
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    request.getfixturevalue("pg_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    cluster.psql(f"CREATE DATABASE {name} TEMPLATE fc_template")
    url = cluster.url(name)
    bind_engine(build_engine(url))
    try:
        yield TestDb(kind="postgres", url=url, url_text=cluster.url_text(name), cluster=cluster)
    finally:
        cluster.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def settings(db: TestDb, tmp_path: Path) -> Settings:
    base = load_settings()
    return Settings(
        database=db.url,
        storage=type(base.storage)(kind="file", path=tmp_path / "objects"),
        secret_key=base.secret_key,
        timezone=base.timezone,
        var_dir=tmp_path / "var",
        db_pool_size=0,  # the client fixture starts the pool on the test's loop
    )


@pytest.fixture
async def app(settings: Settings) -> Any:
    from backend.app import create_app

    return create_app(settings)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[Any]:
    """An HTTP client calling the app in this test's event loop.

    Litestar's own test client runs the app on a second loop in a thread, but services
    called by the test share the app's pool, which asyncpg binds to one loop. So the
    lifespan's work (bind the engine, start the pool) is done here, on this loop.
    """
    import httpx

    from backend.core.db import bind_engine, start_pool

    engine = app.state.engine
    bind_engine(engine)
    await start_pool(engine, max_size=4)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        await close_pool(engine)


@pytest.fixture
async def engine(db: TestDb) -> AsyncIterator[Any]:
    """The test database's engine, bound to every table, for service-level tests."""
    from backend.core.db import current_engine, start_pool

    eng = build_engine(db.url)
    bind_engine(eng)
    await start_pool(eng, max_size=5)
    try:
        yield current_engine()
    finally:
        await close_pool(eng)
