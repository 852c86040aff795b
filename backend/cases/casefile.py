"""电子卷宗: the assembled case file, its streaming zip export and the bundle verifier.

The bundle holds ``case.json``, the documents and an ``index.html`` in the order
立案 → 调查 → 审查 → 决定 → 送达 → 执行, the audit trail, the evidence originals
streamed from the object store, and ``manifest.json`` (written last) with the
SHA-256 and size of every other file. Nothing is held whole in memory: zip
entries are written to a small buffer that is handed out chunk by chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import html
import json
import uuid
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any

import msgspec

from backend.audit import service as audit
from backend.cases import service as cases
from backend.cases.tables import CaseDocument
from backend.core import clock
from backend.core.auth import Principal
from backend.core.db import write_tx
from backend.core.schemas import Output
from storage.base import READ_CHUNK, StorageError

STAGES = ("filing", "investigation", "review", "decision", "service", "execution")
STAGE_NAMES = {
    "filing": "立案",
    "investigation": "调查",
    "review": "审查",
    "decision": "决定",
    "service": "送达",
    "execution": "执行",
}
MANIFEST = "manifest.json"
FORMAT = "fieldcase-casefile-v1"
# Chunks (READ_CHUNK = 1 MiB each) read ahead from the store while earlier ones are written.
PREFETCH_CHUNKS = 8


class DocumentOut(Output):
    id: uuid.UUID
    stage: str
    kind: str
    title: str
    sha256: str
    issued_on: dt.date


class EvidenceItemOut(Output):
    id: str
    kind: str
    sha256: str
    size: int
    status: str
    withdrawn: bool
    custody: list[dict[str, Any]]


class CaseFileOut(Output):
    case: Any
    documents: list[DocumentOut]
    actions: list[dict[str, Any]]
    evidence: list[EvidenceItemOut]
    timeline: list[dict[str, Any]]


async def evidence_of(principal: Principal, case_id: uuid.UUID) -> list[dict[str, Any]]:
    """The case's evidence with hashes and custody, from the evidence domain when installed."""
    try:
        from backend.evidence import service as evidence
    except ImportError:
        return []
    files = await evidence.evidence_files(
        principal=principal, target_kind="case", target_id=case_id
    )
    return [msgspec.to_builtins(f) for f in files]


def _evidence_item(raw: dict[str, Any]) -> EvidenceItemOut:
    return EvidenceItemOut(
        id=str(raw.get("id")),
        kind=str(raw.get("kind", "")),
        sha256=str(raw.get("sha256") or ""),
        size=int(raw.get("size") or 0),
        status=str(raw.get("status", "")),
        withdrawn=bool(raw.get("withdrawn_at") or raw.get("withdrawn")),
        custody=list(raw.get("custody") or []),
    )


async def documents_of(case_id: uuid.UUID) -> list[DocumentOut]:
    rows = await CaseDocument.select(
        CaseDocument.id, CaseDocument.stage, CaseDocument.kind, CaseDocument.title,
        CaseDocument.sha256, CaseDocument.issued_on, CaseDocument.created_at,
    ).where(CaseDocument.case == case_id).order_by(CaseDocument.created_at)  # fmt: skip
    docs = [msgspec.convert(r, DocumentOut, strict=False) for r in rows]
    return sorted(docs, key=lambda d: STAGES.index(d.stage) if d.stage in STAGES else 99)


async def timeline_of(case_id: uuid.UUID) -> list[dict[str, Any]]:
    return await audit.list_events(stream=f"case:{case_id}", limit=100_000)


async def assemble(*, principal: Principal, case_id: uuid.UUID) -> CaseFileOut:
    """Summary, documents in file order, actions, evidence with hashes and custody, timeline."""
    case = await cases.get_case(principal=principal, case_id=case_id)
    actions = [
        msgspec.to_builtins(a)
        for a in await cases.list_actions(principal=principal, case_id=case_id)
    ]
    return CaseFileOut(
        case=msgspec.to_builtins(case),
        documents=await documents_of(case_id),
        actions=actions,
        evidence=[_evidence_item(e) for e in await evidence_of(principal, case_id)],
        timeline=await timeline_of(case_id),
    )


# ---------------------------------------------------------------------------
# Streaming export


class _Sink:
    """A write-only file for ``zipfile`` whose pieces the generator hands out as they come.

    The pieces are kept as written (no copy): with ``ZIP_STORED`` an original's chunk
    passes from the store to the response untouched.
    """

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self._pending = 0
        self._position = 0

    def write(self, data: bytes) -> int:
        n = len(data)
        self._pieces.append(data if type(data) is bytes else bytes(data))
        self._pending += n
        self._position += n
        return n

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        return None

    def pending(self) -> int:
        # Not __len__: zipfile tests the file object's truth to see whether it is open.
        return self._pending

    def take(self) -> bytes:
        out = b"".join(self._pieces)  # one piece: returned as is
        self._pieces.clear()
        self._pending = 0
        return out


def _index_html(file: CaseFileOut, paths: dict[str, str]) -> str:
    case = file.case
    rows = []
    for stage in STAGES:
        docs = [d for d in file.documents if d.stage == stage]
        items = "".join(
            f"<li><a href='{html.escape(paths[str(d.id)])}'>{html.escape(d.title)}</a> "
            f"{d.issued_on.isoformat()}</li>"
            for d in docs
        )
        if stage == "investigation" and file.evidence:
            items += "".join(
                f"<li>证据 {html.escape(e.kind)} {html.escape(e.id)} sha256 {e.sha256}"
                f"{' (已撤回)' if e.withdrawn else ''}</li>"
                for e in file.evidence
            )
        rows.append(f"<h2>{STAGE_NAMES[stage]}</h2><ol>{items}</ol>")
    return (
        "<!doctype html><meta charset='utf-8'>"
        f"<title>{html.escape(case['number'])} 电子卷宗</title>"
        f"<h1>案件 {html.escape(case['number'])} {html.escape(case['subject_name'])}</h1>"
        + "".join(rows)
    )


async def export_bundle(
    *, principal: Principal, case_id: uuid.UUID, store: Any, chunk_limit: int = READ_CHUNK
) -> AsyncIterator[bytes]:
    """The case file as a zip, produced piece by piece.

    One write transaction before the first byte: ``case.file_exported`` on the case and one
    ``evidence.exported`` custody event per sealed original, all naming the same export id;
    the originals are then streamed with no further write.
    """
    file = await assemble(principal=principal, case_id=case_id)
    row = await cases.load_case(principal, case_id, write=False)
    sealed = [item for item in file.evidence if item.status == "sealed"]
    export_id = uuid.uuid4()
    async with write_tx():
        await cases.record_case_event(
            row,
            action="case.file_exported",
            actor=principal.actor,
            payload={
                "export_id": export_id,
                "documents": len(file.documents),
                "evidence": len(file.evidence),
                "originals": len(sealed),
            },
        )
        originals = await _release_originals(principal, sealed, case_id, export_id)
    bodies = {
        str(r["id"]): r["body"]
        for r in await CaseDocument.select(CaseDocument.id, CaseDocument.body).where(
            CaseDocument.case == case_id
        )
    }
    return _stream(file, bodies, originals, store, chunk_limit, principal, export_id)


async def _release_originals(
    principal: Principal, sealed: list[EvidenceItemOut], case_id: uuid.UUID, export_id: uuid.UUID
) -> list[Any]:
    if not sealed:
        return []
    from backend.evidence import service as evidence

    return await evidence.export_originals(
        principal=principal,
        evidence_ids=[uuid.UUID(item.id) for item in sealed],
        purpose="case_file",
        export={"kind": "case_file", "export_id": export_id, "case_id": case_id},
    )


async def _stream(
    file: CaseFileOut,
    bodies: dict[str, str],
    originals: list[Any],
    store: Any,
    chunk_limit: int,
    principal: Principal,
    export_id: uuid.UUID,
) -> AsyncIterator[bytes]:
    sink = _Sink()
    entries: list[dict[str, Any]] = []
    evidence_entries: list[dict[str, Any]] = []
    zip_out: Any = sink
    with zipfile.ZipFile(zip_out, mode="w", compression=zipfile.ZIP_STORED) as zf:

        def put(path: str, data: bytes) -> None:
            zf.writestr(path, data)
            entries.append(
                {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            )

        paths: dict[str, str] = {}
        for n, doc in enumerate(file.documents, start=1):
            index = STAGES.index(doc.stage) + 1 if doc.stage in STAGES else 9
            path = (
                f"documents/{index}-{STAGE_NAMES.get(doc.stage, doc.stage)}/{n:03d}-{doc.kind}.txt"
            )
            paths[str(doc.id)] = path
            put(path, f"{doc.title}\n{doc.issued_on.isoformat()}\n\n{bodies[str(doc.id)]}".encode())
        yield sink.take()
        put("case.json", _json(file.case))
        put("actions.json", _json(file.actions))
        put("audit/case-timeline.json", _json(file.timeline))
        put("evidence/custody.json", _json([msgspec.to_builtins(e) for e in file.evidence]))
        put("index.html", _index_html(file, paths).encode("utf-8"))
        yield sink.take()
        queue: asyncio.Queue[bytes | Exception | None] = asyncio.Queue(maxsize=PREFETCH_CHUNKS)
        # Reading the next chunks from the store overlaps with hashing and writing these.
        reader = asyncio.create_task(_read_originals(originals, store, queue))
        try:
            for original in originals:
                item = original.evidence
                path = f"evidence/{item.id}/{item.sha256}"
                size = 0
                with zf.open(path, mode="w", force_zip64=True) as out:
                    while (chunk := await queue.get()) is not None:
                        if isinstance(chunk, Exception):
                            raise chunk  # the store failed: end the response, do not wait
                        # The zip's CRC-32 releases the GIL: off the event loop.
                        await asyncio.to_thread(out.write, chunk)
                        size += len(chunk)
                        if sink.pending() >= chunk_limit:
                            yield sink.take()
                if size != item.size:
                    await _record_integrity_failure(principal, item, export_id, size)
                    raise StorageError(
                        f"evidence {item.id}: the store returned {size} bytes, "
                        f"sealed with {item.size}"
                    )
                yield sink.take()
                # The hash is the one sealed (the server read every byte back then, and the
                # object is write-once since): the bundle certifies the sealed evidence, and
                # ``verify_bundle`` checks the bytes in it against that.
                entries.append({"path": path, "sha256": item.sha256, "size": size})
                evidence_entries.append(
                    {"id": str(item.id), "path": path, "sealed_sha256": item.sha256}
                )
            await reader
        finally:
            if not reader.done():
                reader.cancel()
        manifest = {
            "format": FORMAT,
            "case_id": file.case["id"],
            "number": file.case["number"],
            "generated_at": clock.iso(clock.now()),
            "order": [STAGE_NAMES[s] for s in STAGES],
            "files": entries,
            "evidence": evidence_entries,
        }
        zf.writestr(MANIFEST, _json(manifest))
    yield sink.take()


async def _record_integrity_failure(
    principal: Principal, item: EvidenceItemOut, export_id: uuid.UUID, size: int
) -> None:
    """The store returned other bytes than were sealed: on the item's custody trail."""
    from backend.evidence import service as evidence

    async with write_tx():
        await audit.record(
            stream=evidence.stream_of(item.id),
            action="evidence.integrity_failed",
            actor=principal.actor,
            payload={"export_id": export_id, "sealed_size": item.size, "read_size": size},
        )


async def _read_originals(
    originals: list[Any], store: Any, queue: asyncio.Queue[bytes | Exception | None]
) -> None:
    """Feed every original's chunks, then ``None``; the next object is requested (and its
    first chunk read) while the current one streams. A store error is fed as well."""

    def start(index: int) -> tuple[AsyncGenerator[bytes, None], asyncio.Task[bytes | None]] | None:
        if index >= len(originals):
            return None
        o = originals[index]
        chunks = store.iter_object(o.object_key, version_id=o.version_id, chunk_size=READ_CHUNK)
        return chunks, asyncio.create_task(anext(chunks, None))

    current: AsyncGenerator[bytes, None] | None = None
    upcoming = start(0)
    try:
        for index in range(len(originals)):
            assert upcoming is not None
            current, first = upcoming
            chunk = await first
            upcoming = start(index + 1)
            while chunk is not None:
                await queue.put(chunk)
                chunk = await anext(current, None)
            await queue.put(None)
    except Exception as exc:  # e.g. ObjectMissing: the writer raises it
        await queue.put(exc)
    finally:
        # Stopped early (the client went away): close what is open, never leave a read running.
        if upcoming is not None:
            upcoming[1].cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await upcoming[1]
            await upcoming[0].aclose()
        if current is not None:
            await current.aclose()


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str).encode()


# ---------------------------------------------------------------------------
# Verification (``fieldcase casefile verify BUNDLE.zip``)


def verify_bundle(path: Path) -> list[str]:
    """Every problem found: a hash or size that differs, a file missing or not listed."""
    problems: list[str] = []
    try:
        with zipfile.ZipFile(path) as zf:
            try:
                manifest = json.loads(zf.read(MANIFEST))
            except (KeyError, ValueError, zipfile.BadZipFile) as exc:
                return [f"manifest.json is missing or unreadable: {exc}"]
            listed = {e["path"]: e for e in manifest.get("files", [])}
            present = {n for n in zf.namelist() if n != MANIFEST}
            for name in sorted(present - set(listed)):
                problems.append(f"{name}: not listed in the manifest")
            for name in sorted(set(listed) - present):
                problems.append(f"{name}: listed in the manifest but missing")
            for name in sorted(present & set(listed)):
                digest = hashlib.sha256()
                size = 0
                try:
                    with zf.open(name) as f:
                        while chunk := f.read(1 << 20):
                            digest.update(chunk)
                            size += len(chunk)
                except (zipfile.BadZipFile, OSError) as exc:
                    problems.append(f"{name}: unreadable ({exc})")
                    continue
                if digest.hexdigest() != listed[name]["sha256"] or size != listed[name]["size"]:
                    problems.append(f"{name}: SHA-256 does not match the manifest")
            for item in manifest.get("evidence", []):
                entry = listed.get(item.get("path", ""))
                sealed = str(item.get("sealed_sha256"))
                if (
                    entry is None
                    or entry["sha256"] != sealed
                    or not str(item.get("path")).endswith(f"/{sealed}")
                ):
                    problems.append(f"{item.get('path')}: differs from the sealed evidence record")
    except (zipfile.BadZipFile, OSError) as exc:
        return [f"not a readable zip bundle: {exc}"]
    return problems
