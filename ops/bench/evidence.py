"""Evidence pipeline benchmark (issue 7), in one run:

1. a 1 GiB multipart upload through the flow (create → parts → complete → sealed), with
   the API process's peak RSS growth (target ≤ 64 MB);
2. 100 × 3 MB JPEGs through create → PUT → complete → sealed with thumbnails, against a
   plain ``put_object`` of the same bytes to the same S3 server (target ratio ≤ 2.2; the
   floor is 2: one write and one verifying read of every byte);
3. thumbnail time per 12 MP JPEG with ``draft()`` against a full decode.

The S3 server is moto in its own process, so its memory is not counted; the API runs in
this process (ASGI, in-process HTTP), the phone's uploads go over real HTTP to the store.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _jpeg(size: tuple[int, int], quality: int) -> bytes:
    from PIL import Image

    im = Image.effect_noise((size[0] // 4, size[1] // 4), 80).convert("RGB")
    im = im.resize(size, Image.Resampling.BICUBIC)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    moto = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto_server did not start")


class Flow:
    """An officer's phone talking to the API (in-process) and to the S3 server (HTTP)."""

    def __init__(self, api: Any, s3: Any, headers: dict[str, str], site: uuid.UUID) -> None:
        self.api, self.s3, self.headers, self.site = api, s3, headers, site

    async def create(self, *, size: int, sha256: str, kind: str, content_type: str) -> Any:
        body = {
            "client_id": str(uuid.uuid4()),
            "target_kind": "bench_site",
            "target_id": str(self.site),
            "kind": kind,
            "content_type": content_type,
            "size": size,
            "sha256": sha256,
            "captured_at": "2026-11-20T02:00:00Z",
            "device_id": "bench",
        }
        response = await self.api.post("/mobile/v1/evidence", headers=self.headers, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def complete(self, evidence_id: str, parts: list[dict[str, Any]] | None = None) -> str:
        response = await self.api.post(
            f"/mobile/v1/evidence/{evidence_id}/complete",
            headers=self.headers,
            json={"parts": parts} if parts else None,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["status"])

    async def photo(self, data: bytes, sha256: str) -> str:
        session = await self.create(
            size=len(data), sha256=sha256, kind="photo", content_type="image/jpeg"
        )
        upload = session["upload"]
        put = await self.s3.put(upload["url"], headers=upload["headers"], content=data)
        assert put.status_code == 200, put.text
        return await self.complete(session["evidence_id"])

    async def big_video(self, block: bytes, blocks: int) -> tuple[str, str]:
        digest = hashlib.sha256()
        for _ in range(blocks):
            digest.update(block)
        session = await self.create(
            size=len(block) * blocks,
            sha256=digest.hexdigest(),
            kind="video",
            content_type="video/mp4",
        )
        multipart = session["upload"]["multipart"]
        assert multipart["part_size"] == len(block)
        etags = []
        for part in multipart["parts"]:
            put = await self.s3.put(part["url"], content=block)
            assert put.status_code == 200, put.text
            etags.append({"number": part["number"], "etag": put.headers["etag"].strip('"')})
        await self.complete(session["evidence_id"], etags)
        return session["evidence_id"], digest.hexdigest()


async def _setup(tmp: Path, endpoint: str) -> tuple[Any, Any, Flow, Any]:
    import httpx

    from backend.app import create_app
    from backend.core.auth import system_principal
    from backend.core.db import build_engine, migrate
    from backend.evidence import targets
    from backend.orgs import schemas as s
    from backend.orgs import service as orgs
    from backend.settings import load_settings
    from storage.minio_store import MinioStore

    settings = load_settings()
    store = MinioStore(
        endpoint=endpoint, access_key="bench", secret_key="bench-secret", bucket="evidence"
    )
    await store.ensure_bucket(retention_days=180)
    app = create_app(settings, store=store)
    await migrate(build_engine(settings.database))
    from backend.core.db import bind_engine

    bind_engine(app.state.engine)
    sysp = system_principal("bench")
    county = await orgs.create_org_unit(
        principal=sysp, data=s.OrgUnitIn(code="B", name="基准县", kind="county")
    )
    await orgs.create_user(
        principal=sysp,
        data=s.UserIn(
            username="bench", password="bench-password-1", roles=["officer"], org_unit_id=county.id
        ),
    )

    async def resolve(principal: Any, target_id: uuid.UUID) -> uuid.UUID:
        return county.id

    targets.register("bench_site", resolve)
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
        base_url="http://bench",
        timeout=600,
    )
    s3 = httpx.AsyncClient(timeout=600)
    login = await api.post(
        "/api/v1/auth/login", json={"username": "bench", "password": "bench-password-1"}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return store, (api, s3), Flow(api, s3, headers, uuid.uuid4()), app


async def _run(endpoint: str, tmp: Path) -> None:
    store, clients, flow, app = await _setup(tmp, endpoint)
    # The app's lifespan, as under uvicorn: its database connections held open.
    async with app.lifespan():
        await _measure(store, clients, flow)


async def _measure(store: Any, clients: Any, flow: Flow) -> None:
    try:
        # 1. 1 GiB multipart through the flow, peak RSS growth of this process.
        block = os.urandom(8 * MIB)
        blocks = int(os.environ.get("FIELDCASE_BENCH_BIG_PARTS", "128"))
        await flow.photo(_jpeg((640, 480), 85), hashlib.sha256(_jpeg((640, 480), 85)).hexdigest())
        before = _rss_mb()
        started = time.perf_counter()
        evidence_id, _ = await flow.big_video(block, blocks)
        from backend.evidence.tables import Evidence

        row = await Evidence.select(Evidence.status).where(Evidence.id == evidence_id).first()
        elapsed = time.perf_counter() - started
        growth = _rss_mb() - before
        print(
            f"evidence: {blocks * 8} MiB multipart → {row['status']} in {elapsed:.1f} s; "
            f"API process peak RSS growth {growth:.1f} MB (target ≤ 64 MB)"
        )

        # 2. 100 × 3 MB JPEGs through the flow vs plain put_object, one after the other on
        # both sides, interleaved so that both see the same load on a shared machine.
        photo = _jpeg((3264, 2448), 91)  # an 8 MP phone photo of about 3 MB
        sha = hashlib.sha256(photo).hexdigest()
        count = int(os.environ.get("FIELDCASE_BENCH_PHOTOS", "100"))
        flow_s = base_s = get_s = examine_s = 0.0
        statuses = []
        for i in range(count):
            started = time.perf_counter()
            statuses.append(await flow.photo(photo, sha))
            flow_s += time.perf_counter() - started
            started = time.perf_counter()
            await asyncio.to_thread(_plain_put, store, f"baseline/{i}", photo, sha)
            base_s += time.perf_counter() - started
            # What no flow can avoid: reading the bytes back and decoding the picture once.
            started = time.perf_counter()
            async for _ in store.iter_object(f"baseline/{i}"):
                pass
            get_s += time.perf_counter() - started
            started = time.perf_counter()
            await asyncio.to_thread(_examine, photo)
            examine_s += time.perf_counter() - started
        assert statuses == ["sealed"] * count, set(statuses)
        each = 1000 / count
        print(
            f"evidence: {count} × {len(photo) / MIB:.1f} MiB JPEG create→PUT→complete→sealed "
            f"{flow_s:.2f} s ({flow_s * each:.0f} ms each) vs plain put_object "
            f"{base_s:.2f} s ({base_s * each:.0f} ms each); ratio {flow_s / base_s:.2f} "
            "(target ≤ 2.2, floor 2)"
        )
        floor = base_s + get_s + examine_s
        print(
            f"evidence: of which unavoidable per photo: put {base_s * each:.0f} ms + get "
            f"{get_s * each:.0f} ms + one Pillow pass (EXIF, 1024/256 thumbnails) "
            f"{examine_s * each:.0f} ms = {floor * each:.0f} ms, ratio {floor / base_s:.2f}; "
            f"the flow adds {(flow_s - floor) * each:.0f} ms (API requests, database, "
            "thumbnail writes)"
        )

        # 3. Thumbnails of a 12 MP JPEG: draft() vs full decode.
        _thumbnails(_jpeg((4000, 3000), 90))
    finally:
        for c in clients:
            await c.aclose()


def _plain_put(store: Any, key: str, data: bytes, sha: str) -> None:
    store.client.put_object(
        store.bucket,
        key,
        io.BytesIO(data),
        len(data),
        content_type="image/jpeg",
        # Like the phone's PUT: the checksum, and its algorithm named (object-lock bucket).
        metadata={"x-amz-checksum-sha256": _b64(sha), "x-amz-sdk-checksum-algorithm": "SHA256"},
    )


def _examine(data: bytes) -> None:
    from zoneinfo import ZoneInfo

    from storage.media import examine_image

    examine_image(io.BytesIO(data), max_pixels=10**9, tz=ZoneInfo("Asia/Shanghai"))


def _b64(hex_digest: str) -> str:
    from storage.base import sha256_b64

    return sha256_b64(hex_digest)


def _thumbnails(big: bytes, rounds: int = 5) -> None:
    from zoneinfo import ZoneInfo

    from storage.media import examine_image

    tz = ZoneInfo("Asia/Shanghai")
    timings = {}
    for use_draft in (True, False):
        examine_image(io.BytesIO(big), max_pixels=10**9, tz=tz, use_draft=use_draft)
        started = time.perf_counter()
        for _ in range(rounds):
            report = examine_image(io.BytesIO(big), max_pixels=10**9, tz=tz, use_draft=use_draft)
            assert set(report.thumbnails) == {256, 1024}
        timings[use_draft] = (time.perf_counter() - started) / rounds
    print(
        f"evidence: thumbnails of a 12 MP JPEG: draft() {timings[True] * 1000:.0f} ms, "
        f"full decode {timings[False] * 1000:.0f} ms; ratio {timings[True] / timings[False]:.2f}"
    )


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fieldcase-bench-evidence-"))
    # Before any backend import: piccolo_conf reads the settings when it is imported.
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
