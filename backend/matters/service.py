"""Matters catalogue and jurisdiction grants.

Every check of jurisdiction asks ``grant_in_force(matter, unit, day)``: a grant
is in force on ``day`` when ``effective_from <= day`` and (``effective_to`` is
null or ``day <= effective_to``). Withdrawals close a grant; nothing is deleted.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Iterable
from typing import Any

import msgspec

from backend.audit import service as audit
from backend.core import clock, scope
from backend.core.auth import Principal
from backend.core.db import write_tx
from backend.core.errors import BadRequest, Conflict, NotFound
from backend.core.schemas import to_struct
from backend.matters import schemas as s
from backend.matters.tables import JurisdictionGrant, Matter
from backend.orgs.tables import OrgUnit

GRANTEE_KINDS = ("township", "zone")


def _matter_columns() -> list[Any]:
    return [c for c in Matter.all_columns() if c._meta.name not in ("created_at", "updated_at")]


async def list_matters(
    *, domain: str | None = None, category: str | None = None, active: bool | None = None
) -> list[s.MatterOut]:
    query = Matter.select(*_matter_columns())
    if domain:
        query = query.where(Matter.domain == domain)
    if category:
        query = query.where(Matter.category == category)
    if active is not None:
        query = query.where(Matter.active == active)
    return [to_struct(s.MatterOut, r) for r in await query.order_by(Matter.code).run()]


async def get_matter(*, matter_id: uuid.UUID) -> s.MatterOut:
    row = await Matter.select(*_matter_columns()).where(Matter.id == matter_id).first().run()
    if row is None:
        raise NotFound("matter not found", code="matter.not_found")
    return to_struct(s.MatterOut, row)


async def matter_by_code(code: str) -> s.MatterOut | None:
    row = await Matter.select(*_matter_columns()).where(Matter.code == code).first().run()
    return to_struct(s.MatterOut, row) if row else None


def _check_fines(fine_min: int | None, fine_max: int | None) -> None:
    if fine_min is not None and fine_max is not None and fine_min > fine_max:
        raise BadRequest("fine_min must not exceed fine_max", code="matter.bad_fine_range")


async def create_matter(*, principal: Principal, data: s.MatterIn) -> s.MatterOut:
    _check_fines(data.fine_min, data.fine_max)
    matter_id = uuid.uuid4()
    async with write_tx():
        if await Matter.exists().where(Matter.code == data.code).run():
            raise Conflict(f"matter code {data.code} is taken", code="matter.code_taken")
        now = clock.now()
        await Matter.insert(
            Matter(
                id=matter_id,
                **msgspec.structs.asdict(data),
                active=True,
                created_at=now,
                updated_at=now,
            )
        ).run()
        await audit.record(
            stream=f"matter:{matter_id}",
            action="matter.created",
            actor=principal.actor,
            payload=audit.jsonable(msgspec.to_builtins(data)),
        )
    return await get_matter(matter_id=matter_id)


async def update_matter(
    *, principal: Principal, matter_id: uuid.UUID, data: s.MatterPatch
) -> s.MatterOut:
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    async with write_tx():
        current = await get_matter(matter_id=matter_id)
        _check_fines(
            changes.get("fine_min", current.fine_min), changes.get("fine_max", current.fine_max)
        )
        if changes:
            await (
                Matter.update({Matter.updated_at: clock.now()}, **changes)
                .where(Matter.id == matter_id)
                .run()
            )
            await audit.record(
                stream=f"matter:{matter_id}",
                action="matter.updated",
                actor=principal.actor,
                payload=audit.jsonable(changes),
            )
    return await get_matter(matter_id=matter_id)


# ---------------------------------------------------------------------------
# Grants


def _grant_columns() -> list[Any]:
    return [
        JurisdictionGrant.id,
        JurisdictionGrant.matter.as_alias("matter_id"),
        JurisdictionGrant.matter.code.as_alias("matter_code"),
        JurisdictionGrant.org_unit.as_alias("org_unit_id"),
        JurisdictionGrant.org_unit.code.as_alias("org_unit_code"),
        JurisdictionGrant.effective_from,
        JurisdictionGrant.effective_to,
        JurisdictionGrant.basis,
        JurisdictionGrant.withdrawal_reason,
    ]


async def list_grants(
    *,
    principal: Principal,
    matter_id: uuid.UUID | None = None,
    org_unit_id: uuid.UUID | None = None,
    on: dt.date | None = None,
) -> list[s.GrantOut]:
    """Grants (the whole history unless ``on`` asks for those in force that day)."""
    query = scope.restrict(
        JurisdictionGrant.select(*_grant_columns()), principal, JurisdictionGrant.org_unit
    )
    if matter_id:
        query = query.where(JurisdictionGrant.matter == matter_id)
    if org_unit_id:
        query = query.where(JurisdictionGrant.org_unit == org_unit_id)
    if on:
        query = query.where(_in_force(on))
    rows = await query.order_by(JurisdictionGrant.effective_from).run()
    return [to_struct(s.GrantOut, r) for r in rows]


def _in_force(on: dt.date) -> Any:
    return (JurisdictionGrant.effective_from <= on) & (
        JurisdictionGrant.effective_to.is_null() | (JurisdictionGrant.effective_to >= on)
    )


async def grant_in_force(
    *, matter_id: uuid.UUID, org_unit_id: uuid.UUID, on: dt.date
) -> s.GrantOut | None:
    """The grant of ``matter`` to ``org_unit`` in force on ``on``, if any."""
    row = (
        await JurisdictionGrant.select(*_grant_columns())
        .where(JurisdictionGrant.matter == matter_id)
        .where(JurisdictionGrant.org_unit == org_unit_id)
        .where(_in_force(on))
        .first()
        .run()
    )
    return to_struct(s.GrantOut, row) if row else None


async def _check_grantee(principal: Principal, org_unit_id: uuid.UUID) -> dict[str, Any]:
    scope.require(principal, org_unit_id, what="org unit")
    unit = await OrgUnit.select(OrgUnit.kind, OrgUnit.code).where(OrgUnit.id == org_unit_id).first()
    if unit is None:
        raise NotFound("org unit not found", code="org_unit.not_found")
    if unit["kind"] not in GRANTEE_KINDS:
        raise BadRequest(
            f"matters are granted to townships or zones, not to a {unit['kind']}",
            code="grant.bad_org_kind",
        )
    if not principal.unrestricted and principal.org_unit_id == org_unit_id:
        raise BadRequest(
            "a unit cannot grant matters to itself; the county grants them", code="grant.self"
        )
    return unit


async def _overlapping(
    matter_id: uuid.UUID, org_unit_id: uuid.UUID, start: dt.date, end: dt.date | None
) -> bool:
    query = (
        JurisdictionGrant.exists()
        .where(JurisdictionGrant.matter == matter_id)
        .where(JurisdictionGrant.org_unit == org_unit_id)
        .where(JurisdictionGrant.effective_to.is_null() | (JurisdictionGrant.effective_to >= start))
    )
    if end is not None:
        query = query.where(JurisdictionGrant.effective_from <= end)
    return bool(await query.run())


async def create_grant(*, principal: Principal, data: s.GrantIn) -> s.GrantOut:
    if data.effective_to is not None and data.effective_to < data.effective_from:
        raise BadRequest("effective_to is before effective_from", code="grant.bad_period")
    grant_id = uuid.uuid4()
    async with write_tx():
        await _check_grantee(principal, data.org_unit_id)
        await get_matter(matter_id=data.matter_id)
        if await _overlapping(
            data.matter_id, data.org_unit_id, data.effective_from, data.effective_to
        ):
            raise Conflict(
                "this matter is already granted to the unit for part of that period",
                code="grant.overlap",
            )
        await JurisdictionGrant.insert(
            JurisdictionGrant(
                id=grant_id,
                matter=data.matter_id,
                org_unit=data.org_unit_id,
                effective_from=data.effective_from,
                effective_to=data.effective_to,
                basis=data.basis,
                created_by=principal.actor,
                created_at=clock.now(),
            )
        ).run()
        await audit.record(
            stream=f"grant:{grant_id}",
            action="grant.created",
            actor=principal.actor,
            payload=audit.jsonable(msgspec.to_builtins(data)),
            org_unit_id=data.org_unit_id,
        )
    return await _get_grant(grant_id)


async def _get_grant(grant_id: uuid.UUID) -> s.GrantOut:
    row = (
        await JurisdictionGrant.select(*_grant_columns())
        .where(JurisdictionGrant.id == grant_id)
        .first()
        .run()
    )
    if row is None:
        raise NotFound("grant not found", code="grant.not_found")
    return to_struct(s.GrantOut, row)


async def withdraw_grant(
    *, principal: Principal, grant_id: uuid.UUID, data: s.GrantWithdrawIn
) -> s.GrantOut:
    """Withdraw a grant from a date on (its last day in force is ``effective_to``)."""
    async with write_tx():
        grant = await scope.fetch(
            JurisdictionGrant,
            grant_id,
            principal,
            org_column=JurisdictionGrant.org_unit,
            what="grant",
        )
        await _check_grantee(principal, grant["org_unit"])
        if grant["effective_to"] is not None and grant["effective_to"] <= data.effective_to:
            raise Conflict("the grant already ends by that day", code="grant.already_ended")
        if data.effective_to < grant["effective_from"] - dt.timedelta(days=1):
            raise BadRequest("effective_to is before the grant started", code="grant.bad_period")
        await (
            JurisdictionGrant.update(
                {
                    JurisdictionGrant.effective_to: data.effective_to,
                    JurisdictionGrant.withdrawal_reason: data.reason,
                }
            )
            .where(JurisdictionGrant.id == grant_id)
            .run()
        )
        await audit.record(
            stream=f"grant:{grant_id}",
            action="grant.withdrawn",
            actor=principal.actor,
            payload={"effective_to": data.effective_to, "reason": data.reason},
            org_unit_id=grant["org_unit"],
        )
    return await _get_grant(grant_id)


# ---------------------------------------------------------------------------
# Import from CSV / XLSX

MATTER_HEADER = {"code", "name", "category", "domain"}
GRANT_HEADER = {"matter_code", "org_unit_code", "effective_from"}


def read_table_file(name: str, content: bytes) -> list[list[dict[str, str]]]:
    """The sheets of a CSV or XLSX file as lists of rows keyed by header."""
    if content[:4] == b"PK\x03\x04" or name.lower().endswith(".xlsx"):
        import openpyxl

        try:
            book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:
            raise BadRequest(f"not a readable XLSX file: {exc}", code="import.bad_file") from None
        sheets = []
        for sheet in book.worksheets:
            rows = list(sheet.iter_rows(values_only=True))
            if not rows:
                continue
            header = [str(h or "").strip() for h in rows[0]]
            sheets.append(
                [
                    {h: _cell(v) for h, v in zip(header, row, strict=False) if h}
                    for row in rows[1:]
                    if any(v not in (None, "") for v in row)
                ]
            )
        return sheets
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("CSV must be UTF-8", code="import.bad_file") from None
    reader = csv.DictReader(io.StringIO(text))
    return [[{k.strip(): (v or "").strip() for k, v in r.items() if k} for r in reader]]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _split(text: str) -> list[str]:
    for sep in ("、", "；", ";", "，", "|"):
        text = text.replace(sep, ",")
    return [p.strip() for p in text.split(",") if p.strip()]


def _int_or_none(value: str, *, line: int, column: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise BadRequest(
            f"row {line}: {column} must be a whole number of yuan", code="import.bad_row"
        ) from None


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "y", "是", "重大")


def _date(value: str, *, line: int, column: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"row {line}: {column} is not a date", code="import.bad_row") from None


def parse_matter_rows(rows: Iterable[dict[str, str]]) -> list[s.MatterIn]:
    out = []
    for line, raw in enumerate(rows, start=2):
        try:
            out.append(
                msgspec.convert(
                    {
                        "code": raw.get("code", ""),
                        "name": raw.get("name", ""),
                        "category": raw.get("category", ""),
                        "domain": raw.get("domain", ""),
                        "legal_basis": raw.get("legal_basis", ""),
                        "fine_min": _int_or_none(
                            raw.get("fine_min", ""), line=line, column="fine_min"
                        ),
                        "fine_max": _int_or_none(
                            raw.get("fine_max", ""), line=line, column="fine_max"
                        ),
                        "hearing_threshold_individual": _int_or_none(
                            raw.get("hearing_threshold_individual", ""),
                            line=line,
                            column="hearing_threshold_individual",
                        ),
                        "hearing_threshold_organisation": _int_or_none(
                            raw.get("hearing_threshold_organisation", ""),
                            line=line,
                            column="hearing_threshold_organisation",
                        ),
                        "major": _flag(raw.get("major", "")),
                        "serious": _flag(raw.get("serious", "")),
                        "recorded_actions": _split(raw.get("recorded_actions", "")),
                    },
                    s.MatterIn,
                )
            )
        except msgspec.ValidationError as exc:
            raise BadRequest(f"row {line}: {exc}", code="import.bad_row") from None
        _check_fines(out[-1].fine_min, out[-1].fine_max)
    return out


async def import_file(*, principal: Principal, name: str, content: bytes) -> s.ImportResult:
    """Upsert matters by code and add grants that are not there yet; all or nothing."""
    sheets = read_table_file(name, content)
    result = s.ImportResult()
    async with write_tx():
        for rows in sheets:
            if not rows:
                continue
            header = set(rows[0])
            if MATTER_HEADER <= header:
                for matter in parse_matter_rows(rows):
                    await _upsert_matter(principal, matter, result)
            elif GRANT_HEADER <= header:
                for line, raw in enumerate(rows, start=2):
                    await _import_grant(principal, raw, line, result)
            else:
                raise BadRequest(
                    "a sheet needs the columns code,name,category,domain (matters) or "
                    "matter_code,org_unit_code,effective_from (grants)",
                    code="import.bad_header",
                )
    return result


async def _upsert_matter(principal: Principal, data: s.MatterIn, result: s.ImportResult) -> None:
    existing = await Matter.select(Matter.id).where(Matter.code == data.code).first().run()
    if existing is None:
        await create_matter(principal=principal, data=data)
        result.matters_created += 1
        return
    fields = msgspec.structs.asdict(data)
    fields.pop("code")
    await update_matter(principal=principal, matter_id=existing["id"], data=s.MatterPatch(**fields))
    result.matters_updated += 1


async def _import_grant(
    principal: Principal, raw: dict[str, str], line: int, result: s.ImportResult
) -> None:
    matter = await matter_by_code(raw.get("matter_code", ""))
    if matter is None:
        raise BadRequest(
            f"row {line}: unknown matter {raw.get('matter_code')!r}", code="import.bad_row"
        )
    unit = await OrgUnit.select(OrgUnit.id).where(OrgUnit.code == raw.get("org_unit_code", ""))
    if not unit:
        raise BadRequest(
            f"row {line}: unknown org unit {raw.get('org_unit_code')!r}", code="import.bad_row"
        )
    start = _date(raw.get("effective_from", ""), line=line, column="effective_from")
    end_text = raw.get("effective_to", "")
    end = _date(end_text, line=line, column="effective_to") if end_text else None
    same = (
        await JurisdictionGrant.exists()
        .where(JurisdictionGrant.matter == matter.id)
        .where(JurisdictionGrant.org_unit == unit[0]["id"])
        .where(JurisdictionGrant.effective_from == start)
        .run()
    )
    if same:
        result.grants_unchanged += 1
        return
    await create_grant(
        principal=principal,
        data=s.GrantIn(
            matter_id=matter.id,
            org_unit_id=unit[0]["id"],
            effective_from=start,
            effective_to=end,
            basis=raw.get("basis", ""),
        ),
    )
    result.grants_created += 1
