"""S3 tests: moto's S3 server over HTTP on a loopback port, driven by the real minio client.

Known differences of moto from MinIO (see the evidence issue): it stores
``x-amz-checksum-sha256`` without checking it, has no GetObjectRetention (the lock state
is read from HEAD), does not check presigned signatures or expiry, and ignores retention
sent with multipart uploads (the server sets retention after completion anyway).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from moto.server import ThreadedMotoServer

from backend.settings import Settings
from storage.minio_store import MinioStore
from tests.conftest import free_port


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
async def s3_store(s3_endpoint: str) -> MinioStore:
    """A fresh object-lock bucket per test, with the default retention rule of production."""
    store = MinioStore(
        endpoint=s3_endpoint,
        access_key="fieldcase",
        secret_key="fieldcase-secret",
        bucket=f"evidence-{uuid.uuid4().hex[:12]}",
    )
    await store.ensure_bucket(retention_days=180)
    return store


@pytest.fixture
async def app(settings: Settings, s3_store: MinioStore) -> Any:
    """The app with the S3 store (overrides the local-store ``app`` of tests/conftest.py)."""
    from backend.app import create_app

    return create_app(settings, store=s3_store)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client for the presigned URLs, which point at the S3 server."""
    async with httpx.AsyncClient(timeout=60) as c:
        yield c
