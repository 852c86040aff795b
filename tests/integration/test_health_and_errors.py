"""Health, readiness, and the JSON error shape for faults the API did not plan for."""

from __future__ import annotations

import logging
from pathlib import Path

from litestar import get

from backend.app import create_app
from backend.settings import Settings, StorageUrl


async def test_health_and_ready(client, db):  # type: ignore[no-untyped-def]
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "object_store": "ok"}


async def test_ready_is_503_when_the_object_store_is_unreachable(
    settings: Settings,
    tmp_path: Path,
    db,  # type: ignore[no-untyped-def]
) -> None:
    import httpx

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    broken = Settings(**{**settings.__dict__, "storage": StorageUrl(kind="file", path=blocker)})
    app = create_app(broken)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        response = await c.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == 503
    assert body["code"] == "service.not_ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["object_store"].startswith("unreachable")


async def test_unhandled_error_is_500_with_request_id_and_no_internals(
    settings: Settings,
    db,  # type: ignore[no-untyped-def]
) -> None:
    import httpx

    @get("/boom", exclude_from_auth=True)
    async def boom() -> None:
        raise RuntimeError("password=hunter2 in a stack frame")

    app = create_app(settings)
    app.register(boom)
    transport = httpx.ASGITransport(app=app)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("fieldcase.errors")
    logger.addHandler(handler)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            response = await c.get("/boom")
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "server.error"
    assert "hunter2" not in response.text
    request_id = response.headers["x-request-id"]
    assert request_id in body["detail"]
    assert any(request_id in r.getMessage() and r.exc_info for r in records)


async def test_oversized_body_is_413_json(client, db):  # type: ignore[no-untyped-def]
    response = await client.post(
        "/api/v1/auth/login",
        content=b"{" + b" " * (17 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request.too_large"
