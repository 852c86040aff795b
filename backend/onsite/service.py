"""On-site records: rules for writing, signing or refusing, and versioned updates.

Rules: at least 2 officers, each with an enforcement certificate valid on the day
of the action; the party signs (a signature image held in evidence) or refuses,
and a refusal must be backed by an audio/video recording (evidence). The record's task
or case must be one the writer may act on, checked by the same ``evidence_targets``
resolvers of the domain registry that evidence uses (404 otherwise).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import msgspec

from backend.audit import service as audit
from backend.core import clock, scope
from backend.core.auth import Principal
from backend.core.db import write_tx
from backend.core.errors import BadRequest, Conflict, NotFound
from backend.domains import collect
from backend.onsite import schemas as s
from backend.onsite.tables import OnsiteRecord
from backend.orgs.service import valid_certificates
from backend.settings import get_settings

MIN_OFFICERS = 2


def _columns() -> list[Any]:
    return [*OnsiteRecord.all_columns(exclude=[OnsiteRecord.org_unit]), OnsiteRecord.org_unit]


def _out(row: dict[str, Any]) -> s.OnsiteRecordOut:
    content = json.loads(row["content"])
    return msgspec.convert(
        {
            **{k: v for k, v in row.items() if k not in ("content", "party", "org_unit")},
            "org_unit_id": row["org_unit"],
            "party": json.loads(row["party"]),
            "findings": content.get("findings", ""),
            "qa": content.get("qa", []),
        },
        s.OnsiteRecordOut,
        strict=False,
    )


async def get_record(*, principal: Principal, record_id: uuid.UUID) -> s.OnsiteRecordOut:
    row = await scope.fetch(
        OnsiteRecord,
        record_id,
        principal,
        org_column=OnsiteRecord.org_unit,
        what="onsite record",
        columns=_columns(),
    )
    return _out(row)


async def list_records(
    *,
    principal: Principal,
    task_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
) -> list[s.OnsiteRecordOut]:
    query = scope.restrict(OnsiteRecord.select(*_columns()), principal, OnsiteRecord.org_unit)
    if task_id:
        query = query.where(OnsiteRecord.task_id == task_id)
    if case_id:
        query = query.where(OnsiteRecord.case_id == case_id)
    return [_out(r) for r in await query.order_by(OnsiteRecord.started_at).run()]


def _check_signature(
    signature: str, signature_evidence: uuid.UUID | None, recording: uuid.UUID | None
) -> None:
    if signature == "signed" and signature_evidence is None:
        raise BadRequest(
            "a signed record needs signature_evidence_id (the signature image)",
            code="onsite_record.signature_missing",
        )
    if signature == "refused" and recording is None:
        raise BadRequest(
            "the party refused to sign: recording_evidence_id (audio or video of the refusal) "
            "is required",
            code="onsite_record.refusal_unrecorded",
        )


def _check_content(kind: str, findings: str, qa: list[Any]) -> None:
    if kind == "inspection" and not findings.strip():
        raise BadRequest("an inspection record needs findings", code="onsite_record.no_findings")
    if kind == "inquiry" and not qa:
        raise BadRequest(
            "an inquiry record needs its questions and answers (qa)", code="onsite_record.no_qa"
        )


async def _check_officers(officer_ids: list[uuid.UUID], on: dt.date) -> None:
    distinct = list(dict.fromkeys(officer_ids))
    if len(distinct) < MIN_OFFICERS:
        raise BadRequest(
            f"at least {MIN_OFFICERS} different officers must take part",
            code="onsite_record.too_few_officers",
        )
    valid = await valid_certificates(distinct, on)
    missing = [str(o) for o in distinct if not valid.get(o)]
    if missing:
        raise BadRequest(
            f"officers without an enforcement certificate valid on {on.isoformat()}: "
            + ", ".join(missing),
            code="onsite_record.certificate_invalid",
        )


async def _check_target(principal: Principal, kind: str, target_id: uuid.UUID) -> None:
    """The task or case exists and is the principal's to act on (NotFound otherwise)."""
    for resolvers in collect("evidence_targets"):
        if kind in resolvers:
            await resolvers[kind](principal, target_id)
            return
    raise BadRequest(f"no domain resolves a {kind!r} target", code="onsite_record.target")


async def create_record(
    *, principal: Principal, data: s.OnsiteRecordIn, device_time: dt.datetime | None = None
) -> s.OnsiteRecordOut:
    if (data.task_id is None) == (data.case_id is None):
        raise BadRequest("give exactly one of task_id or case_id", code="onsite_record.target")
    if data.task_id is not None:
        await _check_target(principal, "task", data.task_id)
    if data.case_id is not None:
        await _check_target(principal, "case", data.case_id)
    if data.started_at.tzinfo is None:
        raise BadRequest("started_at needs a UTC offset", code="onsite_record.naive_time")
    if data.ended_at is not None and data.ended_at < data.started_at:
        raise BadRequest("ended_at is before started_at", code="onsite_record.bad_times")
    _check_content(data.kind, data.findings, data.qa)
    _check_signature(data.signature, data.signature_evidence_id, data.recording_evidence_id)
    day = data.started_at.astimezone(get_settings().timezone).date()
    await _check_officers(list(data.officer_ids), day)
    now = clock.now()
    async with write_tx():
        if await OnsiteRecord.exists().where(OnsiteRecord.id == data.id).run():
            raise Conflict(f"onsite record {data.id} already exists", code="onsite_record.exists")
        record = OnsiteRecord(
            id=data.id,
            kind=data.kind,
            org_unit=principal.org_unit_id,
            task_id=data.task_id,
            case_id=data.case_id,
            place=data.place,
            started_at=data.started_at,
            ended_at=data.ended_at,
            officer_ids=[str(o) for o in dict.fromkeys(data.officer_ids)],
            party=json.dumps(msgspec.to_builtins(data.party), ensure_ascii=False),
            content=json.dumps(
                {"findings": data.findings, "qa": msgspec.to_builtins(data.qa)},
                ensure_ascii=False,
            ),
            signature=data.signature,
            signature_evidence_id=data.signature_evidence_id,
            recording_evidence_id=data.recording_evidence_id,
            refusal_note=data.refusal_note,
            version=1,
            created_by=principal.user_id,
            created_at=now,
            updated_at=now,
            device_time=device_time,
        )
        await OnsiteRecord.insert(record).run()
        await audit.record(
            stream=f"onsite_record:{data.id}",
            action="onsite_record.created",
            actor=principal.actor,
            payload={
                "kind": data.kind,
                "task_id": data.task_id,
                "case_id": data.case_id,
                "officer_ids": list(data.officer_ids),
                "signature": data.signature,
                "signature_evidence_id": data.signature_evidence_id,
                "recording_evidence_id": data.recording_evidence_id,
                "device_time": device_time,
            },
            org_unit_id=principal.org_unit_id,
        )
        return await get_record(principal=principal, record_id=data.id)


async def update_record(
    *,
    principal: Principal,
    record_id: uuid.UUID,
    data: s.OnsiteRecordPatch,
    device_time: dt.datetime | None = None,
) -> s.OnsiteRecordOut:
    """Change a record the device saw at ``data.version``; a stale version gets 409."""
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    changes.pop("version")
    async with write_tx():
        current = await get_record(principal=principal, record_id=record_id)
        if current.version != data.version:
            raise Conflict(
                f"onsite record {record_id} is at version {current.version}, "
                f"not {data.version}; merge with the current record and send again",
                code="onsite_record.stale",
                extra={"current": msgspec.to_builtins(current)},
            )
        merged = msgspec.structs.replace(current, **{k: v for k, v in changes.items()})
        _check_content(merged.kind, merged.findings, merged.qa)
        _check_signature(
            merged.signature, merged.signature_evidence_id, merged.recording_evidence_id
        )
        if merged.ended_at is not None and merged.ended_at < merged.started_at:
            raise BadRequest("ended_at is before started_at", code="onsite_record.bad_times")
        values: dict[Any, Any] = {
            OnsiteRecord.place: merged.place,
            OnsiteRecord.ended_at: merged.ended_at,
            OnsiteRecord.content: json.dumps(
                {"findings": merged.findings, "qa": msgspec.to_builtins(merged.qa)},
                ensure_ascii=False,
            ),
            OnsiteRecord.signature: merged.signature,
            OnsiteRecord.signature_evidence_id: merged.signature_evidence_id,
            OnsiteRecord.recording_evidence_id: merged.recording_evidence_id,
            OnsiteRecord.refusal_note: merged.refusal_note,
            OnsiteRecord.version: current.version + 1,
            OnsiteRecord.updated_at: clock.now(),
        }
        updated = (
            await OnsiteRecord.update(values)
            .where((OnsiteRecord.id == record_id) & (OnsiteRecord.version == data.version))
            .returning(OnsiteRecord.id)
            .run()
        )
        if not updated:
            raise NotFound("onsite record not found", code="onsite_record.not_found")
        await audit.record(
            stream=f"onsite_record:{record_id}",
            action="onsite_record.updated",
            actor=principal.actor,
            payload={
                "fields": sorted(changes),
                "version": current.version + 1,
                "device_time": device_time,
            },
            org_unit_id=current.org_unit_id,
        )
        return await get_record(principal=principal, record_id=record_id)
