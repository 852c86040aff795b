"""Case file export benchmark (issue 4), in one run:

A simplified case with 200 evidence originals of 2 MiB each (≈ 400 MiB) in an S3
server (moto, its own process). The export endpoint's zip is consumed chunk by
chunk straight from the ASGI app (in this process) by a client thread behind a small
socket-like buffer; a plain sequential ``get_object`` of the same objects is timed in
the same round. Neither side writes the bytes to disk in the timed rounds (on this
machine that alone takes longer than the plain read); one untimed export is saved and
verified first. Five rounds (alternating which goes first, since the shared machine's
load drifts); printed per round and as the median: the export's throughput against
the plain read (target ≥ 70 %), and the API process's peak RSS growth over the exports
(target ≤ 64 MB).

The export records its custody events (one per original, each in its own stream)
in one write transaction before the first byte, then streams the originals with
1 MiB reads, the next object requested while the current one streams, the zip CRC off
the event loop, no copy of the chunks into a buffer, and each original listed in the
manifest with the hash it was sealed with (not hashed again).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import queue
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from ops.bench.evidence import MIB, _free_port, _rss_mb, _start_moto

__all__ = ["_free_port", "main"]

# Chunks (about 1 MiB each) in flight between the API and the client saving the bundle.
SOCKET_BUFFER = 8


async def _setup(endpoint: str, items: int, size: int) -> tuple[Any, Any, str, list[str]]:
    from backend.app import create_app
    from backend.cases import schemas as cs
    from backend.cases import service as cases
    from backend.core import clock
    from backend.core.auth import system_principal
    from backend.core.db import bind_engine, build_engine, migrate, write_tx
    from backend.evidence.tables import Evidence
    from backend.matters import schemas as ms
    from backend.matters import service as matters
    from backend.orgs import schemas as s
    from backend.orgs import service as orgs
    from backend.settings import load_settings
    from storage.minio_store import MinioStore

    settings = load_settings()
    store = MinioStore(
        endpoint=endpoint, access_key="bench", secret_key="bench-secret", bucket="evidence"
    )
    await store.ensure_bucket()
    app = create_app(settings, store=store)
    await migrate(build_engine(settings.database))
    bind_engine(app.state.engine)
    sysp = system_principal("bench")
    county = await orgs.create_org_unit(
        principal=sysp, data=s.OrgUnitIn(code="B", name="基准县", kind="county")
    )
    today = clock.now().date()
    officers = []
    for i in range(2):
        officer = await orgs.create_officer(
            principal=sysp,
            data=s.OfficerIn(name=f"队员{i}", badge_no=f"B-{i}", org_unit_id=county.id),
        )
        await orgs.add_certificate(
            principal=sysp,
            officer_id=officer.id,
            data=s.CertificateIn(
                number=f"BC-{i}",
                domains=["urban"],
                valid_from=today - dt.timedelta(days=30),
                valid_to=today + dt.timedelta(days=365),
            ),
        )
        officers.append(officer.id)
    await orgs.create_user(
        principal=sysp,
        data=s.UserIn(
            username="bench",
            password="bench-password-1",
            roles=["officer"],
            org_unit_id=county.id,
            officer_id=officers[0],
        ),
    )
    matter = await matters.create_matter(
        principal=sysp,
        data=ms.MatterIn(code="M-B-1", name="占道经营", category="penalty", domain="urban"),
    )
    case = await cases.decide_on_site(
        principal=sysp,
        data=cs.OnSiteDecisionIn(
            matter_id=matter.id, org_unit_id=county.id, officer_ids=officers,
            penalty_kind="warning", subject_name="基准当事人",
        ),
    )  # fmt: skip
    block = bytearray(os.urandom(size))
    keys = []
    for i in range(items):
        block[:8] = i.to_bytes(8, "big")
        data = bytes(block)
        evidence_id = uuid.uuid4()
        key = f"evidence/B/{evidence_id}"
        await store.put_bytes(key, data, content_type="video/mp4")
        keys.append(key)
        now = clock.now()
        async with write_tx():
            await Evidence.insert(
                Evidence(
                    id=evidence_id, client_id=uuid.uuid4(), org_unit=county.id,
                    target_kind="case", target_id=case.id, kind="video",
                    content_type="video/mp4", size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(), object_key=key, status="sealed",
                    captured_at=now, created_by="bench", created_at=now,
                )
            ).run()  # fmt: skip
    del block
    return app, store, str(case.id), keys


async def _export(app: Any, case_id: str, target: Path | None) -> tuple[int, float, float]:
    """Drive the ASGI app directly so that nothing between it and the client buffers the body.

    With ``target`` the client saves the bundle there; without, it takes each chunk and drops
    it, as the plain read does (writing 400 MiB to this machine's disk alone takes longer than
    the plain read, so the timed rounds leave the disk out on both sides)."""
    import httpx

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)), base_url="http://b"
    ) as api:
        login = await api.post(
            "/api/v1/auth/login", json={"username": "bench", "password": "bench-password-1"}
        )
        token = login.json()["access_token"]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/api/v1/cases/{case_id}/file/export",
        "raw_path": f"/api/v1/cases/{case_id}/file/export".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
    }
    written = 0
    status = 0
    first_byte = 0.0
    done = asyncio.Event()
    sent_request = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    # The client saves the bundle in its own thread, like a client process behind a socket:
    # up to SOCKET_BUFFER chunks wait for it (then the API's send waits), so the API's event
    # loop never blocks on the disk. The clock stops once the last byte is on disk.
    pending: queue.Queue[bytes | None] = queue.Queue(maxsize=SOCKET_BUFFER)

    def save() -> None:
        if target is None:
            while pending.get() is not None:
                pass
            return
        with target.open("wb") as out:
            while (body := pending.get()) is not None:
                out.write(body)

    async def send(message: dict[str, Any]) -> None:
        nonlocal written, status, first_byte
        if message["type"] == "http.response.start":
            status = message["status"]
            first_byte = time.perf_counter() - started
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            if pending.full():
                await asyncio.to_thread(pending.put, body)
            else:
                pending.put_nowait(body)
            written += len(body)
            if not message.get("more_body"):
                done.set()

    started = time.perf_counter()
    saver = asyncio.create_task(asyncio.to_thread(save))
    try:
        await app(scope, receive, send)
    finally:
        await asyncio.to_thread(pending.put, None)
        await saver
    elapsed = time.perf_counter() - started
    assert status == 200, status
    return written, elapsed, first_byte


def _plain_reads(store: Any, keys: list[str]) -> tuple[int, float]:
    total = 0
    started = time.perf_counter()
    for key in keys:
        response = store.client.get_object(store.bucket, key)
        try:
            for chunk in response.stream(1 * MIB):
                total += len(chunk)
        finally:
            response.close()
            response.release_conn()
    return total, time.perf_counter() - started


async def _run(endpoint: str, tmp: Path) -> None:
    items = int(os.environ.get("FIELDCASE_BENCH_CASEFILE_ITEMS", "200"))
    size = int(os.environ.get("FIELDCASE_BENCH_CASEFILE_ITEM_MIB", "2")) * MIB
    rounds = int(os.environ.get("FIELDCASE_BENCH_CASEFILE_ROUNDS", "5"))
    app, store, case_id, keys = await _setup(endpoint, items, size)
    # The app's lifespan, as under uvicorn: its database connections held open.
    async with app.lifespan():
        await _rounds(app, store, case_id, keys, tmp, items, rounds)


async def _rounds(
    app: Any, store: Any, case_id: str, keys: list[str], tmp: Path, items: int, rounds: int
) -> None:
    from backend.cases.casefile import verify_bundle

    bundle = tmp / "bundle.zip"
    # One untimed export saved to disk and verified; the timed rounds follow.
    await _export(app, case_id, bundle)
    problems = verify_bundle(bundle)
    before = _rss_mb()
    ratios: list[float] = []
    for n in range(1, rounds + 1):
        # The order alternates, so that a drift in the shared machine's load favours neither.
        if n % 2:
            written, export_s, first_byte = await _export(app, case_id, None)
            read, plain_s = await asyncio.to_thread(_plain_reads, store, keys)
        else:
            read, plain_s = await asyncio.to_thread(_plain_reads, store, keys)
            written, export_s, first_byte = await _export(app, case_id, None)
        ratio = (written / export_s) / (read / plain_s)
        ratios.append(ratio)
        print(
            f"casefile: round {n}: export of {items} evidence originals ({read / MIB:.0f} MiB, "
            f"bundle {written / MIB:.0f} MiB) in {export_s:.1f} s (first byte after "
            f"{first_byte:.2f} s) = {written / MIB / export_s:.0f} MiB/s; plain sequential "
            f"get_object {plain_s:.1f} s = {read / MIB / plain_s:.0f} MiB/s; ratio {ratio:.2f}"
        )
    growth = _rss_mb() - before
    print(
        f"casefile: throughput ratio (median of {rounds} rounds) {statistics.median(ratios):.2f} "
        f"(target ≥ 0.70); API process peak RSS growth over the exports {growth:.1f} MB "
        f"(target ≤ 64 MB); bundle verify: {'OK' if not problems else problems[:3]}"
    )


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fieldcase-bench-casefile-"))
    os.environ.update(
        {
            "FIELDCASE_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "FIELDCASE_STORAGE_URL": f"file://{tmp}/objects",
            "FIELDCASE_VAR_DIR": str(tmp / "var"),
            "FIELDCASE_SECRET_KEY": "bench-secret-" + "x" * 40,
            "FIELDCASE_DB_POOL_SIZE": "0",
            "FIELDCASE_ARGON2_TIME_COST": "1",
            "FIELDCASE_ARGON2_MEMORY_KIB": "1024",
        }
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    proc, endpoint = _start_moto()
    try:
        asyncio.run(_run(endpoint, tmp))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
