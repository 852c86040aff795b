"""Upload sessions, reads with their chain of custody, withdrawal, and the export feed.

Every write (and every read of an item: view, download, export) appends an event to the
stream ``evidence:<id>`` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import urljoin

from backend.audit import service as audit
from backend.audit.schemas import AuditEventOut
from backend.core import clock, scope
from backend.core.auth import Principal, check_roles
from backend.core.db import write_tx
from backend.core.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from backend.core.schemas import to_struct
from backend.evidence import schemas as s
from backend.evidence import states, targets
from backend.evidence.policy import EvidencePolicy
from backend.evidence.tables import Evidence, EvidenceCaseLink
from backend.orgs.tables import OrgUnit
from storage import ObjectMissing, ObjectStore, PartInfo

UPLOADERS = ("officer", "squad_leader", "head", "supervisor", "admin")
WITHDRAWERS = ("squad_leader", "head", "legal_reviewer", "admin")
ATTACHERS = (*UPLOADERS, "legal_reviewer")
KIND_TYPES = {"photo": "image/", "video": "video/", "audio": "audio/"}
SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def stream_of(evidence_id: uuid.UUID | str) -> str:
    return f"evidence:{evidence_id}"


def thumbnail_key(evidence_id: uuid.UUID | str, size: int) -> str:
    return f"derived/{evidence_id}/{size}.jpg"


def human_bytes(n: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


def part_count(row: dict[str, Any]) -> int:
    return math.ceil(row["size"] / row["part_size"])


def load_json(raw: Any, default: Any) -> Any:
    if raw is None or raw == "":
        return default
    return json.loads(raw) if isinstance(raw, str) else raw


def decoded(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its JSON columns (flags, media) as Python values."""
    row["flags"] = load_json(row["flags"], [])
    row["media"] = load_json(row["media"], {})
    return row


async def fetch(principal: Principal, evidence_id: uuid.UUID) -> dict[str, Any]:
    row = await scope.fetch(
        Evidence, evidence_id, principal, org_column=Evidence.org_unit, what="evidence"
    )
    return decoded(row)


def to_out(row: dict[str, Any], thumbnails: dict[str, str] | None = None) -> s.EvidenceOut:
    media = dict(row["media"])
    media.pop("site", None)
    media.pop("thumbnails", None)
    gps = (
        {"lat": row["gps_lat"], "lon": row["gps_lon"], "accuracy": row["gps_accuracy"]}
        if row["gps_lat"] is not None
        else None
    )
    return to_struct(
        s.EvidenceOut,
        {
            **row,
            "org_unit_id": row["org_unit"],
            "gps": gps,
            "media": media,
            "withdrawn": row["withdrawn_at"] is not None,
            "thumbnails": thumbnails,
        },
    )


def _target_of(data: s.EvidenceIn) -> tuple[str, uuid.UUID]:
    given = [
        (kind, ident)
        for kind, ident in (
            ("task", data.task_id),
            ("case", data.case_id),
            (data.target_kind, data.target_id),
        )
        if kind is not None and ident is not None
    ]
    if (data.target_kind is None) != (data.target_id is None):
        raise BadRequest("target_kind and target_id go together", code="evidence.target_incomplete")
    if len(given) != 1:
        raise BadRequest(
            "give exactly one target: task_id, case_id, or target_kind with target_id",
            code="evidence.target_required",
        )
    # The filter above dropped every pair with a None, which mypy cannot follow.
    return given[0][0] or "", given[0][1]  # type: ignore[return-value]


def _check_declared(data: s.EvidenceIn, policy: EvidencePolicy) -> None:
    if data.size > policy.max_bytes:
        raise PayloadTooLarge(
            f"size {data.size} exceeds the evidence size limit of "
            f"{human_bytes(policy.max_bytes)} ({policy.max_bytes} bytes)",
            code="evidence.too_large",
            extra={"limit": policy.max_bytes},
        )
    prefix = KIND_TYPES.get(data.kind)
    if prefix and not data.content_type.lower().startswith(prefix):
        raise BadRequest(
            f"content_type {data.content_type} does not fit kind {data.kind} (expected {prefix}*)",
            code="evidence.content_type_mismatch",
        )


async def _org_segment(org_unit_id: uuid.UUID) -> str:
    row = await OrgUnit.select(OrgUnit.code).where(OrgUnit.id == org_unit_id).first().run()
    code = row["code"] if row else ""
    return code if SAFE_SEGMENT.fullmatch(code) else str(org_unit_id)


async def _upload_for(
    row: dict[str, Any], *, store: ObjectStore, policy: EvidencePolicy, base_url: str
) -> s.UploadOut:
    if row["part_size"] is None:
        request = await store.presign_put(
            row["object_key"],
            sha256_hex=row["sha256"],
            content_type=row["content_type"],
            expires=policy.upload_url_ttl,
        )
        return s.UploadOut(
            method=request.method, url=urljoin(base_url, request.url), headers=request.headers
        )
    numbers = range(1, part_count(row) + 1)
    return s.UploadOut(
        multipart=s.MultipartOut(
            part_size=row["part_size"],
            parts=await _part_urls(row, numbers, store=store, policy=policy, base_url=base_url),
        )
    )


async def _part_urls(
    row: dict[str, Any],
    numbers: Any,
    *,
    store: ObjectStore,
    policy: EvidencePolicy,
    base_url: str,
) -> list[s.UploadPartOut]:
    return [
        s.UploadPartOut(
            number=n,
            url=urljoin(
                base_url,
                await store.presign_part(
                    row["object_key"],
                    upload_id=row["upload_id"],
                    number=n,
                    expires=policy.upload_url_ttl,
                ),
            ),
        )
        for n in numbers
    ]


async def _session(
    row: dict[str, Any], *, store: ObjectStore, policy: EvidencePolicy, base_url: str
) -> s.SessionOut:
    upload = None
    if row["status"] == states.PENDING:
        upload = await _upload_for(row, store=store, policy=policy, base_url=base_url)
    return s.SessionOut(
        evidence_id=row["id"], status=row["status"], upload=upload, detail=row["reject_reason"]
    )


async def _by_client_id(client_id: uuid.UUID) -> dict[str, Any] | None:
    return await Evidence.select().where(Evidence.client_id == client_id).first().run()


def _same_declaration(row: dict[str, Any], data: s.EvidenceIn, target: tuple[str, Any]) -> bool:
    return (
        row["sha256"] == data.sha256.lower()
        and row["size"] == data.size
        and (row["target_kind"], str(row["target_id"])) == (target[0], str(target[1]))
    )


async def _replay(
    principal: Principal,
    row: dict[str, Any],
    data: s.EvidenceIn,
    target: tuple[str, uuid.UUID],
    **kw: Any,
) -> s.SessionOut:
    scope.require(principal, row["org_unit"], what="evidence")
    if not _same_declaration(row, data, target):
        raise Conflict(
            "this client_id was already used for different evidence",
            code="evidence.client_id_reused",
        )
    return await _session(row, **kw)


async def create_upload(
    *,
    principal: Principal,
    data: s.EvidenceIn,
    store: ObjectStore,
    policy: EvidencePolicy,
    base_url: str = "",
) -> s.SessionOut:
    """Open an upload session (or return the one this ``client_id`` already opened)."""
    check_roles(principal, UPLOADERS, action="uploading evidence")
    target = _target_of(data)
    _check_declared(data, policy)
    kw: dict[str, Any] = {"store": store, "policy": policy, "base_url": base_url}
    existing = await _by_client_id(data.client_id)
    if existing is not None:
        return await _replay(principal, existing, data, target, **kw)
    site = await targets.resolve(principal, target[0], target[1])
    now = clock.now()
    evidence_id = uuid.uuid4()
    sha = data.sha256.lower()
    org = await _org_segment(site.org_unit_id)
    key = f"evidence/{org}/{now:%Y}/{now:%m}/{evidence_id}/{sha}"
    upload_id = None
    part_size = None
    if data.size > policy.single_put_max:
        part_size = policy.part_size
        upload_id = await store.create_multipart(key, content_type=data.content_type)
    media: dict[str, Any] = {}
    if site.lat is not None and site.lon is not None:
        media["site"] = {"lat": site.lat, "lon": site.lon}
    row = Evidence(
        id=evidence_id,
        client_id=data.client_id,
        org_unit=site.org_unit_id,
        target_kind=target[0],
        target_id=target[1],
        kind=data.kind,
        content_type=data.content_type,
        size=data.size,
        sha256=sha,
        object_key=key,
        status=states.PENDING,
        upload_id=upload_id,
        part_size=part_size,
        captured_at=data.captured_at.astimezone(dt.UTC),
        device_id=data.device_id,
        uploaded_via_device=principal.device_id,
        gps_lat=data.gps.lat if data.gps else None,
        gps_lon=data.gps.lon if data.gps else None,
        gps_accuracy=data.gps.accuracy if data.gps else None,
        created_by=principal.actor,
        created_at=now,
        legal_hold=target[0] == "case",
        flags=[],
        media=media,
    )
    async with write_tx():
        # A concurrent request with the same client_id may have won the race.
        inserted = (
            await Evidence.insert(row)
            .on_conflict(target=Evidence.client_id, action="DO NOTHING")
            .returning(Evidence.id)
            .run()
        )
        if inserted:
            await audit.record(
                stream=stream_of(evidence_id),
                action="evidence.created",
                actor=principal.actor,
                org_unit_id=site.org_unit_id,
                payload={
                    "client_id": data.client_id,
                    "target": f"{target[0]}:{target[1]}",
                    "kind": data.kind,
                    "content_type": data.content_type,
                    "size": data.size,
                    "sha256": sha,
                    "captured_at": data.captured_at,
                    "device_id": data.device_id,
                    "via_device": principal.device_id,
                    "address": principal.address,
                    "multipart": upload_id is not None,
                },
            )
    if not inserted:
        if upload_id:
            await store.abort_multipart(key, upload_id=upload_id)
        raced = await _by_client_id(data.client_id)
        assert raced is not None  # client_ids are never deleted
        return await _replay(principal, raced, data, target, **kw)
    # The row as inserted: no need to read it back.
    return await _session(row.to_dict(), **kw)


async def get_session(
    *,
    principal: Principal,
    evidence_id: uuid.UUID,
    store: ObjectStore,
    policy: EvidencePolicy,
    base_url: str = "",
) -> s.SessionOut:
    row = await fetch(principal, evidence_id)
    return await _session(row, store=store, policy=policy, base_url=base_url)


async def list_parts(
    *,
    principal: Principal,
    evidence_id: uuid.UUID,
    store: ObjectStore,
    policy: EvidencePolicy,
    base_url: str = "",
) -> s.PartsOut:
    """Which parts of a multipart upload arrived, and fresh URLs for the missing ones."""
    row = await fetch(principal, evidence_id)
    if row["part_size"] is None:
        raise BadRequest(
            "this evidence is uploaded with a single PUT", code="evidence.not_multipart"
        )
    received: list[PartInfo] = []
    missing: list[s.UploadPartOut] = []
    if row["status"] == states.PENDING:
        try:
            received = await store.list_parts(row["object_key"], upload_id=row["upload_id"])
        except ObjectMissing:
            received = []
        have = {p.number for p in received}
        wanted = [n for n in range(1, part_count(row) + 1) if n not in have]
        missing = await _part_urls(row, wanted, store=store, policy=policy, base_url=base_url)
    return s.PartsOut(
        evidence_id=row["id"],
        status=row["status"],
        size=row["size"],
        part_size=row["part_size"],
        received=[s.ReceivedPartOut(number=p.number, size=p.size, etag=p.etag) for p in received],
        missing=missing,
    )


async def _assemble(row: dict[str, Any], parts: list[s.PartIn] | None, store: ObjectStore) -> None:
    """Complete a multipart upload after checking every part is there with the right ETag."""
    key, upload_id = row["object_key"], row["upload_id"]
    try:
        arrived = await store.list_parts(key, upload_id=upload_id)
    except ObjectMissing:
        # Completed before a crash: the object is there, the upload is gone.
        if await store.exists(key):
            return
        raise Conflict("the upload was aborted; start again", code="evidence.upload_gone") from None
    by_number = {p.number: p for p in arrived}
    expected = range(1, part_count(row) + 1)
    missing = [n for n in expected if n not in by_number]
    if missing:
        raise Conflict(
            f"parts not received yet: {', '.join(map(str, missing))}",
            code="evidence.parts_missing",
            extra={"missing": missing},
        )
    for part in parts or []:
        got = by_number.get(part.number)
        if got is not None and got.etag != part.etag.strip('"'):
            raise Conflict(
                f"part {part.number} arrived with ETag {got.etag}, not {part.etag}; "
                "upload it again",
                code="evidence.part_etag_mismatch",
                extra={"part": part.number},
            )
    chosen = [by_number[n] for n in expected]
    total = sum(p.size for p in chosen)
    if total != row["size"]:
        raise Conflict(
            f"the parts add up to {total} bytes, not the declared {row['size']}",
            code="evidence.size_mismatch",
        )
    await store.complete_multipart(key, upload_id=upload_id, parts=chosen)


def _columns(values: dict[str, Any]) -> dict[Any, Any]:
    return {getattr(Evidence, k): v for k, v in values.items()}


async def advance(
    row: dict[str, Any],
    path: list[str],
    events: list[tuple[str, dict[str, Any]]],
    *,
    actor: str,
    **values: Any,
) -> dict[str, Any] | None:
    """Move ``row`` along ``path`` (each step checked against the transition table) in one
    transaction that appends ``events`` (action, payload) in order.

    Only if the row is still in its current state; returns its ``legal_hold`` afterwards,
    or None if someone else moved it first.
    """
    current = row["status"]
    for step in path:
        states.check_transition(current, step)
        current = step
    async with write_tx():
        changed = (
            await Evidence.update({Evidence.status: current, **_columns(values)})
            .where((Evidence.id == row["id"]) & (Evidence.status == row["status"]))
            .returning(Evidence.legal_hold)
            .run()
        )
        if not changed:
            return None
        await audit.record_many(
            [
                audit.PendingEvent(
                    stream=stream_of(row["id"]),
                    action=action,
                    actor=actor,
                    payload=payload,
                    org_unit_id=row["org_unit"],
                )
                for action, payload in events
            ]
        )
    return dict(changed[0])


async def set_status(
    row: dict[str, Any],
    new: str,
    *,
    actor: str,
    action: str,
    payload: dict[str, Any],
    **values: Any,
) -> bool:
    """Move ``row`` to ``new`` if it is still in its current state; False if someone else did."""
    return await advance(row, [new], [(action, payload)], actor=actor, **values) is not None


async def mark_uploaded(
    row: dict[str, Any], *, parts: list[s.PartIn] | None, store: ObjectStore, actor: str
) -> str:
    """A large (or multipart) ``pending`` item: assemble it, check its size and move it to
    ``uploaded`` for ``sealing.seal_evidence``; returns the new status."""
    if row["part_size"] is not None:
        await _assemble(row, parts, store)
    try:
        info = await store.stat(row["object_key"])
    except ObjectMissing:
        raise Conflict(
            "no bytes have arrived yet; PUT them to the upload URL first",
            code="evidence.not_uploaded",
        ) from None
    if info.size != row["size"]:
        reason = f"size mismatch: declared {row['size']} bytes, received {info.size}"
        await set_status(
            row,
            states.REJECTED,
            actor=actor,
            action="evidence.rejected",
            payload={"reason": reason, "received_size": info.size},
            reject_reason=reason,
            uploaded_at=clock.now(),
        )
        return states.REJECTED
    moved = await set_status(
        row,
        states.UPLOADED,
        actor=actor,
        action="evidence.uploaded",
        payload={"size": info.size, "etag": info.etag, "version_id": info.version_id},
        uploaded_at=clock.now(),
        version_id=info.version_id,
    )
    return states.UPLOADED if moved else ""


def answer(row: dict[str, Any]) -> s.SessionOut:
    return s.SessionOut(evidence_id=row["id"], status=row["status"], detail=row["reject_reason"])


# ---------------------------------------------------------------------------
# Reads (each one a custody event)


async def _custody(principal: Principal, row: dict[str, Any], action: str, **extra: Any) -> None:
    async with write_tx():
        await audit.record(
            stream=stream_of(row["id"]),
            action=action,
            actor=principal.actor,
            org_unit_id=row["org_unit"],
            payload={"device_id": principal.device_id, "address": principal.address, **extra},
        )


async def get_evidence(
    *,
    principal: Principal,
    evidence_id: uuid.UUID,
    store: ObjectStore,
    policy: EvidencePolicy,
    base_url: str = "",
) -> s.EvidenceOut:
    row = await fetch(principal, evidence_id)
    await _custody(principal, row, "evidence.viewed")
    thumbnails = None
    if row["media"].get("thumbnails"):
        thumbnails = {
            str(size): urljoin(
                base_url,
                await store.presign_get(
                    thumbnail_key(row["id"], size), expires=policy.download_url_ttl
                ),
            )
            for size in row["media"]["thumbnails"]
        }
    return to_out(row, thumbnails)


def _filename(row: dict[str, Any]) -> str:
    subtype = row["content_type"].split("/")[-1].split("+")[0].lower()
    ext = {"jpeg": "jpg", "quicktime": "mov", "mpeg": "mp3"}.get(subtype, subtype)
    return f"{row['id']}.{ext}" if SAFE_SEGMENT.fullmatch(ext) else str(row["id"])


async def download(
    *,
    principal: Principal,
    evidence_id: uuid.UUID,
    store: ObjectStore,
    policy: EvidencePolicy,
    base_url: str = "",
) -> s.DownloadOut:
    """A presigned GET of the original, valid 60 s; audited as a custody event."""
    row = await fetch(principal, evidence_id)
    if row["status"] not in (states.SEALED, states.REJECTED):
        raise Conflict(
            f"evidence that is {row['status']} cannot be downloaded yet",
            code="evidence.not_downloadable",
        )
    filename = _filename(row)
    url = await store.presign_get(
        row["object_key"],
        version_id=row["version_id"],
        expires=policy.download_url_ttl,
        filename=filename,
    )
    await _custody(principal, row, "evidence.downloaded", sha256=row["sha256"])
    return s.DownloadOut(
        url=urljoin(base_url, url),
        expires_in=int(policy.download_url_ttl.total_seconds()),
        sha256=row["sha256"],
        size=row["size"],
        filename=filename,
    )


async def custody_trail(*, principal: Principal, evidence_id: uuid.UUID) -> list[AuditEventOut]:
    row = await fetch(principal, evidence_id)
    events = await audit.list_events(stream=stream_of(row["id"]), limit=10_000)
    return [to_struct(AuditEventOut, e) for e in events]


async def list_evidence(
    *,
    principal: Principal,
    target_kind: str | None = None,
    target_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[s.EvidenceOut], int]:
    query = scope.restrict(Evidence.select(), principal, Evidence.org_unit)
    count = scope.restrict(Evidence.count(), principal, Evidence.org_unit)
    for column, value in (
        (Evidence.target_kind, target_kind),
        (Evidence.target_id, target_id),
        (Evidence.status, status),
    ):
        if value is not None:
            query = query.where(column == value)
            count = count.where(column == value)
    rows = await query.order_by(Evidence.created_at).limit(limit).offset(offset).run()
    return [to_out(decoded(r)) for r in rows], await count.run()


async def withdraw(*, principal: Principal, evidence_id: uuid.UUID, reason: str) -> s.EvidenceOut:
    """Mark an item withdrawn with a reason; the record and its bytes stay."""
    check_roles(principal, WITHDRAWERS, action="withdrawing evidence")
    row = await fetch(principal, evidence_id)
    async with write_tx():
        current = (
            await Evidence.select(Evidence.withdrawn_at)
            .where(Evidence.id == row["id"])
            .first()
            .run()
        )
        if current and current["withdrawn_at"] is not None:
            raise Conflict("this evidence is already withdrawn", code="evidence.already_withdrawn")
        now = clock.now()
        await (
            Evidence.update(
                {
                    Evidence.withdrawn_at: now,
                    Evidence.withdrawn_by: principal.actor,
                    Evidence.withdraw_reason: reason,
                }
            )
            .where(Evidence.id == row["id"])
            .run()
        )
        await audit.record(
            stream=stream_of(row["id"]),
            action="evidence.withdrawn",
            actor=principal.actor,
            org_unit_id=row["org_unit"],
            payload={"reason": reason, "status": row["status"]},
        )
    return to_out(await fetch(principal, evidence_id))


# ---------------------------------------------------------------------------
# For other domains (the case file export)


async def evidence_files(
    *, principal: Principal, target_kind: str, target_id: uuid.UUID
) -> list[s.EvidenceFileOut]:
    """Every item of a target (withdrawn ones too, marked) with its hash and custody trail;
    for a case, items attached to it later (``attach_to_case``) too."""
    own = (Evidence.target_kind == target_kind) & (Evidence.target_id == target_id)
    # A case's evidence also includes items attached to it after capture.
    linked = await linked_evidence_ids(target_id) if target_kind == "case" else []
    rows = await (
        scope.restrict(Evidence.select(), principal, Evidence.org_unit)
        .where(own | Evidence.id.is_in(linked) if linked else own)
        .order_by(Evidence.captured_at)
        .run()
    )
    trails = await audit.events_by_stream([stream_of(row["id"]) for row in rows])
    out = []
    for row in map(decoded, rows):
        events = trails[stream_of(row["id"])]
        base = to_out(row)
        out.append(
            s.EvidenceFileOut(
                **{f: getattr(base, f) for f in base.__struct_fields__},
                object_key=row["object_key"],
                version_id=row["version_id"],
                custody=[to_struct(AuditEventOut, e) for e in events],
            )
        )
    return out


async def open_original(
    *, principal: Principal, evidence_id: uuid.UUID, store: ObjectStore, purpose: str = "export"
) -> tuple[s.EvidenceOut, AsyncIterator[bytes]]:
    """Stream a sealed original's bytes (chunk by chunk), audited as ``evidence.exported``."""
    row = await fetch(principal, evidence_id)
    if row["status"] != states.SEALED:
        raise Conflict(
            f"evidence that is {row['status']} has no sealed original", code="evidence.not_sealed"
        )
    await _custody(principal, row, "evidence.exported", purpose=purpose, sha256=row["sha256"])
    chunks = store.iter_object(row["object_key"], version_id=row["version_id"])
    return to_out(row), chunks


async def export_originals(
    *,
    principal: Principal,
    evidence_ids: Sequence[uuid.UUID],
    purpose: str,
    export: Mapping[str, Any],
) -> list[s.OriginalOut]:
    """Release the sealed originals of one export: one ``evidence.exported`` custody event per
    item (in its own stream ``evidence:<id>``, naming the export), all in ONE transaction.

    Joins the caller's ``write_tx()`` when there is one. Returns the items in the order asked,
    with where their bytes are; reading them (``store.iter_object``) writes nothing more.
    """
    wanted = list(dict.fromkeys(evidence_ids))
    if not wanted:
        return []
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found = await (
            scope.restrict(Evidence.select(), principal, Evidence.org_unit)
            .where(Evidence.id.is_in(chunk))
            .run()
        )
        rows.update({r["id"]: decoded(r) for r in found})
    missing = [str(i) for i in wanted if i not in rows]
    if missing:
        raise NotFound(f"evidence not found: {', '.join(missing)}", code="evidence.not_found")
    unsealed = [f"{i} ({rows[i]['status']})" for i in wanted if rows[i]["status"] != states.SEALED]
    if unsealed:
        raise Conflict(
            f"evidence without a sealed original: {', '.join(unsealed)}",
            code="evidence.not_sealed",
        )
    where = {"device_id": principal.device_id, "address": principal.address}
    async with write_tx():
        await audit.record_many(
            [
                audit.PendingEvent(
                    stream=stream_of(i),
                    action="evidence.exported",
                    actor=principal.actor,
                    org_unit_id=rows[i]["org_unit"],
                    payload={
                        **where,
                        "purpose": purpose,
                        "export": dict(export),
                        "sha256": rows[i]["sha256"],
                    },
                )
                for i in wanted
            ]
        )
    return [
        s.OriginalOut(
            evidence=to_out(rows[i]),
            object_key=rows[i]["object_key"],
            version_id=rows[i]["version_id"],
        )
        for i in wanted
    ]


async def attach_to_case(
    *, principal: Principal, evidence_id: uuid.UUID, case_id: uuid.UUID, store: ObjectStore
) -> s.EvidenceOut:
    """Make an item evidence of a case after capture (a task photo that a case now needs).

    The case must resolve for the principal (the cases domain's ``case`` target: exists,
    in scope, writable). One link per (item, case); the item is kept for good from then on
    (legal hold in the database and in the store). Attaching again changes nothing.
    """
    check_roles(principal, ATTACHERS, action="attaching evidence to a case")
    row = await fetch(principal, evidence_id)
    await targets.resolve(principal, "case", case_id)
    async with write_tx():
        linked = await EvidenceCaseLink.exists().where(
            (EvidenceCaseLink.evidence == row["id"]) & (EvidenceCaseLink.case_id == case_id)
        )
        if not linked:
            await EvidenceCaseLink.insert(
                EvidenceCaseLink(
                    evidence=row["id"],
                    case_id=case_id,
                    attached_at=clock.now(),
                    attached_by=principal.actor,
                )
            ).run()
            await hold_in_tx(
                row, case_id=case_id, actor=principal.actor, action="evidence.attached_to_case"
            )
    await hold_in_store(evidence_id, store=store)
    return to_out(await fetch(principal, evidence_id))


async def linked_evidence_ids(case_id: uuid.UUID) -> list[uuid.UUID]:
    """Items attached to ``case_id`` after capture, in the order they were attached."""
    rows = await (
        EvidenceCaseLink.select(EvidenceCaseLink.evidence)
        .where(EvidenceCaseLink.case_id == case_id)
        .order_by(EvidenceCaseLink.attached_at)
        .run()
    )
    return [uuid.UUID(str(r["evidence"])) for r in rows]


async def hold_in_tx(row: dict[str, Any], *, case_id: uuid.UUID, actor: str, action: str) -> None:
    """Flag the legal hold and audit it, inside the caller's transaction."""
    await Evidence.update({Evidence.legal_hold: True}).where(Evidence.id == row["id"]).run()
    await audit.record(
        stream=stream_of(row["id"]),
        action=action,
        actor=actor,
        org_unit_id=row["org_unit"],
        payload={"case_id": case_id, "status": row["status"], "legal_hold": True},
    )


async def hold_in_store(evidence_id: uuid.UUID, *, store: ObjectStore) -> None:
    """Put the store's legal hold on a sealed, flagged item.

    Called after the flag is committed; sealing reads the flag in the transaction that
    seals, so whichever of the two commits last places the hold in the store.
    """
    row = (
        await Evidence.select(Evidence.status, Evidence.object_key, Evidence.version_id)
        .where((Evidence.id == evidence_id) & (Evidence.legal_hold == True))  # noqa: E712
        .first()
        .run()
    )
    if row and row["status"] == states.SEALED:
        await store.set_legal_hold(row["object_key"], on=True, version_id=row["version_id"])
