"""Helpers for evidence tests: a test-only target kind, sample media, and the client flow."""

from __future__ import annotations

import hashlib
import io
import struct
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from backend.core.auth import Principal
from backend.core.errors import NotFound
from backend.evidence import targets
from backend.evidence.targets import TargetSite

SITE = (31.90, 120.30)


@pytest.fixture
def sites() -> Iterator[dict[uuid.UUID, uuid.UUID]]:
    """A test target kind ``test_site``: register a site as ``sites[site_id] = org_unit_id``."""
    registry: dict[uuid.UUID, uuid.UUID] = {}

    async def resolve(principal: Principal, target_id: uuid.UUID) -> TargetSite:
        unit = registry.get(target_id)
        if unit is None or not principal.sees_org(unit):
            raise NotFound("site not found", code="test_site.not_found")
        return TargetSite(org_unit_id=unit, lat=SITE[0], lon=SITE[1])

    targets.register("test_site", resolve)
    try:
        yield registry
    finally:
        targets.unregister("test_site")


def jpeg(
    size: tuple[int, int] = (800, 600), *, taken: str = "2026:11:20 10:00:00", noise: bool = False
) -> bytes:
    """A JPEG with EXIF camera, capture time (local wall time) and orientation 6."""
    im = Image.effect_noise(size, 60).convert("RGB") if noise else Image.new("RGB", size, "red")
    exif = Image.Exif()
    exif[0x010F] = "HUAWEI"
    exif[0x0110] = "P60"
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = taken
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def heic(size: tuple[int, int] = (640, 480)) -> bytes:
    """An iPhone-style HEIC (encoded by pillow-heif here) with camera EXIF and orientation 6."""
    from pillow_heif import register_heif_opener

    register_heif_opener()
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    exif[0x0110] = "iPhone 15"
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = "2026:11:20 10:00:00"
    out = io.BytesIO()
    Image.new("RGB", size, "blue").save(out, format="HEIF", quality=60, exif=exif.tobytes())
    return out.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims ten billion pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def declaration(
    data: bytes,
    site_id: uuid.UUID,
    *,
    kind: str = "photo",
    content_type: str = "image/jpeg",
    captured_at: str = "2026-11-20T02:03:00Z",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": str(uuid.uuid4()),
        "target_kind": "test_site",
        "target_id": str(site_id),
        "kind": kind,
        "content_type": content_type,
        "size": len(data),
        "sha256": sha(data),
        "captured_at": captured_at,
        "device_id": "phone-1",
        "gps": {"lat": SITE[0], "lon": SITE[1], "accuracy": 8.0},
    }
    body.update(extra)
    return body


async def put_single(http: Any, upload: dict[str, Any], data: bytes) -> Any:
    method, url, headers = upload["method"], upload["url"], upload["headers"]
    return await http.request(method, url, headers=headers, content=data)


async def put_part(http: Any, url: str, data: bytes) -> str:
    response = await http.put(url, content=data)
    assert response.status_code == 200, response.text
    return str(response.headers["etag"]).strip('"')
