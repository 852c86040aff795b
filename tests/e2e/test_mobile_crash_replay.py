"""A real server killed (-9) in the middle of a sync batch; the replay applies each op once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from backend.audit.tables import AuditEvent
from backend.onsite.tables import OnsiteRecord
from mobile_api.tables import MobileOperation
from tests.conftest import free_port
from tests.factories import PASSWORD, build_world
from tests.mobile_helpers import onsite_case, record_body

pytestmark = pytest.mark.e2e


def _start_server(db_url: str, tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FIELDCASE_DATABASE_URL": db_url,
        "FIELDCASE_STORAGE_URL": f"file://{tmp_path}/objects",
        "FIELDCASE_VAR_DIR": str(tmp_path / "var"),
        "FIELDCASE_PORT": str(port),
        "FIELDCASE_HOST": "127.0.0.1",
        "FIELDCASE_DB_POOL_SIZE": "4",
        "FIELDCASE_LOG_LEVEL": "WARNING",
    }
    log = open(tmp_path / f"server-{port}.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve"], env=env, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 120  # a loaded test machine starts Python slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start: {(tmp_path / f'server-{port}.log').read_text()}")


async def test_kill_9_mid_batch_then_replay_applies_every_operation_once(db, engine, tmp_path):
    world = await build_world()
    case_id = await onsite_case(world)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_server(db.url_text, tmp_path, port)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            login = await http.post(
                "/mobile/v1/auth/login",
                json={"username": "officer_a", "password": PASSWORD, "device_id": "phone-crash"},
            )
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            ops = [
                {
                    "idempotency_key": str(uuid.uuid4()),
                    "op": "onsite_record.create",
                    "body": record_body(world, case_id),
                }
                for _ in range(200)
            ]
            batch = {"operations": ops}
            sender = asyncio.create_task(http.post("/mobile/v1/sync", json=batch, headers=headers))
            # Kill the server once part of the batch is committed.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if await MobileOperation.count().run() >= 20:
                    break
                await asyncio.sleep(0.05)
            server.send_signal(signal.SIGKILL)
            server.wait()
            with pytest.raises(httpx.HTTPError):
                await sender  # the batch was cut off: no answer reached the phone
            applied_before = await MobileOperation.count().run()
            assert 20 <= applied_before < 200, applied_before

            server = _start_server(db.url_text, tmp_path, port)
            replay = await http.post("/mobile/v1/sync", json=batch, headers=headers)
            assert replay.status_code == 200, replay.text
            results = replay.json()["results"]
            outcomes = Counter(r["outcome"] for r in results)
            assert outcomes == {"replayed": applied_before, "applied": 200 - applied_before}
            # Replayed ones come first (the batch is applied in order) and all succeeded.
            assert [r["outcome"] for r in results[:applied_before]] == ["replayed"] * applied_before
            assert {r["status"] for r in results} == {201}

            # Exactly once: every record once, one stored response and one audit event each.
            ids = {op["body"]["id"] for op in ops}
            rows = await OnsiteRecord.select(OnsiteRecord.id).run()
            assert sorted(str(r["id"]) for r in rows) == sorted(ids)
            assert await MobileOperation.count().run() == 200
            created = (
                await AuditEvent.count().where(AuditEvent.action == "onsite_record.created").run()
            )
            assert created == 200
            # And a third send changes nothing.
            third = await http.post("/mobile/v1/sync", json=batch, headers=headers)
            assert third.json()["replayed"] == 200
            assert await OnsiteRecord.count().run() == 200
    finally:
        server.kill()
        server.wait()
