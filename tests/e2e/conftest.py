"""Real processes: the `fieldcase` command and a uvicorn server on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import PgCluster, free_port

FIELDCASE = str(Path(sys.executable).parent / "fieldcase")


@dataclass
class Deployment:
    """An empty database and object store, and the environment that points at them."""

    kind: str
    env: dict[str, str]
    var_dir: Path
    database_path: Path | None = None
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def cli(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [FIELDCASE, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"fieldcase {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def serve(self, *extra: str) -> str:
        port = free_port()
        log = open(self.var_dir / f"serve-{port}.log", "wb")
        proc = subprocess.Popen(
            [FIELDCASE, "serve", "--port", str(port), *extra],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.servers.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(
                    f"server exited with {proc.returncode}:\n"
                    + (self.var_dir / f"serve-{port}.log").read_text()
                )
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    return base
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("server did not answer /health within 60 s")

    def stop(self, proc: subprocess.Popen[bytes] | None = None, *, kill: bool = False) -> None:
        for p in [proc] if proc else list(self.servers):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL if kill else signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(timeout=20)
            self.servers.remove(p)


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDCASE_")}
    env.update(
        FIELDCASE_VAR_DIR=str(var_dir),
        FIELDCASE_STORAGE_URL=f"file://{var_dir}/objects",
        FIELDCASE_SECRET_KEY="e2e-secret-key-" + "y" * 40,
        FIELDCASE_ARGON2_TIME_COST="1",
        FIELDCASE_ARGON2_MEMORY_KIB="1024",
    )
    database_path = None
    name = None
    cluster: PgCluster | None = None
    if request.param == "sqlite":
        database_path = var_dir / "fieldcase.sqlite3"
        env["FIELDCASE_DATABASE_URL"] = f"sqlite:///{database_path}"
    else:
        cluster = request.getfixturevalue("pg_cluster")
        name = f"e2e_{uuid.uuid4().hex[:10]}"
        cluster.psql(f"CREATE DATABASE {name}")
        env["FIELDCASE_DATABASE_URL"] = cluster.url_text(name)
    dep = Deployment(kind=request.param, env=env, var_dir=var_dir, database_path=database_path)
    try:
        yield dep
    finally:
        dep.stop()
        if cluster is not None and name is not None:
            cluster.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
