"""Sealing: read the uploaded object back once, hash it, make image derivatives in the same
pass, lock it (COMPLIANCE retention, legal hold for cases) and record the seal.

A mismatch marks the item ``rejected`` and keeps its bytes for inspection.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import tempfile
import uuid
from typing import IO, Any
from zoneinfo import ZoneInfo

from backend.core import clock
from backend.core.db import write_tx
from backend.evidence import states
from backend.evidence.policy import EvidencePolicy
from backend.evidence.service import decoded, set_status, thumbnail_key
from backend.evidence.tables import Evidence
from storage import ObjectMissing, ObjectStore
from storage.media import ImageReport, content_type_matches, examine_image, sniff

SEALER = "system:sealer"
# Images are spooled for Pillow while hashed; this much stays in memory, the rest on disk.
SPOOL_IN_MEMORY = 32 * 1024 * 1024
EARTH_RADIUS_M = 6_371_000.0


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance in metres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


async def _claim(evidence_id: uuid.UUID, policy: EvidencePolicy) -> dict[str, Any] | None:
    """Take the seal of an ``uploaded`` item, unless another worker holds a live claim."""
    now = clock.now()
    async with write_tx():
        rows = (
            await Evidence.update({Evidence.seal_claimed_at: now})
            .where(
                (Evidence.id == evidence_id)
                & (Evidence.status == states.UPLOADED)
                & (
                    Evidence.seal_claimed_at.is_null()
                    | (Evidence.seal_claimed_at < now - policy.seal_lease)
                )
            )
            .returning(*Evidence.all_columns())
            .run()
        )
    if not rows:
        return None
    return decoded(dict(rows[0]))


def _is_image(row: dict[str, Any]) -> bool:
    return row["kind"] == "photo" or str(row["content_type"]).startswith("image/")


async def _read_back(
    row: dict[str, Any], store: ObjectStore, spool: IO[bytes] | None
) -> tuple[str, int, bytes]:
    """One streaming read: SHA-256, size, the first bytes, and the image spooled if wanted."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    async for chunk in store.iter_object(row["object_key"], version_id=row["version_id"]):
        if len(head) < 8192:
            head += chunk[: 8192 - len(head)]
        size += len(chunk)
        if spool is not None:
            await asyncio.to_thread(_feed, digest, spool, chunk)
        else:
            await asyncio.to_thread(digest.update, chunk)
    return digest.hexdigest(), size, head


def _feed(digest: Any, spool: IO[bytes], chunk: bytes) -> None:
    digest.update(chunk)
    spool.write(chunk)


def _flags(
    row: dict[str, Any], head: bytes, report: ImageReport | None, policy: EvidencePolicy
) -> list[str]:
    flags: list[str] = []
    if not content_type_matches(row["content_type"], sniff(head)):
        flags.append("content_type_mismatch")
    if report is None:
        return flags
    flags.extend(report.problems)
    captured = row["captured_at"]
    if report.taken_at and abs(report.taken_at - captured) > policy.exif_time_tolerance:
        flags.append("exif_time_mismatch")
    site = row["media"].get("site")
    if site:
        where = (site["lat"], site["lon"])
        points = [report.gps] if report.gps else []
        if row["gps_lat"] is not None:
            points.append((row["gps_lat"], row["gps_lon"]))
        if any(distance_m(where, p) > policy.gps_tolerance_m for p in points):
            flags.append("gps_far_from_site")
    return flags


async def seal_evidence(
    *,
    evidence_id: uuid.UUID,
    store: ObjectStore,
    policy: EvidencePolicy,
    tz: ZoneInfo,
    actor: str = SEALER,
) -> str:
    """Seal one ``uploaded`` item; returns its status afterwards (harmless to call twice)."""
    row = await _claim(evidence_id, policy)
    if row is None:
        current = await Evidence.select(Evidence.status).where(Evidence.id == evidence_id).first()
        return str(current["status"]) if current else "missing"
    spool: Any = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) if _is_image(row) else None
    try:
        try:
            digest, size, head = await _read_back(row, store, spool)
        except ObjectMissing:
            digest, size, head = "", 0, b""
        if size != row["size"] or digest != row["sha256"]:
            reason = (
                f"integrity check failed: declared {row['size']} bytes with SHA-256 "
                f"{row['sha256']}, the store holds {size} bytes with SHA-256 {digest or 'none'}"
            )
            await set_status(
                row,
                states.REJECTED,
                actor=actor,
                action="evidence.rejected",
                payload={"reason": reason, "stored_sha256": digest, "stored_size": size},
                reject_reason=reason,
            )
            return states.REJECTED
        report = None
        if spool is not None:
            spool.seek(0)
            report = await asyncio.to_thread(
                examine_image, spool, max_pixels=policy.max_pixels, tz=tz
            )
    finally:
        if spool is not None:
            spool.close()
    return await _finish(row, head, report, store=store, policy=policy, actor=actor)


async def _finish(
    row: dict[str, Any],
    head: bytes,
    report: ImageReport | None,
    *,
    store: ObjectStore,
    policy: EvidencePolicy,
    actor: str,
) -> str:
    media = dict(row["media"])
    media["detected_type"] = sniff(head)
    until = clock.now() + policy.retention
    key, version = row["object_key"], row["version_id"]
    writes = [store.set_retention(key, until=until, version_id=version)]
    if report is not None:
        media.update(report.facts())
        writes.extend(
            store.put_bytes(thumbnail_key(row["id"], size), data, content_type="image/jpeg")
            for size, data in report.thumbnails.items()
        )
        if report.thumbnails:
            media["thumbnails"] = sorted(report.thumbnails)
    flags = _flags(row, head, report, policy)
    # The lock and the thumbnails are independent requests to the store.
    await asyncio.gather(*writes)
    if row["legal_hold"]:
        await store.set_legal_hold(key, on=True, version_id=version)
    await set_status(
        row,
        states.SEALED,
        actor=actor,
        action="evidence.sealed",
        payload={
            "sha256": row["sha256"],
            "size": row["size"],
            "object_key": key,
            "version_id": version,
            "retain_until": until,
            "legal_hold": row["legal_hold"],
            "flags": flags,
        },
        sealed_at=clock.now(),
        retain_until=until,
        flags=flags,
        media=media,
    )
    # A legal hold placed while we were sealing must reach the store too.
    now_held = await Evidence.select(Evidence.legal_hold).where(Evidence.id == row["id"]).first()
    if now_held and now_held["legal_hold"] and not row["legal_hold"]:
        await store.set_legal_hold(key, on=True, version_id=version)
    return states.SEALED


async def seal_pending_uploads(
    *, store: ObjectStore, policy: EvidencePolicy, tz: ZoneInfo, limit: int = 50
) -> int:
    """Seal items left ``uploaded`` (large ones, or after a crash); returns how many."""
    stale = clock.now() - policy.seal_lease
    rows = (
        await Evidence.select(Evidence.id)
        .where(
            (Evidence.status == states.UPLOADED)
            & (Evidence.seal_claimed_at.is_null() | (Evidence.seal_claimed_at < stale))
        )
        .order_by(Evidence.uploaded_at)
        .limit(limit)
        .run()
    )
    done = 0
    for r in rows:
        if await seal_evidence(evidence_id=r["id"], store=store, policy=policy, tz=tz) in (
            states.SEALED,
            states.REJECTED,
        ):
            done += 1
    return done


async def is_small(evidence_id: uuid.UUID, policy: EvidencePolicy) -> bool:
    """Whether an item is small enough to seal within the request that completed it."""
    row = await Evidence.select(Evidence.size).where(Evidence.id == evidence_id).first()
    return row is not None and int(row["size"]) <= policy.inline_seal_max
