"""Sealing: read the uploaded object back once, hash it, make image derivatives in the same
pass, lock it (COMPLIANCE retention, legal hold for cases) and record the seal.

A mismatch marks the item ``rejected`` and keeps its bytes for inspection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import logging
import math
import tempfile
import uuid
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import IO, Any
from zoneinfo import ZoneInfo

from backend.audit import service as audit
from backend.core import clock
from backend.core.auth import Principal
from backend.core.db import write_tx
from backend.core.errors import Conflict
from backend.evidence import schemas as s
from backend.evidence import service, states
from backend.evidence.policy import EvidencePolicy
from backend.evidence.service import advance, decoded, stream_of, thumbnail_key
from backend.evidence.tables import Evidence
from storage import ObjectInfo, ObjectMissing, ObjectStore
from storage.arriving import ArrivingFile
from storage.media import ImageReport, content_type_matches, examine_image, sniff

log = logging.getLogger(__name__)

SEALER = "system:sealer"
# Images up to this size are decoded from memory as they stream in; larger ones via disk.
SPOOL_IN_MEMORY = 32 * 1024 * 1024
EARTH_RADIUS_M = 6_371_000.0
# S3 servers give lock dates to the second (moto) or millisecond; allow for the rounding.
LOCK_DATE_SLACK = dt.timedelta(minutes=1)


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


@dataclass(frozen=True)
class ReadBack:
    """What one verifying read of the stored object found."""

    info: ObjectInfo | None  # None: nothing stored under the key
    size: int
    sha256: str
    head: bytes

    def matches(self, row: dict[str, Any]) -> bool:
        return self.size == row["size"] and self.sha256 == row["sha256"]


async def _read_back(
    row: dict[str, Any], store: ObjectStore, sink: Callable[[bytes], Any] | None
) -> ReadBack:
    """One streaming GET: the object's facts, SHA-256, size, first bytes; each chunk also
    goes to ``sink`` (the picture for Pillow).

    The GET answer carries the size and lock state, so no HEAD is needed; an object of
    another size than declared is not read at all.
    """
    try:
        reader = await store.open_object(row["object_key"], version_id=row["version_id"])
    except ObjectMissing:
        return ReadBack(info=None, size=0, sha256="", head=b"")
    digest = hashlib.sha256()
    size = 0
    head = b""
    async with aclosing(reader.chunks) as chunks:
        if reader.info.size != row["size"]:
            return ReadBack(info=reader.info, size=reader.info.size, sha256="", head=b"")
        async for chunk in chunks:
            if len(head) < 8192:
                head += chunk[: 8192 - len(head)]
            size += len(chunk)
            await asyncio.to_thread(_feed, digest, sink, chunk)
    return ReadBack(info=reader.info, size=size, sha256=digest.hexdigest(), head=head)


def _feed(digest: Any, sink: Callable[[bytes], Any] | None, chunk: bytes) -> None:
    digest.update(chunk)
    if sink is not None:
        sink(chunk)


async def _verify(
    row: dict[str, Any], store: ObjectStore, policy: EvidencePolicy, tz: ZoneInfo
) -> tuple[ReadBack, ImageReport | None]:
    """Read the object back once; for an image, examine it (off the event loop).

    A picture that fits in memory is decoded while it streams in (the decoder waits for
    bytes still on the way); a larger one is spooled to disk and examined after.
    """
    if not _is_image(row):
        return await _read_back(row, store, None), None
    if row["size"] > SPOOL_IN_MEMORY:
        with tempfile.TemporaryFile() as spool:
            back = await _read_back(row, store, spool.write)
            if not back.matches(row):
                return back, None
            spool.seek(0)
            return back, await asyncio.to_thread(_examine, spool, policy, tz)
    arriving = ArrivingFile()
    picture = io.BufferedReader(arriving)
    examining = asyncio.create_task(asyncio.to_thread(_examine, picture, policy, tz))
    try:
        back = await _read_back(row, store, arriving.feed)
    finally:
        arriving.finish()
        report = await examining
    return back, report if back.matches(row) else None


def _examine(source: IO[bytes], policy: EvidencePolicy, tz: ZoneInfo) -> ImageReport:
    return examine_image(source, max_pixels=policy.max_pixels, tz=tz)


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


def default_lock(
    info: ObjectInfo, row: dict[str, Any], policy: EvidencePolicy
) -> dt.datetime | None:
    """The retain-until date the store already set (the bucket's default rule), if it is
    COMPLIANCE and long enough; None means sealing must set retention itself."""
    if info.retention_mode != "COMPLIANCE" or info.retain_until is None:
        return None
    # The default counts from the PUT, which follows the session; S3 dates are rounded.
    wanted = row["created_at"] + policy.retention - LOCK_DATE_SLACK
    return info.retain_until if info.retain_until >= wanted else None


def _uploaded_event(back: ReadBack) -> tuple[str, dict[str, Any]]:
    assert back.info is not None
    return (
        "evidence.uploaded",
        {"size": back.size, "etag": back.info.etag, "version_id": back.info.version_id},
    )


async def _reject(row: dict[str, Any], back: ReadBack, *, actor: str, from_pending: bool) -> str:
    now = clock.now()
    if back.size != row["size"]:
        reason = f"size mismatch: declared {row['size']} bytes, received {back.size}"
        events = [("evidence.rejected", {"reason": reason, "received_size": back.size})]
    else:
        reason = (
            f"integrity check failed: declared {row['size']} bytes with SHA-256 "
            f"{row['sha256']}, the store holds {back.size} bytes with SHA-256 {back.sha256}"
        )
        events = [
            *([_uploaded_event(back)] if from_pending else []),
            (
                "evidence.rejected",
                {"reason": reason, "stored_sha256": back.sha256, "stored_size": back.size},
            ),
        ]
    path = [states.UPLOADED, states.REJECTED] if len(events) == 2 else [states.REJECTED]
    extra: dict[str, Any] = (
        {"uploaded_at": now, "version_id": back.info.version_id}
        if from_pending and back.info is not None
        else {}
    )
    await advance(row, path, events, actor=actor, reject_reason=reason, **extra)
    return states.REJECTED


async def _seal(
    row: dict[str, Any],
    back: ReadBack,
    report: ImageReport | None,
    *,
    store: ObjectStore,
    policy: EvidencePolicy,
    actor: str,
    from_pending: bool,
) -> str:
    """Lock the verified object, write the derivatives, record the seal."""
    assert back.info is not None
    key, version = row["object_key"], back.info.version_id
    media = dict(row["media"])
    media["detected_type"] = sniff(back.head)
    # Thumbnails are not evidence: they go up while the lock and the record are made.
    thumbnails = []
    if report is not None:
        media.update(report.facts())
        thumbnails = [
            asyncio.create_task(
                store.put_bytes(thumbnail_key(row["id"], size), data, content_type="image/jpeg")
            )
            for size, data in report.thumbnails.items()
        ]
        if report.thumbnails:
            media["thumbnails"] = sorted(report.thumbnails)
    until = default_lock(back.info, row, policy)
    retention = "bucket_default"
    if until is None:
        until, retention = clock.now() + policy.retention, "set_by_sealer"
        await store.set_retention(key, until=until, version_id=version)
    flags = _flags(row, back.head, report, policy)
    now = clock.now()
    sealed = (
        "evidence.sealed",
        {
            "sha256": row["sha256"],
            "size": row["size"],
            "object_key": key,
            "version_id": version,
            "retain_until": until,
            "retention": retention,
            "legal_hold": row["legal_hold"],
            "flags": flags,
        },
    )
    done = await advance(
        row,
        [states.UPLOADED, states.SEALED] if from_pending else [states.SEALED],
        [_uploaded_event(back), sealed] if from_pending else [sealed],
        actor=actor,
        sealed_at=now,
        retain_until=until,
        flags=flags,
        media=media,
        version_id=version,
        **({"uploaded_at": now} if from_pending else {}),
    )
    failed = [r for r in await asyncio.gather(*thumbnails, return_exceptions=True) if r]
    if done is None:
        return await _status_of(row["id"])
    if failed:
        await _drop_thumbnails(row, media, failed, actor=actor)
    # The hold flag as of the seal: a hold placed before it is ours to put in the store.
    if done["legal_hold"]:
        await store.set_legal_hold(key, on=True, version_id=version)
    return states.SEALED


async def _drop_thumbnails(
    row: dict[str, Any], media: dict[str, Any], failed: list[BaseException], *, actor: str
) -> None:
    log.warning("evidence %s: thumbnails not stored: %s", row["id"], failed[0])
    media = {k: v for k, v in media.items() if k != "thumbnails"}
    async with write_tx():
        await Evidence.update({Evidence.media: media}).where(Evidence.id == row["id"]).run()
        await audit.record(
            stream=stream_of(row["id"]),
            action="evidence.derivatives.failed",
            actor=actor,
            org_unit_id=row["org_unit"],
            payload={"error": str(failed[0])[:500]},
        )


async def _status_of(evidence_id: uuid.UUID) -> str:
    current = await Evidence.select(Evidence.status).where(Evidence.id == evidence_id).first()
    return str(current["status"]) if current else "missing"


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
        return await _status_of(evidence_id)
    back, report = await _verify(row, store, policy, tz)
    if back.info is None or not back.matches(row):
        return await _reject(row, back, actor=actor, from_pending=False)
    return await _seal(
        row, back, report, store=store, policy=policy, actor=actor, from_pending=False
    )


async def seal_on_complete(
    *, row: dict[str, Any], store: ObjectStore, policy: EvidencePolicy, tz: ZoneInfo, actor: str
) -> str:
    """Seal a small ``pending`` item within the request that completes its upload.

    pending → uploaded → sealed (or rejected) in one transaction with both audit events:
    one GET, one Pillow pass, one write. Nothing there yet is a 409 that changes nothing.
    """
    back, report = await _verify(row, store, policy, tz)
    if back.info is None:
        raise Conflict(
            "no bytes have arrived yet; PUT them to the upload URL first",
            code="evidence.not_uploaded",
        )
    if not back.matches(row):
        return await _reject(row, back, actor=actor, from_pending=True)
    return await _seal(
        row, back, report, store=store, policy=policy, actor=actor, from_pending=True
    )


async def complete_upload(
    *,
    principal: Principal,
    evidence_id: uuid.UUID,
    data: s.CompleteIn,
    store: ObjectStore,
    policy: EvidencePolicy,
    tz: ZoneInfo,
) -> s.SessionOut:
    """The client says the bytes are there. A small single PUT is sealed at once; a large
    or multipart item is checked for size and left ``uploaded`` for ``seal_evidence``.

    Completing again is harmless: it answers the current state.
    """
    row = await service.fetch(principal, evidence_id)
    if row["status"] != states.PENDING:
        return service.answer(row)
    if row["part_size"] is not None or row["size"] > policy.inline_seal_max:
        status = await service.mark_uploaded(
            row, parts=data.parts, store=store, actor=principal.actor
        )
    else:
        status = await seal_on_complete(
            row=row, store=store, policy=policy, tz=tz, actor=principal.actor
        )
    if status in (states.SEALED, states.UPLOADED):
        return s.SessionOut(evidence_id=row["id"], status=status)
    # Rejected (the answer names why), or someone else moved it first.
    return service.answer(await service.fetch(principal, evidence_id))


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
