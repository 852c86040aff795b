"""Pure logic of the evidence storage: local keys and signed URLs, media checks."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from backend.core import clock
from backend.evidence.sealing import distance_m
from storage import ObjectLocked, StorageError
from storage.local import BadToken, LocalStore
from storage.media import content_type_matches, examine_image, sniff

TZ = ZoneInfo("Asia/Shanghai")


def test_local_keys_cannot_leave_the_store_and_signed_urls_cannot_be_altered(tmp_path: Path):
    store = LocalStore(root=tmp_path / "store", secret="s" * 40)
    for key in ("../etc/passwd", "a/../../b", "/abs", "a//b", ".hidden/x", "a\\b", ""):
        with pytest.raises(StorageError):
            asyncio.run(store.put_bytes(key, b"x"))
    assert not (tmp_path / "etc").exists()

    request = asyncio.run(
        store.presign_put(
            "evidence/a/b",
            sha256_hex="0" * 64,
            content_type="image/jpeg",
            expires=dt.timedelta(minutes=5),
        )
    )
    token = request.url.rsplit("/", 1)[1]
    assert store.verify(token, ops=("put",)).key == "evidence/a/b"
    payload, mac = token.split(".")
    forged = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + mac
    for bad in (forged, token + "x", "nonsense"):
        with pytest.raises(BadToken):
            store.verify(bad, ops=("put",))
    with pytest.raises(BadToken):
        store.verify(token, ops=("get",))  # an upload URL is not a download URL
    with clock.travel_to(clock.now() + dt.timedelta(minutes=6)), pytest.raises(BadToken):
        store.verify(token, ops=("put",))


def test_local_retention_refuses_overwrite_delete_and_shortening(tmp_path: Path):
    store = LocalStore(root=tmp_path, secret="s" * 40)
    until = clock.now() + dt.timedelta(days=1)
    asyncio.run(store.put_bytes("k/v", b"first", retain_until=until))
    with pytest.raises(ObjectLocked):
        asyncio.run(store.put_bytes("k/v", b"second"))
    with pytest.raises(ObjectLocked):
        asyncio.run(store.delete("k/v"))
    with pytest.raises(ObjectLocked):
        asyncio.run(store.set_retention("k/v", until=until - dt.timedelta(hours=1)))
    assert asyncio.run(store.get_bytes("k/v")) == b"first"
    with clock.travel_to(until + dt.timedelta(seconds=1)):
        asyncio.run(store.delete("k/v"))  # retention over: deletable again
    assert not asyncio.run(store.exists("k/v"))


def test_content_type_checks_and_heic_thumbnails():
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(jpeg, "JPEG")
    assert sniff(jpeg.getvalue()) == "image/jpeg"
    assert content_type_matches("image/jpg", "image/jpeg")
    assert not content_type_matches("image/png", "image/jpeg")
    assert not content_type_matches("audio/mpeg", "image/jpeg")
    assert content_type_matches("audio/mp4", "video/mp4")
    assert content_type_matches("application/pdf", None)

    heic = io.BytesIO()
    Image.new("RGB", (1200, 900), "blue").save(heic, "HEIF")
    report = examine_image(io.BytesIO(heic.getvalue()), max_pixels=10**8, tz=TZ)
    assert report.problems == [] and (report.width, report.height) == (1200, 900)
    assert Image.open(io.BytesIO(report.thumbnails[1024])).size == (1024, 768)


def test_distance_is_in_metres():
    assert 550 < distance_m((31.90, 120.30), (31.905, 120.30)) < 560
    assert distance_m((31.9, 120.3), (31.9, 120.3)) == 0
