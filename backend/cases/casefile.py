"""电子卷宗: the assembled case file, its streaming zip export and the bundle verifier.

The bundle holds ``case.json``, the documents and an ``index.html`` in the order
立案 → 调查 → 审查 → 决定 → 送达 → 执行, the audit trail, the evidence originals
streamed from the object store, and ``manifest.json`` (written last) with the
SHA-256 and size of every other file. Nothing is held whole in memory: zip
entries are written to a small buffer that is handed out chunk by chunk.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import html
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
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
# Chunks (about 1 MiB each) read ahead from the store while earlier ones are written.
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
    """A write-only file for ``zipfile`` whose bytes the generator hands out as they come."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._position = 0

    def write(self, data: bytes) -> int:
        self._buffer += data
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        return None

    def pending(self) -> int:
        # Not __len__: zipfile tests the file object's truth to see whether it is open.
        return len(self._buffer)

    def take(self) -> bytes:
        out = bytes(self._buffer)
        self._buffer.clear()
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
    *, principal: Principal, case_id: uuid.UUID, store: Any, chunk_limit: int = 1 << 20
) -> AsyncIterator[bytes]:
    """The case file as a zip, produced piece by piece (audited as ``case.file_exported``)."""
    file = await assemble(principal=principal, case_id=case_id)
    row = await cases.load_case(principal, case_id, write=False)
    async with write_tx():
        await cases.record_case_event(
            row,
            action="case.file_exported",
            actor=principal.actor,
            payload={"documents": len(file.documents), "evidence": len(file.evidence)},
        )
    bodies = {
        str(r["id"]): r["body"]
        for r in await CaseDocument.select(CaseDocument.id, CaseDocument.body).where(
            CaseDocument.case == case_id
        )
    }
    return _stream(principal, file, bodies, store, chunk_limit)


async def _stream(
    principal: Principal,
    file: CaseFileOut,
    bodies: dict[str, str],
    store: Any,
    chunk_limit: int,
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
        sealed = [item for item in file.evidence if item.status == "sealed"]
        queue: asyncio.Queue[tuple[str, bytes | None]] = asyncio.Queue(maxsize=PREFETCH_CHUNKS)
        # Reading the next chunks from the store overlaps with hashing and writing these.
        reader = asyncio.create_task(_read_originals(principal, sealed, store, queue))
        try:
            for item in sealed:
                path = f"evidence/{item.id}/{item.sha256}"
                digest = hashlib.sha256()
                size = 0
                with zf.open(path, mode="w", force_zip64=True) as out:
                    while True:
                        _, chunk = await queue.get()
                        if chunk is None:
                            break
                        await asyncio.to_thread(_absorb, out, digest, chunk)
                        size += len(chunk)
                        if sink.pending() >= chunk_limit:
                            yield sink.take()
                yield sink.take()
                entries.append({"path": path, "sha256": digest.hexdigest(), "size": size})
                evidence_entries.append(
                    {"id": item.id, "path": path, "recorded_sha256": item.sha256,
                     "matches_record": digest.hexdigest() == item.sha256}
                )  # fmt: skip
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


def _absorb(out: Any, digest: Any, chunk: bytes) -> None:
    digest.update(chunk)
    out.write(chunk)


async def _read_originals(
    principal: Principal,
    items: list[EvidenceItemOut],
    store: Any,
    queue: asyncio.Queue[tuple[str, bytes | None]],
) -> None:
    """Feed the chunks of every original, opening the next (an audited read) while reading."""
    if not items:
        return
    opening = asyncio.create_task(_open_original(principal, items[0].id, store))
    try:
        for index, item in enumerate(items):
            chunks = await opening
            if index + 1 < len(items):
                opening = asyncio.create_task(_open_original(principal, items[index + 1].id, store))
            async for chunk in chunks:
                await queue.put((item.id, chunk))
            await queue.put((item.id, None))
    finally:
        if not opening.done():
            opening.cancel()


async def _open_original(
    principal: Principal, evidence_id: str, store: Any
) -> AsyncIterator[bytes]:
    from backend.evidence import service as evidence

    _, chunks = await evidence.open_original(
        principal=principal, evidence_id=uuid.UUID(evidence_id), store=store, purpose="case_file"
    )
    return chunks


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
                if not item.get("matches_record"):
                    problems.append(f"{item['path']}: differs from the sealed evidence record")
    except (zipfile.BadZipFile, OSError) as exc:
        return [f"not a readable zip bundle: {exc}"]
    return problems
