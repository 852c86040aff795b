"""Audit anchors: a Merkle root over every stream head, kept where the database cannot reach.

The anchor job computes the heads ``(stream, seq, hash)`` of all audit streams and
their Merkle root, and writes a JSON document to the object store under
``anchors/{seq:012d}.json`` with COMPLIANCE retention (it can be neither deleted nor
overwritten), plus a row in ``audit_anchor``. The document lists only the heads
that changed since the previous anchor (``changed``), so replaying the documents in
order rebuilds the full set of heads that each root covers.

Merkle tree: leaves ``sha256(0x00 || "<stream>\\x00<seq>\\x00<hash>")`` in stream
order; a node is ``sha256(0x01 || left || right)``; an odd node is carried up as is;
the root of no streams is ``sha256("")``.

``verify_anchors`` walks the documents in the *object store* (not the database) and
checks that each root matches its heads and that every anchored event still has the
anchored hash: rewriting the database, even recomputing every hash, is caught.
Anchoring records no audit event itself (that would change a head every time).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend.audit.service import Break, canonical_json, stream_heads
from backend.audit.tables import AnchoredHead, AuditAnchor, AuditEvent
from backend.core import clock
from backend.core.db import is_sqlite, write_tx

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def retention_days() -> int:
    return int(os.environ.get("FIELDCASE_ANCHOR_RETENTION_DAYS", "3650"))


def anchor_key(seq: int) -> str:
    return f"anchors/{seq:012d}.json"


def leaf(stream: str, seq: int, digest: str) -> bytes:
    return hashlib.sha256(b"\x00" + f"{stream}\x00{seq}\x00{digest}".encode()).digest()


def merkle_root(heads: Mapping[str, tuple[int, str]]) -> str:
    level = [leaf(stream, *heads[stream]) for stream in sorted(heads)]
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()


@dataclass(frozen=True)
class Anchor:
    seq: int
    root: str
    streams: int
    changed: int
    object_key: str


async def anchor_now(*, store: Any) -> Anchor | None:
    """Write an anchor if any stream head moved since the last one; None otherwise."""
    async with write_tx():
        if not is_sqlite():
            got = await AuditEvent.raw(
                "SELECT pg_try_advisory_xact_lock(hashtextextended('audit_anchor', 0)) AS ok"
            ).run()
            if not got[0]["ok"]:
                return None  # another scheduler is anchoring right now
        heads = await stream_heads()
        anchored = {
            r["stream"]: (r["seq"], r["hash"])
            for r in await AnchoredHead.select(
                AnchoredHead.stream, AnchoredHead.seq, AnchoredHead.hash
            ).run()
        }
        changed = {k: v for k, v in heads.items() if anchored.get(k) != v}
        if not changed:
            return None
        last = (
            await AuditAnchor.select(AuditAnchor.seq)
            .order_by(AuditAnchor.seq, ascending=False)
            .first()
            .run()
        )
        seq = (last["seq"] if last else 0) + 1
        # An object left by a run whose transaction failed stays (it is locked); skip it.
        while await store.exists(anchor_key(seq)):
            seq += 1
        prev_root = ""
        if seq > 1 and await store.exists(anchor_key(seq - 1)):
            prev_root = json.loads(await store.get_bytes(anchor_key(seq - 1)))["root"]
        now = clock.now()
        root = merkle_root(heads)
        document = {
            "version": 1,
            "seq": seq,
            "created_at": clock.iso(now),
            "prev_root": prev_root,
            "root": root,
            "streams": len(heads),
            "changed": {k: [v[0], v[1]] for k, v in sorted(changed.items())},
        }
        data = canonical_json(document)
        key = anchor_key(seq)
        await store.put_bytes(
            key,
            data,
            content_type="application/json",
            retain_until=now + dt.timedelta(days=retention_days()),
        )
        await AuditAnchor.insert(
            AuditAnchor(
                seq=seq,
                created_at=now,
                root=root,
                prev_root=prev_root,
                streams=len(heads),
                changed=len(changed),
                object_key=key,
                object_sha256=hashlib.sha256(data).hexdigest(),
            )
        ).run()
        moved = list(changed)
        for start in range(0, len(moved), 500):
            await (
                AnchoredHead.delete()
                .where(AnchoredHead.stream.is_in(moved[start : start + 500]))
                .run()
            )
        rows = [AnchoredHead(stream=k, seq=changed[k][0], hash=changed[k][1]) for k in moved]
        for start in range(0, len(rows), 500):
            await AnchoredHead.insert(*rows[start : start + 500]).run()
    return Anchor(seq=seq, root=root, streams=len(heads), changed=len(changed), object_key=key)


async def list_anchors(*, limit: int, offset: int) -> list[dict[str, Any]]:
    return (
        await AuditAnchor.select(
            AuditAnchor.seq,
            AuditAnchor.created_at,
            AuditAnchor.root,
            AuditAnchor.prev_root,
            AuditAnchor.streams,
            AuditAnchor.changed,
            AuditAnchor.object_key,
            AuditAnchor.object_sha256,
        )
        .order_by(AuditAnchor.seq, ascending=False)
        .limit(limit)
        .offset(offset)
        .run()
    )


async def _event_hashes(pairs: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    found: dict[tuple[str, int], str] = {}
    streams = sorted({s for s, _ in pairs})
    for start in range(0, len(streams), 500):
        rows = (
            await AuditEvent.select(AuditEvent.stream, AuditEvent.seq, AuditEvent.hash)
            .where(AuditEvent.stream.is_in(streams[start : start + 500]))
            .run()
        )
        for r in rows:
            found[(r["stream"], r["seq"])] = r["hash"]
    return found


async def verify_anchors(*, store: Any) -> tuple[int, Break | None]:
    """Check every anchor in the object store against the chain; (anchors, first break)."""
    heads: dict[str, tuple[int, str]] = {}
    seq = 0
    prev_root = ""
    stored = {
        r["seq"]: r for r in await AuditAnchor.select(AuditAnchor.seq, AuditAnchor.root).run()
    }
    while await store.exists(anchor_key(seq + 1)):
        seq += 1
        where = f"anchor {seq}"
        document = json.loads(await store.get_bytes(anchor_key(seq)))
        if document.get("seq") != seq:
            return seq - 1, Break(where, seq, "object names another sequence number")
        if document.get("prev_root", "") not in ("", prev_root):
            return seq - 1, Break(where, seq, "prev_root does not match the previous anchor")
        changed = {k: (int(v[0]), str(v[1])) for k, v in document["changed"].items()}
        heads.update(changed)
        if merkle_root(heads) != document["root"]:
            return seq - 1, Break(where, seq, "root does not match the anchored heads")
        row = stored.get(seq)
        if row is not None and row["root"] != document["root"]:
            return seq - 1, Break(where, seq, "database root differs from the stored object")
        actual = await _event_hashes([(k, v[0]) for k, v in changed.items()])
        for stream, (event_seq, digest) in sorted(changed.items()):
            found = actual.get((stream, event_seq))
            if found is None:
                return seq - 1, Break(stream, event_seq, f"event anchored by {where} is missing")
            if found != digest:
                return seq - 1, Break(
                    stream, event_seq, f"hash differs from the one anchored by {where}"
                )
        prev_root = document["root"]
    missing = sorted(k for k in stored if k > seq)
    if missing:
        return seq, Break(
            f"anchor {missing[0]}", missing[0], "database anchor has no stored object"
        )
    return seq, None
