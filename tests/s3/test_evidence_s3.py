"""The evidence flow against an S3 server (moto) with the real minio client."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid

import pytest

from backend.audit.tables import AuditEvent
from backend.core import clock
from backend.core.auth import Principal
from backend.evidence import targets
from backend.evidence.jobs import reconcile_evidence
from backend.evidence.tables import Evidence
from storage import ObjectLocked
from storage.minio_store import MinioStore
from tests.evidence_kit import declaration, jpeg, put_part, put_single, sites
from tests.factories import build_world, login

__all__ = ["sites"]


async def stored(evidence_id: str) -> dict:
    return await Evidence.select().where(Evidence.id == evidence_id).first()


async def test_photo_is_sealed_locked_downloadable_and_the_store_refuses_deletion(
    client, http, db, app, s3_store, sites
):
    world = await build_world()
    site = uuid.uuid4()
    sites[site] = world.town_a
    officer = await login(client, "officer_a")
    data = jpeg((1600, 1200), noise=True)
    session = (
        await client.post("/mobile/v1/evidence", headers=officer, json=declaration(data, site))
    ).json()
    evidence_id = session["evidence_id"]
    put = await put_single(http, session["upload"], data)
    assert put.status_code == 200, put.text
    done = await client.post(f"/mobile/v1/evidence/{evidence_id}/complete", headers=officer)
    assert done.json()["status"] == "sealed", done.text

    row = await stored(evidence_id)
    # The bucket's default rule locked the object at its PUT; the seal sent no retention.
    rule = s3_store.client.get_object_lock_config(s3_store.bucket)
    assert (rule.mode, rule.duration, rule.duration_unit) == ("COMPLIANCE", 180, "Days")
    info = await s3_store.stat(row["object_key"], version_id=row["version_id"])
    assert info.retention_mode == "COMPLIANCE"
    assert info.retain_until > clock.now() + dt.timedelta(days=179)
    assert row["retain_until"] == info.retain_until
    assert not info.legal_hold
    sealed = await sealed_event(evidence_id)
    assert sealed["retention"] == "bucket_default"
    with pytest.raises(ObjectLocked):
        await s3_store.delete(row["object_key"], version_id=row["version_id"])
    assert await s3_store.get_bytes(row["object_key"]) == data
    assert await s3_store.exists(f"derived/{evidence_id}/256.jpg")

    item = (await client.get(f"/mobile/v1/evidence/{evidence_id}", headers=officer)).json()
    assert (await http.get(item["thumbnails"]["1024"])).headers["content-type"] == "image/jpeg"
    link = (await client.get(f"/api/v1/evidence/{evidence_id}/download", headers=officer)).json()
    assert (await http.get(link["url"])).content == data
    events = await AuditEvent.select(AuditEvent.action, AuditEvent.payload).where(
        AuditEvent.stream == f"evidence:{evidence_id}"
    )
    assert [e["action"] for e in events][-2:] == ["evidence.viewed", "evidence.downloaded"]


async def sealed_event(evidence_id: str) -> dict:
    event = (
        await AuditEvent.select(AuditEvent.payload)
        .where(
            (AuditEvent.stream == f"evidence:{evidence_id}")
            & (AuditEvent.action == "evidence.sealed")
        )
        .first()
    )
    payload = event["payload"]
    return json.loads(payload) if isinstance(payload, str) else payload


async def test_bucket_without_default_retention_gets_it_per_object(
    client, http, db, app, s3_endpoint, sites
):
    """An older bucket (object lock, no default rule): the sealer locks each object."""
    plain = MinioStore(
        endpoint=s3_endpoint,
        access_key="fieldcase",
        secret_key="fieldcase-secret",
        bucket=f"evidence-{uuid.uuid4().hex[:12]}",
    )
    await plain.ensure_bucket()
    app.state.store = plain
    world = await build_world()
    site = uuid.uuid4()
    sites[site] = world.town_a
    officer = await login(client, "officer_a")
    data = jpeg()
    session = (
        await client.post("/mobile/v1/evidence", headers=officer, json=declaration(data, site))
    ).json()
    assert (await put_single(http, session["upload"], data)).status_code == 200
    done = await client.post(
        f"/mobile/v1/evidence/{session['evidence_id']}/complete", headers=officer
    )
    assert done.json()["status"] == "sealed", done.text

    row = await stored(session["evidence_id"])
    info = await plain.stat(row["object_key"], version_id=row["version_id"])
    assert info.retention_mode == "COMPLIANCE"
    assert info.retain_until > clock.now() + dt.timedelta(days=179)
    assert (await sealed_event(session["evidence_id"]))["retention"] == "set_by_sealer"
    with pytest.raises(ObjectLocked):
        await plain.delete(row["object_key"], version_id=row["version_id"])


async def test_corrupt_single_put_is_rejected_by_the_read_back_and_kept(
    client, http, db, app, s3_store, sites
):
    world = await build_world()
    site = uuid.uuid4()
    sites[site] = world.town_a
    officer = await login(client, "officer_a")
    data = jpeg()
    session = (
        await client.post("/mobile/v1/evidence", headers=officer, json=declaration(data, site))
    ).json()
    evidence_id = session["evidence_id"]
    # MinIO refuses this PUT (checksum header); moto accepts it, so the seal must catch it.
    corrupt = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
    put = await put_single(http, session["upload"], corrupt)
    done = await client.post(f"/mobile/v1/evidence/{evidence_id}/complete", headers=officer)
    if put.status_code != 200:  # a store that checks the header refused the bytes
        assert done.json()["code"] == "evidence.not_uploaded"
        return
    assert done.json()["status"] == "rejected"
    assert "SHA-256" in done.json()["detail"]
    row = await stored(evidence_id)
    assert await s3_store.get_bytes(row["object_key"]) == corrupt
    event = (
        await AuditEvent.select()
        .where(
            (AuditEvent.stream == f"evidence:{evidence_id}")
            & (AuditEvent.action == "evidence.rejected")
        )
        .first()
    )
    assert event is not None

    # Bytes of another size: refused from the GET's answer alone, the body left unread.
    session = (
        await client.post("/mobile/v1/evidence", headers=officer, json=declaration(data, site))
    ).json()
    longer = data + b"\x00" * 10
    if (await put_single(http, session["upload"], longer)).status_code == 200:
        done = await client.post(
            f"/mobile/v1/evidence/{session['evidence_id']}/complete", headers=officer
        )
        assert done.json()["status"] == "rejected"
        assert done.json()["detail"] == (
            f"size mismatch: declared {len(data)} bytes, received {len(longer)}"
        )
    # The store still answers (the unread GET gave its connection back).
    assert await s3_store.get_bytes(row["object_key"]) == corrupt


async def test_case_video_multipart_resumed_after_dropped_part_gets_retention_and_hold(
    client, http, db, app, s3_store
):
    world = await build_world()
    case_id = uuid.uuid4()

    async def case_resolver(principal: Principal, target_id: uuid.UUID) -> uuid.UUID:
        return world.town_a

    targets.register("case", case_resolver)
    try:
        officer = await login(client, "officer_a")
        data = os.urandom(40 * 1000 * 1000)
        body = declaration(data, case_id, kind="video", content_type="video/mp4")
        body.pop("target_kind"), body.pop("target_id")
        body["case_id"] = str(case_id)
        session = (await client.post("/mobile/v1/evidence", headers=officer, json=body)).json()
    finally:
        targets.unregister("case")
    evidence_id = session["evidence_id"]
    multipart = session["upload"]["multipart"]
    size = multipart["part_size"]
    for part in multipart["parts"]:
        n = part["number"]
        if n != 2:  # part 2 is lost on the way
            await put_part(http, part["url"], data[(n - 1) * size : n * size])

    state = (await client.get(f"/mobile/v1/evidence/{evidence_id}/parts", headers=officer)).json()
    assert [p["number"] for p in state["missing"]] == [2]
    await put_part(http, state["missing"][0]["url"], data[size : 2 * size])
    state = (await client.get(f"/mobile/v1/evidence/{evidence_id}/parts", headers=officer)).json()
    etags = [{"number": p["number"], "etag": p["etag"]} for p in state["received"]]
    done = await client.post(
        f"/mobile/v1/evidence/{evidence_id}/complete", headers=officer, json={"parts": etags}
    )
    assert done.status_code == 200, done.text
    await reconcile_evidence(settings=app.state.settings, store=s3_store)

    row = await stored(evidence_id)
    assert row["status"] == "sealed"
    info = await s3_store.stat(row["object_key"], version_id=row["version_id"])
    assert info.size == len(data)
    assert info.retention_mode == "COMPLIANCE" and info.legal_hold
    with pytest.raises(ObjectLocked):
        await s3_store.delete(row["object_key"], version_id=row["version_id"])
