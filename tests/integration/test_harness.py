"""The test harness itself: no PostgreSQL outlives the process that started it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import PG_BIN

pytestmark = pytest.mark.postgres

STARTER = """
import sys, time
from pathlib import Path
from tests.conftest import start_pg_cluster
cluster = start_pg_cluster(Path(sys.argv[1]))
print(cluster.port, flush=True)
time.sleep(600)
"""


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_cluster_stops_when_its_owner_is_killed() -> None:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN}")
    # Where the postgres user can reach it, as the session's cluster is made.
    base = Path(tempfile.mkdtemp(prefix="fieldcase-pg-harness-"))
    owner = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(base)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        port = int(owner.stdout.readline())
        assert _accepts(port)
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=10)
        deadline = time.monotonic() + 30
        while (_accepts(port) or base.exists()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _accepts(port), "PostgreSQL still running after its owner was killed"
        assert not base.exists(), "the cluster's directory was left behind"
    finally:
        if owner.poll() is None:
            owner.kill()
