"""The subject directory (检查对象名录库) and its bulk import.

An import is all-or-nothing: every row is checked first, and if any is rejected the
report lists each with its line number and reason and nothing is written. A clean
file is upserted by credit code in one transaction, in chunks, with one audit event.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from backend.audit import service as audit
from backend.core import clock, scope
from backend.core.auth import Principal
from backend.core.db import current_engine, is_sqlite, write_tx
from backend.core.errors import BadRequest, Conflict, NotFound
from backend.core.ids import uuid7_texts
from backend.core.schemas import to_struct
from backend.inspections import credit_code
from backend.inspections import schemas as s
from backend.inspections.tables import Subject
from backend.orgs.tables import Grid, OrgUnit

log = logging.getLogger("fieldcase.inspections.subjects")

# Progress callbacks get (phase, rows done, rows in total or 0 if unknown).
Progress = Callable[[str, int, int], None]

CHUNK_ROWS = 20_000

# Column names accepted in import files (English or the usual Chinese headers).
HEADERS: dict[str, tuple[str, ...]] = {
    "credit_code": ("credit_code", "统一社会信用代码", "信用代码"),
    "name": ("name", "名称", "主体名称", "企业名称"),
    "subject_type": ("subject_type", "type", "类型", "主体类型"),
    "industry": ("industry", "行业"),
    "address": ("address", "地址", "住所"),
    "lat": ("lat", "纬度"),
    "lon": ("lon", "经度"),
    "org_unit": ("org_unit", "org_unit_code", "所属单位", "单位代码"),
    "grid_code": ("grid_code", "网格", "网格编码"),
    "risk_class": ("risk_class", "风险等级", "信用风险分类"),
    "abnormal": ("abnormal", "经营异常", "经营异常名录"),
    "serious_violation": ("serious_violation", "严重违法失信", "严重违法失信名单"),
    "status": ("status", "状态"),
}
REQUIRED = ("credit_code", "name", "org_unit", "risk_class")
TRUE = {"1", "true", "yes", "y", "是", "t"}
FALSE = {"", "0", "false", "no", "n", "否", "f"}
STATUSES = {"active": "active", "存续": "active", "在业": "active", "deregistered": "deregistered"}
STATUSES |= {"注销": "deregistered", "吊销": "deregistered", "": "active"}

# The order of the fields in a checked row (and in ``upsert_rows``' tuples).
FIELDS = (
    "credit_code",
    "name",
    "subject_type",
    "industry",
    "address",
    "lat",
    "lon",
    "org_unit",
    "grid_code",
    "risk_class",
    "abnormal",
    "serious_violation",
    "status",
)
COLUMNS = ("id", *FIELDS, "created_at", "updated_at")
UPDATED_ON_CONFLICT = [c for c in COLUMNS if c not in ("id", "credit_code", "created_at")]


# ---------------------------------------------------------------------------
# Reading files


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _csv_rows(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv.reader(handle)


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell(v) for v in row]
    finally:
        workbook.close()


def table_rows(path: Path) -> Iterator[list[str]]:
    """The rows of a CSV or XLSX file (first sheet), header first."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(path)
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_rows(path)
    raise BadRequest(f"{path.name}: import files must be .csv or .xlsx", code="import.bad_format")


def count_rows(path: Path) -> int:
    """Data rows in the file, for the progress bar (0 if not known cheaply)."""
    if path.suffix.lower() != ".csv":
        return 0
    with path.open("rb") as handle:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return max(lines - 1, 0)


def header_map(header: list[str], aliases: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """Field name -> column index, from a header row with English or Chinese names."""
    found: dict[str, int] = {}
    lookup = {alias.lower(): field for field, names in aliases.items() for alias in names}
    for index, title in enumerate(header):
        field = lookup.get(title.strip().lower())
        if field is not None and field not in found:
            found[field] = index
    return found


# ---------------------------------------------------------------------------
# Checking rows


@dataclass
class _Context:
    org_units: dict[str, str]  # code -> id, only the units the principal sees
    grids: set[str]
    locked_codes: set[str]  # existing subjects outside the principal's scope


def _flag(text: str, field: str) -> bool:
    value = text.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValueError(f"{field} must be 1/0, true/false or 是/否, not {text!r}")


def _coordinate(text: str, field: str, limit: float) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{field} is not a number: {text!r}") from None
    if not -limit <= value <= limit:
        raise ValueError(f"{field} {value} is outside ±{limit:g}")
    return value


TEXT_LIMITS = (("subject_type", 60), ("industry", 100), ("address", 300))
RISK_CLASSES = frozenset(s.RISK_CLASSES)


def _check_row(cells: list[str], at: dict[str, int], ctx: _Context) -> tuple[Any, ...]:
    """One row (cells padded to the header) as a tuple in FIELDS order, or ValueError."""
    code = cells[at["credit_code"]].strip().upper()
    why = credit_code.problem(code)
    if why:
        raise ValueError(f"credit code {code or '(empty)'}: {why}")
    if code in ctx.locked_codes:
        raise ValueError(f"credit code {code} belongs to a subject outside your org units")
    name = cells[at["name"]].strip()
    if not name or len(name) > 200:
        raise ValueError("name is empty" if not name else "name is longer than 200 characters")
    unit_code = cells[at["org_unit"]].strip()
    org_unit = ctx.org_units.get(unit_code)
    if org_unit is None:
        raise ValueError(f"unknown org unit {unit_code or '(empty)'}")
    grid = cells[at["grid_code"]].strip()
    if grid and grid not in ctx.grids:
        raise ValueError(f"unknown grid {grid}")
    risk = cells[at["risk_class"]].strip().upper()
    if risk not in RISK_CLASSES:
        raise ValueError(f"risk class must be A, B, C or D, not {risk or '(empty)'}")
    raw_status = cells[at["status"]].strip()
    status = STATUSES.get(raw_status.lower())
    if status is None:
        raise ValueError(f"status must be active or deregistered, not {raw_status!r}")
    texts = [cells[at[field]].strip() for field, _ in TEXT_LIMITS]
    for text, (field, limit) in zip(texts, TEXT_LIMITS, strict=True):
        if len(text) > limit:
            raise ValueError(f"{field} is longer than {limit} characters")
    return (
        code,
        name,
        *texts,
        _coordinate(cells[at["lat"]].strip(), "lat", 90),
        _coordinate(cells[at["lon"]].strip(), "lon", 180),
        org_unit,
        grid,
        risk,
        _flag(cells[at["abnormal"]], "abnormal"),
        _flag(cells[at["serious_violation"]], "serious_violation"),
        status,
    )


MEMO_LIMIT = 100_000


def _row_checker(at: dict[str, int], ctx: _Context) -> Callable[[list[str]], tuple[Any, ...]]:
    """``_check_row`` for a whole file, several times faster on clean rows.

    The columns with few distinct values (org unit, grid, risk class, flags, status) are
    checked once per distinct combination and remembered; a row that fails any quick test
    goes through ``_check_row``, which names its first problem.
    """
    (i_code, i_name, i_type, i_industry, i_address, i_lat, i_lon) = (at[f] for f in FIELDS[:7])
    (i_unit, i_grid, i_risk, i_abnormal, i_serious, i_status) = (at[f] for f in FIELDS[7:])
    (type_limit, industry_limit, address_limit) = (limit for _, limit in TEXT_LIMITS)
    locked = ctx.locked_codes
    is_valid = credit_code.is_valid
    memo: dict[tuple[str, ...], tuple[Any, ...]] = {}

    def check(cells: list[str]) -> tuple[Any, ...]:
        code = cells[i_code].strip().upper()
        name = cells[i_name].strip()
        subject_type = cells[i_type].strip()
        industry = cells[i_industry].strip()
        address = cells[i_address].strip()
        key = (
            cells[i_unit],
            cells[i_grid],
            cells[i_risk],
            cells[i_abnormal],
            cells[i_serious],
            cells[i_status],
        )
        common = memo.get(key)
        if (
            common is None
            or not is_valid(code)
            or code in locked
            or not name
            or len(name) > 200
            or len(subject_type) > type_limit
            or len(industry) > industry_limit
            or len(address) > address_limit
        ):
            row = _check_row(cells, at, ctx)
            if len(memo) < MEMO_LIMIT:
                memo[key] = row[7:]
            return row
        lat = cells[i_lat].strip()
        lon = cells[i_lon].strip()
        try:
            return (
                code,
                name,
                subject_type,
                industry,
                address,
                _coordinate(lat, "lat", 90) if lat else None,
                _coordinate(lon, "lon", 180) if lon else None,
                *common,
            )
        except ValueError:
            return _check_row(cells, at, ctx)

    return check


def _checked_rows(
    path: Path, ctx: _Context
) -> Iterator[tuple[int, tuple[Any, ...] | None, str | None]]:
    """(line number, row or None, reason or None) for each data row."""
    rows = table_rows(path)
    header = next(rows, None)
    if header is None:
        raise BadRequest(f"{path.name} is empty", code="import.empty")
    cols = header_map(header, HEADERS)
    missing = [f for f in REQUIRED if f not in cols]
    if missing:
        raise BadRequest(
            f"{path.name}: missing columns {', '.join(missing)}", code="import.missing_columns"
        )
    # Absent optional columns read from one extra empty cell at the end of every row.
    width = len(header)
    at = {field: cols.get(field, width) for field in FIELDS}
    padding = [""] * (width + 1)
    check = _row_checker(at, ctx)
    for line, cells in enumerate(rows, start=2):
        if len(cells) <= width:
            cells = cells + padding[len(cells) :]
        if not any(cells):
            continue
        try:
            yield line, check(cells), None
        except ValueError as exc:
            yield line, None, str(exc)


async def _import_context(principal: Principal) -> _Context:
    units = scope.restrict(OrgUnit.select(OrgUnit.id, OrgUnit.code), principal, OrgUnit.id)
    org_units = {r["code"]: str(r["id"]) for r in await units.run()}
    grids = {r["code"] for r in await Grid.select(Grid.code).run()}
    locked: set[str] = set()
    if not principal.unrestricted:
        visible = list(principal.scope_org_ids) or [uuid.UUID(int=0)]
        query = Subject.select(Subject.credit_code).where(Subject.org_unit.not_in(visible))
        locked = {r["credit_code"] for r in await query.run()}
    return _Context(org_units=org_units, grids=grids, locked_codes=locked)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# Import


class _Rejected(Exception):
    """Raised inside the import transaction to roll back a file with rejected rows."""


async def import_subjects(
    *,
    principal: Principal,
    path: Path,
    source: str | None = None,
    progress: Progress | None = None,
) -> s.ImportReport:
    """Check every row of ``path`` and upsert them by credit code, or nothing at all.

    One pass inside one transaction: rows are written in chunks while all is well; from
    the first rejected row on, the rest is only checked, and the transaction rolls back.
    """
    total = count_rows(path)
    ctx = await _import_context(principal)
    rejected: list[s.RejectedRow] = []
    first_line: dict[str, int] = {}
    rows = 0
    written = 0
    now = clock.now()
    try:
        async with write_tx():
            before = await Subject.count().run()
            chunk: list[tuple[Any, ...]] = []
            for line, row, reason in _checked_rows(path, ctx):
                rows += 1
                if row is not None:
                    seen = first_line.setdefault(row[0], line)
                    if seen != line:
                        reason = f"credit code {row[0]} is already on line {seen}"
                if reason is not None:
                    rejected.append(s.RejectedRow(line=line, reason=reason))
                    chunk = []
                elif row is not None and not rejected:
                    chunk.append(row)
                    if len(chunk) >= CHUNK_ROWS:
                        written += await upsert_rows(chunk, now)
                        chunk = []
                if progress and rows % 10_000 == 0:
                    progress("importing", rows, total)
            if progress:
                progress("importing", rows, rows)
            if rejected:
                raise _Rejected
            if rows == 0:
                raise BadRequest(f"{path.name} has no data rows", code="import.empty")
            written += await upsert_rows(chunk, now)
            inserted = await Subject.count().run() - before
            updated = written - inserted
            await audit.record(
                stream=f"subject_import:{uuid.uuid4()}",
                action="subject.imported",
                actor=principal.actor,
                payload={
                    "source": source or path.name,
                    "sha256": file_sha256(path),
                    "rows": rows,
                    "inserted": inserted,
                    "updated": updated,
                    "unchanged": rows - written,
                },
                org_unit_id=None if principal.unrestricted else principal.org_unit_id,
            )
    except _Rejected:
        return s.ImportReport(rows=rows, inserted=0, updated=0, applied=False, rejected=rejected)
    await after_import(written)
    return s.ImportReport(
        rows=rows, inserted=inserted, updated=updated, unchanged=rows - written, applied=True
    )


async def after_import(written: int) -> None:
    """Vacuum and analyze the directory after an import that wrote rows (PostgreSQL).

    A draw reads its pool from the partial indexes with index-only scans, which go
    to the table for every row on a page the visibility map does not know to be all
    visible: the pages an import has just written, until autovacuum comes by. Vacuuming
    at once (a second or two for a million rows, outside the import's transaction)
    keeps the first draw after an import as fast as the next ones, and the planner's
    statistics current. It is upkeep: it does not wait for a table someone else is
    maintaining (``SKIP_LOCKED``), and if it fails the import stands and is reported.
    """
    if not written or is_sqlite():
        return
    engine = current_engine()
    if engine.current_transaction.get() is not None:
        # Called inside a caller's transaction: VACUUM cannot run there (and would abort
        # it); the import is not committed yet, and autovacuum will come by.
        log.info("subject import inside a transaction: the vacuum after it is left out")
        return
    import asyncpg

    try:
        await engine.run_ddl("VACUUM (ANALYZE, SKIP_LOCKED) subject")
    except (asyncpg.PostgresError, OSError) as exc:
        # The import has committed: it is reported as done all the same.
        log.warning("vacuum after the subject import failed (%s); autovacuum will do it", exc)


# SQLite's page cache for one import transaction (KiB): the subject indexes of a million
# rows do not fit the default 2 MB, and every miss is a read from the file.
SQLITE_IMPORT_CACHE_KIB = 256 * 1024


async def upsert_rows(rows: list[tuple[Any, ...]], now: Any) -> int:
    """Insert or update ``rows`` by credit code on the current transaction's connection;
    rows equal to the stored ones are left alone. Returns how many were written."""
    if not rows:
        return 0
    transaction = current_engine().current_transaction.get()
    assert transaction is not None
    connection = transaction.connection
    columns = ", ".join(COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in UPDATED_ON_CONFLICT)
    compared = [c for c in UPDATED_ON_CONFLICT if c != "updated_at"]
    ids = uuid7_texts(len(rows))
    if is_sqlite():
        stamp = str(now)
        records = [(i, *row, stamp, stamp) for i, row in zip(ids, rows, strict=True)]
        marks = ", ".join("?" for _ in COLUMNS)
        changed = " OR ".join(f"subject.{c} IS NOT excluded.{c}" for c in compared)
        await connection.execute(f"PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}")
        cursor = await connection.executemany(
            f"INSERT INTO subject ({columns}) VALUES ({marks}) "
            f"ON CONFLICT (credit_code) DO UPDATE SET {updates} WHERE {changed}",
            records,
        )
        return int(cursor.rowcount)
    pg_records = [
        (i, *row[:7], uuid.UUID(row[7]), *row[8:], now, now)
        for i, row in zip(ids, rows, strict=True)
    ]
    # The transaction commits durably even where the server commits asynchronously: the
    # import is acknowledged only once it is on disk, and the vacuum that follows it
    # (``after_import``) can only mark rows all-visible once their commit is flushed.
    await connection.execute("SET LOCAL synchronous_commit = on")
    await connection.execute(
        "CREATE TEMP TABLE IF NOT EXISTS subject_import "
        "(LIKE subject INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    await connection.execute("TRUNCATE subject_import")
    await connection.copy_records_to_table(
        "subject_import", records=pg_records, columns=list(COLUMNS)
    )
    stored = ", ".join(f"subject.{c}" for c in compared)
    incoming = ", ".join(f"excluded.{c}" for c in compared)
    status = await connection.execute(
        f"INSERT INTO subject ({columns}) SELECT {columns} FROM subject_import "
        f"ON CONFLICT (credit_code) DO UPDATE SET {updates} "
        f"WHERE ({stored}) IS DISTINCT FROM ({incoming})"
    )
    return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 <rows written>"


# ---------------------------------------------------------------------------
# Directory CRUD


def _columns() -> list[Any]:
    return [
        Subject.id,
        Subject.credit_code,
        Subject.name,
        Subject.subject_type,
        Subject.industry,
        Subject.address,
        Subject.lat,
        Subject.lon,
        Subject.org_unit.as_alias("org_unit_id"),
        Subject.grid_code,
        Subject.risk_class,
        Subject.abnormal,
        Subject.serious_violation,
        Subject.status,
    ]


async def list_subjects(
    *,
    principal: Principal,
    org_unit_id: uuid.UUID | None = None,
    grid_code: str | None = None,
    risk_class: str | None = None,
    q: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[s.SubjectOut], int]:
    query = scope.restrict(Subject.select(*_columns()), principal, Subject.org_unit)
    count = scope.restrict(Subject.count(), principal, Subject.org_unit)
    conditions: list[Any] = []
    if org_unit_id:
        conditions.append(Subject.org_unit == org_unit_id)
    if grid_code:
        conditions.append(Subject.grid_code == grid_code)
    if risk_class:
        conditions.append(Subject.risk_class == risk_class)
    if q:
        conditions.append(Subject.name.like(f"%{q}%") | (Subject.credit_code == q.upper()))
    for condition in conditions:
        query = query.where(condition)
        count = count.where(condition)
    rows = await query.order_by(Subject.credit_code).limit(limit).offset(offset).run()
    return [to_struct(s.SubjectOut, r) for r in rows], await count.run()


async def get_subject(*, principal: Principal, subject_id: uuid.UUID) -> s.SubjectOut:
    row = await scope.fetch(
        Subject,
        subject_id,
        principal,
        org_column=Subject.org_unit,
        what="subject",
        columns=_columns(),
    )
    return to_struct(s.SubjectOut, row)


def _checked_code(code: str) -> str:
    code = credit_code.normalize(code)
    why = credit_code.problem(code)
    if why:
        raise BadRequest(f"credit code {code}: {why}", code="subject.bad_credit_code")
    return code


async def create_subject(*, principal: Principal, data: s.SubjectIn) -> s.SubjectOut:
    code = _checked_code(data.credit_code)
    async with write_tx():
        scope.require(principal, data.org_unit_id, what="org unit")
        if not await OrgUnit.exists().where(OrgUnit.id == data.org_unit_id).run():
            raise NotFound("org unit not found", code="org_unit.not_found")
        if data.grid_code and not await Grid.exists().where(Grid.code == data.grid_code).run():
            raise BadRequest(f"unknown grid {data.grid_code}", code="subject.unknown_grid")
        if await Subject.exists().where(Subject.credit_code == code).run():
            raise Conflict(f"subject {code} is already in the directory", code="subject.exists")
        now = clock.now()
        fields = msgspec.structs.asdict(data)
        fields.pop("org_unit_id")
        fields["credit_code"] = code
        subject = Subject(
            id=uuid.uuid4(), org_unit=data.org_unit_id, created_at=now, updated_at=now, **fields
        )
        await Subject.insert(subject).run()
        await audit.record(
            stream=f"subject:{subject.id}",
            action="subject.created",
            actor=principal.actor,
            payload=audit.jsonable(msgspec.to_builtins(data)) | {"credit_code": code},
            org_unit_id=data.org_unit_id,
        )
    return await get_subject(principal=principal, subject_id=subject.id)


async def update_subject(
    *, principal: Principal, subject_id: uuid.UUID, data: s.SubjectPatch
) -> s.SubjectOut:
    changes: dict[Any, Any] = {
        k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET
    }
    async with write_tx():
        row = await scope.fetch(
            Subject,
            subject_id,
            principal,
            org_column=Subject.org_unit,
            what="subject",
            columns=[Subject.org_unit],
        )
        grid = changes.get("grid_code")
        if grid and not await Grid.exists().where(Grid.code == grid).run():
            raise BadRequest(f"unknown grid {grid}", code="subject.unknown_grid")
        if changes:
            await (
                Subject.update({**changes, "updated_at": clock.now()})
                .where(Subject.id == subject_id)
                .run()
            )
            await audit.record(
                stream=f"subject:{subject_id}",
                action="subject.updated",
                actor=principal.actor,
                payload=changes,
                org_unit_id=row["org_unit"],
            )
    return await get_subject(principal=principal, subject_id=subject_id)
