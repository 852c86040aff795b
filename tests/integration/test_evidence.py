"""Evidence through the API with the local store: upload, seal, custody, refusals."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import uuid

import pytest
from PIL import Image

from backend.audit.tables import AuditEvent
from backend.core import clock
from backend.core.auth import Principal, system_principal
from backend.evidence import service, targets
from backend.evidence.jobs import reconcile_evidence
from backend.evidence.tables import Evidence, EvidenceCaseLink
from storage import ObjectLocked
from tests.evidence_kit import declaration, heic, jpeg, png_bomb, put_part, put_single, sha, sites
from tests.factories import build_world, login

__all__ = ["sites"]


async def actions(evidence_id: str) -> list[str]:
    rows = (
        await AuditEvent.select(AuditEvent.action)
        .where(AuditEvent.stream == f"evidence:{evidence_id}")
        .order_by(AuditEvent.seq)
    )
    return [r["action"] for r in rows]


async def test_photo_is_uploaded_sealed_locked_and_its_custody_recorded(client, db, app, sites):
    world = await build_world()
    site = uuid.uuid4()
    sites[site] = world.town_a
    officer = await login(client, "officer_a")
    data = jpeg()
    body = declaration(data, site)

    created = await client.post("/mobile/v1/evidence", headers=officer, json=body)
    assert created.status_code == 201, created.text
    session = created.json()
    evidence_id = session["evidence_id"]
    assert session["status"] == "pending"
    upload = session["upload"]
    assert upload["method"] == "PUT" and "multipart" not in upload
    assert upload["headers"]["x-amz-checksum-sha256"]

    # The same client_id is the same evidence; reusing it for other bytes is refused.
    again = await client.post("/mobile/v1/evidence", headers=officer, json=body)
    assert again.json()["evidence_id"] == evidence_id
    other = await client.post(
        "/mobile/v1/evidence", headers=officer, json={**body, "sha256": sha(b"other")}
    )
    assert other.status_code == 409 and other.json()["code"] == "evidence.client_id_reused"
    # Two requests racing with one client_id: one row, one creation event, the same answer.
    twin_site = uuid.uuid4()
    sites[twin_site] = world.town_a
    twins = declaration(data, twin_site)
    answers = await asyncio.gather(
        *(client.post("/mobile/v1/evidence", headers=officer, json=twins) for _ in range(3))
    )
    assert len({a.json()["evidence_id"] for a in answers}) == 1
    assert await actions(answers[0].json()["evidence_id"]) == ["evidence.created"]

    # The store refuses bytes that do not match the declared hash, and keeps nothing.
    bad = await put_single(client, upload, data[:-1] + b"\x00")
    assert bad.status_code == 400 and bad.json()["code"] == "storage.bad_digest"
    early = await client.post(f"/mobile/v1/evidence/{evidence_id}/complete", headers=officer)
    assert early.status_code == 409 and early.json()["code"] == "evidence.not_uploaded"

    assert (await put_single(client, upload, data)).status_code == 200
    done = await client.post(f"/mobile/v1/evidence/{evidence_id}/complete", headers=officer)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "sealed"
    twice = await client.post(f"/mobile/v1/evidence/{evidence_id}/complete", headers=officer)
    assert twice.json()["status"] == "sealed"

    item = (await client.get(f"/api/v1/evidence/{evidence_id}", headers=officer)).json()
    assert item["flags"] == []
    assert item["sha256"] == sha(data)
    assert item["media"]["camera_make"] == "HUAWEI"
    assert item["media"]["exif_taken_at"].startswith("2026-11-20T02:00:00")
    thumb = await client.get(item["thumbnails"]["256"])
    assert Image.open(io.BytesIO(thumb.content)).size == (192, 256)  # EXIF rotation applied

    store = app.state.store
    row = await Evidence.select().where(Evidence.id == evidence_id).first()
    info = await store.stat(row["object_key"])
    assert info.retention_mode == "COMPLIANCE"
    assert info.retain_until > clock.now() + dt.timedelta(days=179)
    with pytest.raises(ObjectLocked):
        await store.delete(row["object_key"])
    assert await store.get_bytes(row["object_key"]) == data

    link = await client.get(f"/api/v1/evidence/{evidence_id}/download", headers=officer)
    assert link.status_code == 200 and link.json()["expires_in"] == 60
    fetched = await client.get(link.json()["url"])
    assert fetched.content == data

    trail = (await client.get(f"/api/v1/evidence/{evidence_id}/custody", headers=officer)).json()
    assert [e["action"] for e in trail] == [
        "evidence.created",
        "evidence.uploaded",
        "evidence.sealed",
        "evidence.viewed",
        "evidence.downloaded",
    ]
    assert trail[-1]["payload"]["address"] == "127.0.0.1"
    assert trail[-1]["actor"] == f"user:{world.users['officer_a']}"

    # The case file export reads the item with its custody and streams the original.
    sysp = system_principal("export")
    files = await service.evidence_files(principal=sysp, target_kind="test_site", target_id=site)
    assert [(f.sha256, len(f.custody)) for f in files] == [(sha(data), 5)]
    _, chunks = await service.open_original(principal=sysp, evidence_id=files[0].id, store=store)
    assert b"".join([c async for c in chunks]) == data

    # Later the photo becomes evidence of a case: linked once, kept for good (legal hold).
    case_id = uuid.uuid4()

    async def case_resolver(principal: Principal, target_id: uuid.UUID) -> uuid.UUID:
        return world.town_a

    targets.register("case", case_resolver)
    try:
        url = f"/api/v1/evidence/{evidence_id}/cases"
        held = await client.post(url, headers=officer, json={"case_id": str(case_id)})
        again = await client.post(url, headers=officer, json={"case_id": str(case_id)})
    finally:
        targets.unregister("case")
    assert held.status_code == 200 and held.json()["legal_hold"], held.text
    assert again.status_code == 200
    assert (await store.stat(row["object_key"])).legal_hold
    link = await EvidenceCaseLink.select().where(EvidenceCaseLink.case_id == case_id)
    assert [(str(x["evidence"]), x["attached_by"]) for x in link] == [
        (evidence_id, f"user:{world.users['officer_a']}")
    ]
    assert (await actions(evidence_id))[-2:] == ["evidence.exported", "evidence.attached_to_case"]
    case_files = await service.evidence_files(principal=sysp, target_kind="case", target_id=case_id)
    assert [str(f.id) for f in case_files] == [evidence_id]

    # Another township does not see it.
    other_town = await login(client, "officer_b")
    hidden = await client.get(f"/api/v1/evidence/{evidence_id}", headers=other_town)
    assert hidden.status_code == 404


async def test_iphone_heic_photo_is_sealed_with_thumbnails(client, db, app, sites):
    world = await build_world()
    site = uuid.uuid4()
    sites[site] = world.town_a
    officer = await login(client, "officer_a")
    data = heic()
    body = declaration(data, site, content_type="image/heic")
    session = (await client.post("/mobile/v1/evidence", headers=officer, json=body)).json()
    assert (await put_single(client, session["upload"], data)).status_code == 200
    done = await client.post(
        f"/mobile/v1/evidence/{session['evidence_id']}/complete", headers=officer
    )
    assert done.json()["status"] == "sealed", done.text

    item = (await client.get(f"/api/v1/evidence/{session['evidence_id']}", headers=officer)).json()
    assert item["flags"] == []
    assert item["media"]["detected_type"] == "image/heic"
    assert (item["media"]["camera_make"], item["media"]["camera_model"]) == ("Apple", "iPhone 15")
    assert item["media"]["exif_taken_at"].startswith("2026-11-20T02:00:00")
    for size, box in (("1024", (480, 640)), ("256", (192, 256))):
        thumb = Image.open(io.BytesIO((await client.get(item["thumbnails"][size])).content))
        assert (thumb.format, thumb.size) == ("JPEG", box)  # upright, as the phone showed it


async def test_multipart_upload_resumes_after_a_dropped_part_and_corruption_is_rejected(
    client, db, app, sites
):
    world = await build_world()
    site = uuid.uuid4()
    sites[site] = world.town_a
    officer = await login(client, "officer_a")
    data = os.urandom(40 * 1000 * 1000)
    body = declaration(data, site, kind="video", content_type="video/mp4")
    session = (await client.post("/mobile/v1/evidence", headers=officer, json=body)).json()
    evidence_id = session["evidence_id"]
    multipart = session["upload"]["multipart"]
    size = multipart["part_size"]
    assert len(multipart["parts"]) == 5

    for part in multipart["parts"]:
        if part["number"] == 3:
            continue  # the network dropped this one
        n = part["number"]
        await put_part(client, part["url"], data[(n - 1) * size : n * size])
    early = await client.post(f"/mobile/v1/evidence/{evidence_id}/complete", headers=officer)
    assert early.status_code == 409 and early.json()["missing"] == [3]

    state = (await client.get(f"/mobile/v1/evidence/{evidence_id}/parts", headers=officer)).json()
    assert [p["number"] for p in state["received"]] == [1, 2, 4, 5]
    assert [p["number"] for p in state["missing"]] == [3]
    await put_part(client, state["missing"][0]["url"], data[2 * size : 3 * size])
    state = (await client.get(f"/mobile/v1/evidence/{evidence_id}/parts", headers=officer)).json()
    etags = [{"number": p["number"], "etag": p["etag"]} for p in state["received"]]

    done = await client.post(
        f"/mobile/v1/evidence/{evidence_id}/complete", headers=officer, json={"parts": etags}
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] in ("uploaded", "sealed")
    await reconcile_evidence(settings=app.state.settings, store=app.state.store)
    item = (await client.get(f"/api/v1/evidence/{evidence_id}", headers=officer)).json()
    assert item["status"] == "sealed"

    # A part corrupted in transit: the read-back catches it, the bytes stay for inspection.
    small = os.urandom(17 * 1024 * 1024)
    body = declaration(small, site, kind="video", content_type="video/mp4")
    session = (await client.post("/mobile/v1/evidence", headers=officer, json=body)).json()
    bad_id = session["evidence_id"]
    parts = session["upload"]["multipart"]["parts"]
    size = session["upload"]["multipart"]["part_size"]
    await put_part(client, parts[0]["url"], small[:size])
    flipped = bytes([small[size] ^ 0xFF])  # always differs from the declared byte
    await put_part(client, parts[1]["url"], flipped + small[size + 1 : 2 * size])
    await put_part(client, parts[2]["url"], small[2 * size :])
    done = await client.post(f"/mobile/v1/evidence/{bad_id}/complete", headers=officer)
    await reconcile_evidence(settings=app.state.settings, store=app.state.store)
    item = (await client.get(f"/api/v1/evidence/{bad_id}", headers=officer)).json()
    assert item["status"] == "rejected"
    assert "SHA-256" in item["reject_reason"]
    assert "evidence.rejected" in await actions(bad_id)
    row = await Evidence.select().where(Evidence.id == bad_id).first()
    assert await app.state.store.exists(row["object_key"])
    repeat = await client.post(f"/mobile/v1/evidence/{bad_id}/complete", headers=officer)
    assert repeat.json()["status"] == "rejected" and "SHA-256" in repeat.json()["detail"]


async def test_unreadable_and_suspicious_images_are_sealed_with_flags(client, db, sites):
    world = await build_world()
    site = uuid.uuid4()
    sites[site] = world.town_a
    officer = await login(client, "officer_a")
    full = jpeg((1200, 900), noise=True)
    cases = {
        "truncated": (full[: len(full) // 2], {}, "image_unreadable"),
        "bomb": (png_bomb(), {"content_type": "image/png"}, "image_too_large"),
        "wrong type": (jpeg(), {"content_type": "image/png"}, "content_type_mismatch"),
        "late exif": (jpeg(taken="2026:11:20 13:00:00"), {}, "exif_time_mismatch"),
        "far away": (jpeg(), {"gps": {"lat": 31.95, "lon": 120.3}}, "gps_far_from_site"),
    }
    for name, (data, extra, flag) in cases.items():
        body = declaration(data, site, **extra)
        session = (await client.post("/mobile/v1/evidence", headers=officer, json=body)).json()
        assert (await put_single(client, session["upload"], data)).status_code == 200
        done = await client.post(
            f"/mobile/v1/evidence/{session['evidence_id']}/complete", headers=officer
        )
        assert done.status_code == 200, (name, done.text)
        item = (
            await client.get(f"/api/v1/evidence/{session['evidence_id']}", headers=officer)
        ).json()
        assert item["status"] == "sealed", name
        assert flag in item["flags"], (name, item["flags"])
        if flag in ("image_unreadable", "image_too_large"):
            assert item["thumbnails"] is None, name


async def test_bad_declarations_withdrawal_and_expiry(client, db, app, sites):
    world = await build_world()
    site, far_site = uuid.uuid4(), uuid.uuid4()
    sites[site] = world.town_a
    sites[far_site] = world.town_b
    officer = await login(client, "officer_a")
    data = jpeg()

    too_big = await client.post(
        "/api/v1/evidence", headers=officer, json=declaration(data, site, size=5 * 1024**3)
    )
    assert too_big.status_code == 413
    assert "4 GiB" in too_big.json()["detail"]
    mismatch = await client.post(
        "/api/v1/evidence", headers=officer, json=declaration(data, site, kind="video")
    )
    assert mismatch.status_code == 400
    assert mismatch.json()["code"] == "evidence.content_type_mismatch"
    unknown = await client.post(
        "/api/v1/evidence", headers=officer, json=declaration(data, site, colour="red")
    )
    assert unknown.status_code == 400 and "colour" in unknown.json()["detail"]
    out_of_scope = await client.post(
        "/api/v1/evidence", headers=officer, json=declaration(data, far_site)
    )
    assert out_of_scope.status_code == 404
    assert await Evidence.count() == 0

    session = (
        await client.post("/api/v1/evidence", headers=officer, json=declaration(data, site))
    ).json()
    evidence_id = session["evidence_id"]
    await put_single(client, session["upload"], data)
    await client.post(f"/api/v1/evidence/{evidence_id}/complete", headers=officer)

    refused = await client.post(
        f"/api/v1/evidence/{evidence_id}/withdraw", headers=officer, json={"reason": "拍错了"}
    )
    assert refused.status_code == 403
    leader = await login(client, "leader_a")
    withdrawn = await client.post(
        f"/api/v1/evidence/{evidence_id}/withdraw", headers=leader, json={"reason": "拍错了对象"}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["withdrawn"] is True
    assert withdrawn.json()["status"] == "sealed"
    assert await app.state.store.exists(
        (await Evidence.select().where(Evidence.id == evidence_id).first())["object_key"]
    )
    assert (await client.delete(f"/api/v1/evidence/{evidence_id}", headers=leader)).status_code in (
        404,
        405,
    )

    # An abandoned multipart session expires after 24 h and its upload is aborted.
    big = declaration(b"x" * (20 * 1024 * 1024), site, kind="video", content_type="video/mp4")
    stale = (await client.post("/api/v1/evidence", headers=officer, json=big)).json()
    with clock.travel_to(clock.now() + dt.timedelta(hours=25)):
        result = await reconcile_evidence(settings=app.state.settings, store=app.state.store)
    assert result["expired"] == 1
    assert "evidence.expired" in await actions(stale["evidence_id"])
    parts = await client.get(f"/api/v1/evidence/{stale['evidence_id']}/parts", headers=officer)
    assert parts.json()["status"] == "expired"
