"""The hash-chained audit log (contract in DESIGN.md, "Audit log").

``hash = sha256(prev_hash || canonical_json(event without hash))`` where
``prev_hash`` is the hex text of the previous link (64 zeros for ``seq`` 1)
and canonical JSON has sorted keys, no spaces and UTF-8.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from backend.audit.tables import AuditEvent
from backend.core import clock
from backend.core.db import current_engine, is_sqlite
from backend.core.errors import BadRequest

GENESIS_HASH = "0" * 64


def jsonable(value: Any) -> Any:
    """Turn a payload into plain JSON types, so what is stored is what was hashed."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return clock.iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, msgspec.Struct):
        return jsonable(msgspec.to_builtins(value))
    raise TypeError(f"cannot put {type(value).__name__} in an audit payload")


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def event_hash(
    *, stream: str, seq: int, at: str, actor: str, action: str, payload: Any, prev_hash: str
) -> str:
    body = {
        "stream": stream,
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class Recorded:
    stream: str
    seq: int
    hash: str
    at: dt.datetime


async def _lock_stream(stream: str) -> None:
    if not is_sqlite():
        # Serialise appends to one stream across processes; SQLite has one writer anyway.
        await AuditEvent.raw("SELECT pg_advisory_xact_lock(hashtextextended({}, 0))", stream).run()


async def record(
    *,
    stream: str,
    action: str,
    actor: str,
    payload: Mapping[str, Any] | None = None,
    org_unit_id: uuid.UUID | str | None = None,
    at: dt.datetime | None = None,
) -> Recorded:
    """Append one event; must run inside the caller's write transaction."""
    if current_engine().current_transaction.get() is None:
        raise RuntimeError("audit.record must run inside write_tx()")
    await _lock_stream(stream)
    head = (
        await AuditEvent.select(AuditEvent.seq, AuditEvent.hash)
        .where(AuditEvent.stream == stream)
        .order_by(AuditEvent.seq, ascending=False)
        .first()
        .run()
    )
    seq = (head["seq"] + 1) if head else 1
    prev_hash = head["hash"] if head else GENESIS_HASH
    moment = (at or clock.now()).astimezone(dt.UTC)
    body = jsonable(dict(payload or {}))
    digest = event_hash(
        stream=stream,
        seq=seq,
        at=clock.iso(moment),
        actor=actor,
        action=action,
        payload=body,
        prev_hash=prev_hash,
    )
    await AuditEvent.insert(
        AuditEvent(
            stream=stream,
            seq=seq,
            at=moment,
            actor=actor,
            action=action,
            payload=json.dumps(body, ensure_ascii=False, sort_keys=True),
            prev_hash=prev_hash,
            hash=digest,
            org_unit_id=uuid.UUID(str(org_unit_id)) if org_unit_id else None,
        )
    ).run()
    return Recorded(stream=stream, seq=seq, hash=digest, at=moment)


@dataclass(frozen=True)
class PendingEvent:
    """One event for ``record_many``."""

    stream: str
    action: str
    actor: str
    payload: Mapping[str, Any]
    org_unit_id: uuid.UUID | str | None = None
    at: dt.datetime | None = None


async def record_many(events: list[PendingEvent]) -> list[Recorded]:
    """Append many events in a few statements (batch jobs); same contract as ``record``."""
    if current_engine().current_transaction.get() is None:
        raise RuntimeError("audit.record_many must run inside write_tx()")
    streams = sorted({e.stream for e in events})
    heads: dict[str, tuple[int, str]] = {}
    for start in range(0, len(streams), 500):
        chunk = streams[start : start + 500]
        if not is_sqlite():
            # The locks are taken in stream order, so two batches cannot deadlock.
            await AuditEvent.raw(
                "SELECT pg_advisory_xact_lock(hashtextextended(s, 0)) "
                "FROM (SELECT unnest({}::text[]) AS s ORDER BY 1) AS ordered",
                chunk,
            ).run()
        # Only each stream's head: a long stream (an item viewed many times) costs one
        # probe of the (stream, seq) index, not a read of its whole history.
        if is_sqlite():
            marks = ", ".join("{}" for _ in chunk)
            rows = await AuditEvent.raw(
                "SELECT a.stream, a.seq, a.hash FROM audit_event a JOIN ("
                f"SELECT stream, MAX(seq) AS seq FROM audit_event WHERE stream IN ({marks}) "
                "GROUP BY stream) h ON a.stream = h.stream AND a.seq = h.seq",
                *chunk,
            ).run()
        else:
            rows = await AuditEvent.raw(
                "SELECT s.stream, a.seq, a.hash FROM unnest({}::text[]) AS s(stream) "
                "CROSS JOIN LATERAL (SELECT seq, hash FROM audit_event "
                "WHERE stream = s.stream ORDER BY seq DESC LIMIT 1) AS a",
                chunk,
            ).run()
        for r in rows:
            heads[r["stream"]] = (r["seq"], r["hash"])
    out: list[Recorded] = []
    rows_out: list[AuditEvent] = []
    for event in events:
        seq, prev_hash = heads.get(event.stream, (0, GENESIS_HASH))
        seq += 1
        moment = (event.at or clock.now()).astimezone(dt.UTC)
        body = jsonable(dict(event.payload))
        digest = event_hash(
            stream=event.stream,
            seq=seq,
            at=clock.iso(moment),
            actor=event.actor,
            action=event.action,
            payload=body,
            prev_hash=prev_hash,
        )
        heads[event.stream] = (seq, digest)
        rows_out.append(
            AuditEvent(
                stream=event.stream,
                seq=seq,
                at=moment,
                actor=event.actor,
                action=event.action,
                payload=json.dumps(body, ensure_ascii=False, sort_keys=True),
                prev_hash=prev_hash,
                hash=digest,
                org_unit_id=uuid.UUID(str(event.org_unit_id)) if event.org_unit_id else None,
            )
        )
        out.append(Recorded(stream=event.stream, seq=seq, hash=digest, at=moment))
    for start in range(0, len(rows_out), 500):
        await AuditEvent.insert(*rows_out[start : start + 500]).run()
    return out


def _load_payload(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw


def event_row_to_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "stream": row["stream"],
        "seq": row["seq"],
        "at": clock.iso(row["at"]),
        "actor": row["actor"],
        "action": row["action"],
        "payload": _load_payload(row["payload"]),
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
    }


async def list_events(
    *,
    stream: str | None = None,
    org_unit_ids: frozenset[uuid.UUID] | None = None,
    include_unscoped: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    query = AuditEvent.select()
    if stream:
        query = query.where(AuditEvent.stream == stream)
    if org_unit_ids is not None:
        scoped = AuditEvent.org_unit_id.is_in(list(org_unit_ids)) if org_unit_ids else None
        if include_unscoped:
            cond = AuditEvent.org_unit_id.is_null()
            query = query.where(cond | scoped if scoped is not None else cond)
        elif scoped is not None:
            query = query.where(scoped)
        else:
            return []
    rows = (
        await query.order_by(AuditEvent.stream)
        .order_by(AuditEvent.seq)
        .limit(limit)
        .offset(offset)
        .run()
    )
    return [event_row_to_dict(r) for r in rows]


async def stream_heads() -> dict[str, tuple[int, str]]:
    """The last (seq, hash) of every stream."""
    rows = await AuditEvent.raw(
        "SELECT e.stream, e.seq, e.hash FROM audit_event e "
        "JOIN (SELECT stream, MAX(seq) AS seq FROM audit_event GROUP BY stream) h "
        "ON e.stream = h.stream AND e.seq = h.seq"
    ).run()
    return {r["stream"]: (r["seq"], r["hash"]) for r in rows}


@dataclass(frozen=True)
class Break:
    stream: str
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"stream {self.stream} seq {self.seq}: {self.reason}"


async def iter_events(batch: int = 5000) -> AsyncIterator[dict[str, Any]]:
    """Every event ordered by (stream, seq), read in keyset batches."""
    last: tuple[str, int] | None = None
    while True:
        query = AuditEvent.select()
        if last is not None:
            query = query.where(
                (AuditEvent.stream > last[0])
                | ((AuditEvent.stream == last[0]) & (AuditEvent.seq > last[1]))
            )
        rows = await query.order_by(AuditEvent.stream).order_by(AuditEvent.seq).limit(batch).run()
        if not rows:
            return
        for row in rows:
            yield row
        last = (rows[-1]["stream"], rows[-1]["seq"])


async def verify_chain() -> tuple[int, int, Break | None]:
    """Check every stream; return (streams, events, first broken link or None)."""
    streams = 0
    events = 0
    current: str | None = None
    expected_seq = 1
    prev_hash = GENESIS_HASH
    async for row in iter_events():
        stream = row["stream"]
        if stream != current:
            current = stream
            streams += 1
            expected_seq = 1
            prev_hash = GENESIS_HASH
        events += 1
        seq = row["seq"]
        if seq != expected_seq:
            missing = "missing" if seq > expected_seq else "repeated"
            return streams, events, Break(stream, expected_seq, f"link {missing} (found seq {seq})")
        if row["prev_hash"] != prev_hash:
            return streams, events, Break(stream, seq, "prev_hash does not match the previous link")
        digest = event_hash(
            stream=stream,
            seq=seq,
            at=clock.iso(row["at"]),
            actor=row["actor"],
            action=row["action"],
            payload=_load_payload(row["payload"]),
            prev_hash=row["prev_hash"],
        )
        if digest != row["hash"]:
            return streams, events, Break(stream, seq, "hash does not match the event's content")
        prev_hash = row["hash"]
        expected_seq += 1
    return streams, events, None


def parse_stream(stream: str) -> tuple[str, str]:
    kind, sep, ident = stream.partition(":")
    if not sep or not kind or not ident:
        raise BadRequest("stream must look like kind:id, e.g. case:<uuid>", code="audit.bad_stream")
    return kind, ident


async def events_by_stream(streams: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The events of many streams (each in ``seq`` order), in a few queries."""
    out: dict[str, list[dict[str, Any]]] = {stream: [] for stream in streams}
    for start in range(0, len(streams), 500):
        rows = (
            await AuditEvent.select()
            .where(AuditEvent.stream.is_in(streams[start : start + 500]))
            .order_by(AuditEvent.stream)
            .order_by(AuditEvent.seq)
            .run()
        )
        for row in rows:
            out[row["stream"]].append(event_row_to_dict(row))
    return out
