"""The hashrank-v1 draw of a published plan, its public record and replacements.

The pure algorithm lives in hashrank.py; this module fixes the inputs (pool per
stratum after exclusions, inspector pool and constraints), persists the outcome
(the immutable public record, tasks, teams, result lines) and audits it.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import hashlib
import itertools
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import zstandard

from backend.audit import service as audit
from backend.core import clock, scope
from backend.core.auth import Principal
from backend.core.db import is_sqlite, write_tx
from backend.core.errors import Conflict, NotFound
from backend.core.ids import uuid7_batch
from backend.inspections import hashrank, ranking
from backend.inspections import schemas as s
from backend.inspections.bulk import fetch_rows, insert_rows
from backend.inspections.service import check_transition, decoded, items_by_code
from backend.inspections.tables import (
    DrawReplacement,
    InspectionDraw,
    InspectionPlan,
    InspectionTask,
    Subject,
    TaskInspector,
)
from backend.orgs import service as orgs
from backend.orgs.tables import Officer, OrgUnit, TeamMember

INSERT_CHUNK = 400
log = logging.getLogger("fieldcase.inspections.draw")


class _Phases:
    """Seconds spent in each phase of a draw, for the debug log and the benchmark."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.spent: dict[str, float] = {}

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.spent[name] = now - self.last
        self.last = now

    def __str__(self) -> str:
        return ", ".join(f"{k} {v:.2f} s" for k, v in self.spent.items())


SHORTFALL_LISTED = 20


def _db_id(value: Any) -> Any:
    """A UUID as the current database compares it (text on SQLite)."""
    return str(value) if is_sqlite() else uuid.UUID(str(value))


def _in(values: Sequence[Any]) -> str:
    return "(" + ", ".join("?" for _ in values) + ")"


# ---------------------------------------------------------------------------
# Inputs of a draw


@dataclass
class Pool:
    sizes: dict[str, int]  # ids of each stratum that has any
    # Each stratum's ids as newline-separated UTF-8 pieces, in code order: what the
    # ranking workers are sent and the public record lists.
    pieces: dict[str, list[bytes]]
    digest: str  # hashrank.pool_digest of the ids of all strata
    excluded: int

    @property
    def size(self) -> int:
        return sum(self.sizes.values())

    def ids(self, name: str) -> list[str]:
        return b"\n".join(self.pieces[name]).decode("utf-8").split("\n")

    def ids_json(self, name: str) -> msgspec.Raw:
        """A stratum's ids as a JSON array, written straight from the pieces (what
        ``msgspec.json.encode(self.ids(name))`` writes, without making a million strings)
        unless an id holds a character JSON escapes."""
        joined = b"\n".join(self.pieces[name])
        if joined.translate(None, _PLAIN_IN_JSON):  # some byte that JSON escapes
            return msgspec.Raw(msgspec.json.encode(self.ids(name)))
        return msgspec.Raw(b'["' + joined.replace(b"\n", b'","') + b'"]')


# The bytes a JSON string holds as they are (UTF-8 included), and the newline that
# separates the ids.
_PLAIN_IN_JSON = bytes(c for c in range(0x20, 0x100) if c not in b'"\\') + b"\n"


async def _subtree_ids(unit_ids: Sequence[Any]) -> list[uuid.UUID]:
    if not unit_ids:
        return []
    rows = await OrgUnit.select(OrgUnit.path).where(OrgUnit.id.is_in(list(unit_ids))).run()
    out: set[uuid.UUID] = set()
    for r in rows:
        out |= await orgs.org_ids_under(r["path"])
    return sorted(out)


def _joined_bytes(column: str, where: str = "") -> str:
    """The aggregate that joins ``column`` of all rows (that satisfy ``where``, if given)
    into one newline-separated text, as UTF-8 bytes: the driver hands them over as they
    are, without decoding a string."""
    if is_sqlite():
        aggregate = f"group_concat({column}, char(10))"
        return f"CAST({aggregate}{f' FILTER (WHERE {where})' if where else ''} AS BLOB)"
    aggregate = f"string_agg({column}, chr(10))"
    return f"convert_to({aggregate}{f' FILTER (WHERE {where})' if where else ''}, 'UTF8')"


async def subject_pool(plan: dict[str, Any], items: dict[str, dict[str, Any]]) -> Pool:
    """Each stratum's eligible credit codes after the scope filters and the no-repeat window.

    A county of a million subjects is fixed without making row objects: the database
    joins each stratum's codes into one newline-separated text, which Python splits,
    filters and sorts. The reads come in parts (see ``_pool_reads``): while the database
    computes one, Python splits and filters the one before.
    """
    units = await _subtree_ids([plan["org_unit"]])
    if plan["scope_org_unit_ids"]:
        wanted = set(await _subtree_ids(plan["scope_org_unit_ids"]))
        units = [u for u in units if u in wanted]
    names = [n for n in hashrank.STRATA if n in (plan["scope_risk_classes"] or hashrank.STRATA)]
    scope = ""
    params: list[Any] = []
    # A plan over every unit (the county's usual case) needs no unit filter.
    if not units or await OrgUnit.count().run() != len(units):
        scope += f" AND org_unit IN {_in(units or [uuid.UUID(int=0)])}"
        params.extend(_db_id(u) for u in units or [uuid.UUID(int=0)])
    types = list(plan["scope_subject_types"])
    if not types and all(i["subject_types"] for i in items.values()):
        types = sorted({t for i in items.values() for t in i["subject_types"]})
    for column, values in (
        ("grid_code", plan["scope_grid_codes"]),
        ("industry", plan["scope_industries"]),
        ("subject_type", types),
    ):
        if values:
            scope += f" AND {column} IN {_in(values)}"
            params.extend(values)

    reads, ordered = await _pool_reads(names, scope, params)
    excluded = await _recently_inspected(plan, list(items))
    pieces: dict[str, list[bytes]] = {name: [] for name in names}
    sizes = dict.fromkeys(names, 0)
    left_out: set[bytes] = set()  # codes of the pool that the window left out
    digest = _DigestInOrder() if ordered else None
    # Whether every range's codes lay within its bounds as Python orders codes (a column
    # collation that orders them otherwise would put codes where the window's codes of
    # the range, and the digest's order, do not expect them).
    in_bounds = True
    pending = asyncio.ensure_future(fetch_rows(reads[0].sql, reads[0].params))
    try:
        await asyncio.sleep(0)  # the first read is sent before the window's codes are set
        everywhere = set(excluded) if not ordered else set()
        for n, read in enumerate(reads):
            texts = (await pending)[0]
            if n + 1 < len(reads):
                pending = asyncio.ensure_future(fetch_rows(reads[n + 1].sql, reads[n + 1].params))
                await asyncio.sleep(0)  # the next read is sent before this one is worked on
            window = everywhere if read.bounds is None else _within(excluded, *read.bounds)
            part = _filter_read(texts, window, merge=digest is not None)
            if read.bounds is not None and not part.within(*read.bounds):
                in_bounds = False
            for name, piece, count in zip(read.columns, part.pieces, part.counts, strict=True):
                if count:
                    pieces[name].append(piece)
                    sizes[name] += count
            left_out |= part.dropped
            if digest is not None:
                digest.add(part.merged)
    except BaseException:
        # The transaction rolls back after the statement in flight, not during it.
        await asyncio.gather(pending, return_exceptions=True)
        raise
    if digest is not None and in_bounds and digest.in_order:
        pool_digest = digest.hexdigest()
    else:
        # Reads in storage order, or ranges that the database's collation filled otherwise
        # than Python orders codes (they may overlap, and a range's codes may fall outside
        # the window's codes it was checked against): each stratum is made a set again,
        # the whole window left out, sorted whole, and the whole pool digested at once.
        drop = set(excluded) if ordered else set()
        everything: list[bytes] = []
        for name in names:
            codes = b"\n".join(pieces[name]).split(b"\n") if pieces[name] else []
            if ordered:  # slices of storage order neither overlap nor miss the window
                unique = set(codes)
                left_out |= unique & drop
                codes = list(unique - drop)
            kept = sorted(codes)
            pieces[name] = [b"\n".join(kept)] if kept else []
            sizes[name] = len(kept)
            everything.extend(kept)
        everything.sort()
        pool_digest = hashlib.sha256(b"\n".join(everything)).hexdigest()
    sizes = {name: count for name, count in sizes.items() if count}
    return Pool(
        sizes=sizes,
        pieces={name: pieces[name] for name in sizes},
        digest=pool_digest,
        excluded=len(left_out),
    )


@dataclass
class _Part:
    """One read of the pool, made ready (see ``_filter_read``)."""

    pieces: list[bytes]  # each column's codes kept, in code order, newline-separated
    counts: list[int]  # how many each column kept
    dropped: set[bytes]  # the codes left out
    merged: bytes  # the codes kept of all columns, in code order (if asked for)
    lowest: bytes | None  # the lowest and highest code the read returned
    highest: bytes | None

    def within(self, low: str | None, high: str | None) -> bool:
        """Whether every code read lies in [low, high) as Python orders codes."""
        if self.lowest is None or self.highest is None:
            return True
        return (low is None or self.lowest >= low.encode("utf-8")) and (
            high is None or self.highest < high.encode("utf-8")
        )


def _filter_read(texts: Sequence[bytes | None], drop: set[bytes], *, merge: bool) -> _Part:
    """Each column of a read (a stratum's codes, newline-separated UTF-8) in code order,
    less the codes in ``drop``; and if ``merge``, the kept codes of all columns merged in
    code order (what the pool digest hashes of this read). Bytes sort as their text does
    (UTF-8 keeps code point order)."""
    pieces: list[bytes] = []
    counts: list[int] = []
    runs: list[list[bytes]] = []
    dropped: set[bytes] = set()
    lowest: bytes | None = None
    highest: bytes | None = None
    for text in texts:
        if not text:
            pieces.append(b"")
            counts.append(0)
            continue
        codes = text.split(b"\n")
        codes.sort()  # in code order already when read from an index
        lowest = codes[0] if lowest is None else min(lowest, codes[0])
        highest = codes[-1] if highest is None else max(highest, codes[-1])
        hits = drop.intersection(codes) if drop else None
        if hits:
            codes = [code for code in codes if code not in hits]
            dropped |= hits
        pieces.append(b"\n".join(codes))
        counts.append(len(codes))
        runs.append(codes)
    merged = b""
    if merge:
        ordered = list(itertools.chain.from_iterable(runs))
        ordered.sort()  # a merge of sorted runs
        merged = b"\n".join(ordered)
    return _Part(pieces, counts, dropped, merged, lowest, highest)


def _within(excluded: list[bytes], low: str | None, high: str | None) -> set[bytes]:
    """The codes of ``excluded`` (sorted) in the range [low, high)."""
    start = 0 if low is None else bisect.bisect_left(excluded, low.encode("utf-8"))
    end = len(excluded) if high is None else bisect.bisect_left(excluded, high.encode("utf-8"))
    return set(excluded[start:end])


class _DigestInOrder:
    """``hashrank.pool_digest`` of reads that come in code order (each read's codes all
    after the previous read's), hashed read by read while the next one is read.
    ``in_order`` turns False if a read starts before the end of the one before."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._last: bytes | None = None
        self.in_order = True

    def add(self, merged: bytes) -> None:
        """One read's codes of all strata, merged in code order, newline-separated."""
        if not self.in_order or not merged:
            return
        first, _, _ = merged.partition(b"\n")
        if self._last is not None and first <= self._last:
            self.in_order = False
            return
        self._sha.update(merged if self._last is None else b"\n" + merged)
        self._last = merged.rpartition(b"\n")[2]

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


# Rows of the subject table aggregated at a time (SQLite) and pages (PostgreSQL).
SLICE_ROWS = 62_500
SLICE_PAGES = 2_000
MAX_SLICES = 16
FLAGGED = "(abnormal OR serious_violation)"


@dataclass
class _Read:
    sql: str
    params: list[Any]
    columns: list[str]  # the stratum of each column
    bounds: tuple[str | None, str | None] | None = None  # the codes it reads, if a range


async def _pool_reads(names: list[str], scope: str, params: list[Any]) -> tuple[list[_Read], bool]:
    """The statements that read the pool, and whether they come in code order.

    A plan without scope filters reads the strata from their partial indexes
    (``subject_stratum``, ``subject_flagged``: active subjects' codes by risk class, in
    code order), about a quarter of the table's bytes, in ranges of the code space: each
    statement gives every stratum's codes of one range, so that the pool digest (over
    all codes in order) is hashed range by range as they come. The statements repeat
    the indexes' conditions word for word, which is how SQLite knows it may use them.
    Otherwise one aggregate per stratum (``FILTER``) goes over the table in slices of
    its storage order: rowid ranges on SQLite, page ranges on PostgreSQL. On PostgreSQL
    the statements see one state of the directory (``_lock_subjects``).
    """
    if not is_sqlite():
        await _lock_subjects()
    if not scope:
        reads = []
        for low, high in await _code_ranges():
            bounds = ""
            values: list[Any] = []
            if low is not None:
                bounds += " AND credit_code >= ?"
                values.append(low)
            if high is not None:
                bounds += " AND credit_code < ?"
                values.append(high)
            columns = ", ".join(
                f"(SELECT {_joined_bytes('credit_code')} FROM subject "
                + (
                    f"WHERE status = 'active' AND {FLAGGED}"
                    if name == "flagged"
                    else f"WHERE risk_class = '{name}' AND status = 'active' AND NOT {FLAGGED}"
                )
                + f"{bounds})"
                for name in names
            )
            reads.append(_Read(f"SELECT {columns}", values * len(names), names, (low, high)))
        return reads, True
    columns = ", ".join(
        _joined_bytes("credit_code", FLAGGED)
        if name == "flagged"
        else _joined_bytes("credit_code", f"NOT {FLAGGED} AND risk_class = '{name}'")
        for name in names
    )
    sql = f"SELECT {columns} FROM subject WHERE status = 'active'{scope}"
    return [_Read(sql + part, params, names) for part in await _slices()], False


# Codes read by one statement of a county-wide pool, about; a sample of the directory
# sets the ranges' bounds.
RANGE_ROWS = 80_000
SAMPLE_PER_RANGE = 30
ROWS_PER_PAGE = 50


async def _code_ranges() -> list[tuple[str | None, str | None]]:
    """Ranges of credit codes that cut the directory into parts of about ``RANGE_ROWS``
    (from a sample: the ranges need not be even, only cover every code exactly once),
    the first and last open-ended."""
    if is_sqlite():
        low, rows = await _rowid_span()
        count = min(MAX_SLICES, max(1, -(-rows // RANGE_ROWS)))
        if count == 1:
            return [(None, None)]
        points = count * SAMPLE_PER_RANGE
        rowids = sorted({low + (rows - 1) * k // (points - 1) for k in range(points)})
        sample = await fetch_rows(
            f"SELECT credit_code FROM subject WHERE rowid IN {_in(rowids)}", rowids
        )
    else:
        pages, estimate = (
            await fetch_rows(
                "SELECT pg_relation_size('subject') / current_setting('block_size')::int, "
                "reltuples FROM pg_class WHERE oid = 'subject'::regclass"
            )
        )[0]
        # The planner's estimate of the rows (-1 until the table is first vacuumed or
        # analyzed: then about what fits a page).
        rows = int(estimate) if estimate >= 0 else pages * ROWS_PER_PAGE
        count = min(MAX_SLICES, max(1, -(-rows // RANGE_ROWS)))
        if count == 1 or pages < 2:
            return [(None, None)]
        # The first row of evenly spaced pages (a page without one is passed over).
        points = count * SAMPLE_PER_RANGE
        tids = sorted({((pages - 1) * k // (points - 1), 1) for k in range(points)})
        sample = await fetch_rows(
            "SELECT credit_code FROM subject WHERE ctid = ANY(?::tid[])", [tids]
        )
    codes = sorted({row[0] for row in sample})
    bounds = sorted({codes[len(codes) * k // count] for k in range(1, count)}) if codes else []
    edges: list[str | None] = [None, *bounds, None]
    return list(itertools.pairwise(edges))


async def _rowid_span() -> tuple[int, int]:
    """The subject table's lowest rowid and how many rowids lie from it to the highest
    (SQLite; 0 rows for an empty table)."""
    # Two statements: SQLite reads min() or max() alone from the b-tree's edge, but scans
    # the whole table for both at once.
    low = (await fetch_rows("SELECT min(rowid) FROM subject"))[0][0]
    high = (await fetch_rows("SELECT max(rowid) FROM subject"))[0][0]
    return (0, 0) if low is None else (low, high - low + 1)


async def _slices() -> list[str]:
    """``AND`` clauses that cut the subject table into slices of its storage order."""
    literal: Callable[[int], str]
    if is_sqlite():
        low, rows = await _rowid_span()
        if not rows:
            return [""]
        count = min(MAX_SLICES, max(1, -(-rows // SLICE_ROWS)))
        step = -(-rows // count)
        bounds = [low + k * step for k in range(1, count)]
        column, literal = "rowid", str
    else:
        pages = (
            await fetch_rows(
                "SELECT pg_relation_size('subject') / current_setting('block_size')::int"
            )
        )[0][0]
        count = min(MAX_SLICES, max(1, -(-pages // SLICE_PAGES)))
        step = -(-pages // count)
        bounds = [k * step for k in range(1, count)]
        column, literal = "ctid", lambda page: f"'({page},0)'::tid"
    if not bounds:
        return [""]
    edges: list[Any] = [None, *bounds, None]
    return [
        "".join(
            (
                f" AND {column} >= {literal(start)}" if start is not None else "",
                f" AND {column} < {literal(end)}" if end is not None else "",
            )
        )
        for start, end in itertools.pairwise(edges)
    ]


SUBJECT_LOCK_WAIT = "10s"


async def _lock_subjects() -> None:
    """Hold writes to the subject directory off until the draw commits (PostgreSQL,
    SHARE): every statement that reads the pool sees the same directory, and an import
    waits for the draw to finish.

    A writer holding the table (an import, an edit, a manual VACUUM) makes the draw wait
    at most ``SUBJECT_LOCK_WAIT``, then refuses it with a 409 that says why; nothing is
    written. The connection's own ``lock_timeout`` applies again afterwards.
    """
    import asyncpg

    configured = (await fetch_rows("SELECT current_setting('lock_timeout')"))[0][0]
    await fetch_rows(f"SET LOCAL lock_timeout = '{SUBJECT_LOCK_WAIT}'")
    try:
        await fetch_rows("LOCK TABLE subject IN SHARE MODE")
    except asyncpg.exceptions.LockNotAvailableError:
        raise Conflict(
            "检查对象名录正在写入（导入、修改或维护），请稍后再抽取 (the subject directory is "
            "being written: an import, an edit or maintenance holds it; draw again when it "
            "has finished)",
            code="draw.subjects_busy",
        ) from None
    await fetch_rows("SELECT set_config('lock_timeout', ?, true)", [configured])


async def _recently_inspected(plan: dict[str, Any], item_codes: list[str]) -> list[bytes]:
    """Subjects with a result for one of the plan's items inside the no-repeat window:
    their codes as UTF-8 bytes (as the pool is read), once each, in code order."""
    cutoff = clock.local_today() - dt.timedelta(days=plan["exclusion_days"])
    # Cancelled tasks are left out without a join: the database reads the short list of
    # cancelled task ids once (SQLite: a list; PostgreSQL: a hashed subplan) and checks
    # each result against it. (``NOT EXISTS`` made PostgreSQL probe the task table once
    # per result: 0.28 s for 100,000 results in the window.) Every result is created with
    # its task; one without would not count. The codes come in order, which makes
    # sorting them a check.
    not_cancelled = "r.task NOT IN (SELECT id FROM inspection_task WHERE status = 'cancelled')"
    recent = (
        await fetch_rows(
            f"SELECT {_joined_bytes('code')} FROM (SELECT r.subject_code AS code "
            f"FROM inspection_result r WHERE r.item_code IN {_in(item_codes)} "
            f"AND r.drawn_on >= ? AND {not_cancelled} ORDER BY r.subject_code) AS recent",
            [*item_codes, cutoff],
        )
    )[0][0]
    if not recent:
        return []
    codes = list(dict.fromkeys(recent.split(b"\n")))
    codes.sort()  # a check: in order already
    return codes


def quotas(
    plan: dict[str, Any], items: dict[str, dict[str, Any]], sizes: Mapping[str, int]
) -> dict[str, int]:
    """Fixed count, else plan ratio, else the highest ratio any item asks for, else the rule."""
    counts = decoded(plan["counts"]) or {}
    ratios = decoded(plan["ratios"]) or {}
    out: dict[str, int] = {}
    for name, size in sizes.items():
        if name in counts:
            out[name] = hashrank.quota_for(size, count=int(counts[name]))
            continue
        ratio = ratios.get(name)
        if ratio is None:
            item_ratios = [(decoded(i["ratios"]) or {}).get(name) for i in items.values()]
            given = [r for r in item_ratios if r is not None]
            ratio = max(given) if given else s.DEFAULT_RATIOS[name]
        out[name] = hashrank.quota_for(size, ratio=ratio)
    return out


async def inspector_pool(plan: dict[str, Any]) -> list[str]:
    """Officers of the plan's teams and org units (the plan's own unit if none is named)."""
    ids: set[str] = set()
    if plan["inspector_team_ids"]:
        rows = (
            await TeamMember.select(TeamMember.officer)
            .where(TeamMember.team.is_in(list(plan["inspector_team_ids"])))
            .run()
        )
        ids |= {str(r["officer"]) for r in rows}
    units = plan["inspector_org_unit_ids"]
    if not units and not plan["inspector_team_ids"]:
        units = [plan["org_unit"]]
    if units:
        subtree = await _subtree_ids(units)
        rows = await Officer.select(Officer.id).where(Officer.org_unit.is_in(subtree)).run()
        ids |= {str(r["id"]) for r in rows}
    return sorted(ids)


async def draw_wide_reasons(
    officer_ids: list[str], *, on: dt.date, domains: set[str]
) -> dict[str, str]:
    """Inspectors that cannot be drawn at all: on leave, no valid certificate, wrong domain."""
    uuids = [uuid.UUID(i) for i in officer_ids]
    statuses = (
        {
            str(r["id"]): r["status"]
            for r in await Officer.select(Officer.id, Officer.status)
            .where(Officer.id.is_in(uuids))
            .run()
        }
        if uuids
        else {}
    )
    certificates = await orgs.valid_certificates(uuids, on)
    out: dict[str, str] = {}
    for officer in officer_ids:
        certs = certificates.get(uuid.UUID(officer), [])
        if statuses.get(officer) == "on_leave":
            out[officer] = "on_leave"
        elif not certs:
            out[officer] = "certificate"
        elif not domains & {d for c in certs for d in c.domains}:
            out[officer] = "domain"
    return out


async def _conflicts(codes: Sequence[str]) -> dict[str, frozenset[str]]:
    """The officers recorded as conflicted with each of ``codes`` (those with any)."""
    return {k: frozenset(v) for k, v in (await orgs.conflicts_with(codes)).items()}


async def previous_leads(codes: list[str]) -> dict[str, str]:
    """The lead inspector of each subject's latest (not cancelled) inspection."""
    latest: dict[str, tuple[Any, str]] = {}
    for start in range(0, len(codes), INSERT_CHUNK):
        chunk = codes[start : start + INSERT_CHUNK]
        rows = (
            await TaskInspector.select(
                TaskInspector.task.subject_code.as_alias("code"),
                TaskInspector.task.created_at.as_alias("at"),
                TaskInspector.officer,
            )
            .where(
                TaskInspector.task.subject_code.is_in(chunk)
                & (TaskInspector.position == 0)
                & (TaskInspector.task.status != "cancelled")
            )
            .run()
        )
        for r in rows:
            seen = latest.get(r["code"])
            if seen is None or r["at"] > seen[0]:
                latest[r["code"]] = (r["at"], str(r["officer"]))
    return {code: officer for code, (_, officer) in latest.items()}


# ---------------------------------------------------------------------------
# The draw


async def draw_plan(*, principal: Principal, plan_id: uuid.UUID, entropy: str = "") -> s.DrawOut:
    """Run hashrank-v1 for a published plan; refuse (409) if any subject cannot be staffed."""
    phases = _Phases()
    async with write_tx():
        plan = await scope.fetch(
            InspectionPlan, plan_id, principal, org_column=InspectionPlan.org_unit, what="plan"
        )
        target = check_transition(plan["status"], "draw")
        items = await items_by_code(list(plan["item_codes"]))
        phases.done("plan")
        pool = await subject_pool(plan, items)
        phases.done("pool")
        quota = quotas(plan, items, pool.sizes)
        inspectors = await inspector_pool(plan)
        secret = bytes.fromhex(plan["secret"])
        digest = pool.digest
        phases.done("pool_digest")
        seed = hashrank.seed(secret, digest, entropy)
        # The workers rank the pool while what holds for the whole draw is read: who is
        # unavailable.
        selecting = asyncio.ensure_future(
            ranking.select_ranked(seed, pool.pieces, quota, inspectors=inspectors)
        )
        try:
            unavailable = await draw_wide_reasons(
                inspectors, on=plan["planned_start"], domains={i["domain"] for i in items.values()}
            )
        finally:
            selected, heads = await selecting
        strata: list[dict[str, Any]] = []
        order: list[tuple[str, str]] = []
        for name in sorted(pool.sizes):
            chosen = selected[name]
            strata.append(
                {
                    "name": name,
                    "pool": pool.ids_json(name),
                    "quota": quota[name],
                    "selected": chosen,
                }
            )
            order.extend((name, code) for code in chosen)
        phases.done("select")
        codes = [code for _, code in order]
        # The inspectors of subjects that came without heads (the workers were not used for
        # the pool, or failed) are ranked while the previous leads and the conflicts of
        # interest of the selected subjects are read.
        missing = [code for name, code in order if name not in heads]
        ranked = asyncio.ensure_future(ranking.inspector_orders(seed, missing, inspectors))
        try:
            leads = await previous_leads(codes)
            conflicts = await _conflicts(codes)
        finally:
            computed = await ranked
        rest: Iterator[Sequence[int] | None] = (
            iter(computed) if computed is not None else itertools.repeat(None)
        )
        orders: list[Sequence[int] | None] = []
        for name in sorted(pool.sizes):
            orders.extend(heads[name] if name in heads else (next(rest) for _ in selected[name]))
        constraints = hashrank.Constraints(
            team_size=plan["team_size"],
            workload_cap=plan["workload_cap"],
            unavailable=unavailable,
            conflicts=conflicts,
            previous_lead=leads,
        )
        phases.done("constraints")
        assignments = hashrank.assign(seed, codes, inspectors, constraints, orders=orders)
        phases.done("assign")
        short = hashrank.shortfall(assignments, plan["team_size"])
        if short:
            listed = [{"subject_id": k, "missing": v} for k, v in list(short.items())]
            raise Conflict(
                f"cannot staff {len(short)} of {len(codes)} selected subjects with "
                f"{plan['team_size']} inspectors each from a pool of {len(inspectors)} "
                f"(first: {', '.join(f'{k} lacks {v}' for k, v in list(short.items())[:5])}); "
                "widen the inspector pool or raise the workload cap",
                code="draw.understaffed",
                extra={"shortfall": listed[:SHORTFALL_LISTED], "short_subjects": len(short)},
            )

        now = clock.now()
        draw_id = uuid.uuid4()
        result = hashrank.Draw(
            pool_digest=digest, seed=seed, strata=strata, assignments=assignments
        )
        record = hashrank.public_record(
            draw_id=str(draw_id),
            plan_id=str(plan_id),
            drawn_at=clock.iso(now),
            secret=secret,
            entropy=entropy,
            result=result,
            inspector_pool=inspectors,
        )
        # Compact UTF-8 JSON; msgspec writes a million-id pool several times faster than json.
        encoded = msgspec.json.encode(record)
        record_sha256 = hashlib.sha256(encoded).hexdigest()
        phases.done("record")
        await insert_rows(
            "inspection_draw",
            DRAW_COLUMNS,
            [
                (
                    draw_id,
                    plan_id,
                    now,
                    principal.actor,
                    pool.size,
                    len(codes),
                    record_sha256,
                    compress_record(encoded),
                )
            ],
        )
        phases.done("persist record")
        await _create_tasks(plan, draw_id, order, assignments, now)
        phases.done("persist tasks")
        await (
            InspectionPlan.update(
                {
                    InspectionPlan.status: target,
                    InspectionPlan.entropy: entropy,
                    InspectionPlan.updated_at: now,
                }
            )
            .where(InspectionPlan.id == plan_id)
            .run()
        )
        await audit.record(
            stream=f"plan:{plan_id}",
            action="plan.drawn",
            actor=principal.actor,
            payload={
                "draw_id": draw_id,
                "algorithm": hashrank.ALGORITHM,
                "record_sha256": record_sha256,
                "pool_size": pool.size,
                "excluded_recently_inspected": pool.excluded,
                "quotas": quota,
                "selected": len(codes),
                "entropy": entropy,
            },
            org_unit_id=plan["org_unit"],
        )
        phases.done("audit")
    phases.done("commit")
    log.debug("draw %s of %d subjects: %s", draw_id, pool.size, phases)
    return s.DrawOut(
        draw_id=draw_id,
        plan_id=plan_id,
        drawn_at=now,
        pool_size=pool.size,
        selected=len(codes),
        tasks=len(codes),
        record_sha256=record_sha256,
    )


async def _create_tasks(
    plan: dict[str, Any],
    draw_id: uuid.UUID,
    order: list[tuple[str, str]],
    assignments: list[hashrank.Assignment],
    now: dt.datetime,
) -> None:
    codes = [code for _, code in order]
    subjects: dict[str, tuple[Any, Any]] = {}
    for start in range(0, len(codes), INSERT_CHUNK):
        chunk = codes[start : start + INSERT_CHUNK]
        rows = await fetch_rows(
            f"SELECT credit_code, id, org_unit FROM subject WHERE credit_code IN {_in(chunk)}",
            chunk,
        )
        subjects.update({code: (subject_id, unit) for code, subject_id, unit in rows})
    tasks: list[tuple[Any, ...]] = []
    members: list[tuple[Any, ...]] = []
    results: list[tuple[Any, ...]] = []
    drawn_on = clock.local_today()
    # Time-ordered keys: the new rows go to the end of the indexes on them.
    task_ids = uuid7_batch(len(order))
    member_ids = iter(uuid7_batch(sum(len(a.inspectors) for a in assignments)))
    result_ids = iter(uuid7_batch(len(order) * len(plan["item_codes"])))
    for (stratum, code), assignment, task_id in zip(order, assignments, task_ids, strict=True):
        subject_id, org_unit = subjects[code]
        tasks.append(
            (
                task_id,
                plan["id"],
                draw_id,
                _uuid(subject_id),
                code,
                _uuid(org_unit),
                stratum,
                "assigned",
                plan["planned_end"],
                "",
                1,
                now,
                now,
            )
        )
        members.extend(
            (next(member_ids), task_id, uuid.UUID(officer), n, True)
            for n, officer in enumerate(assignment.inspectors)
        )
        results.extend(
            (next(result_ids), task_id, item, code, drawn_on, "") for item in plan["item_codes"]
        )
    await insert_rows("inspection_task", TASK_COLUMNS, tasks)
    await insert_rows("task_inspector", ("id", "task", "officer", "position", "active"), members)
    await insert_rows(
        "inspection_result",
        ("id", "task", "item_code", "subject_code", "drawn_on", "note"),
        results,
    )


DRAW_COLUMNS = (
    "id",
    "plan",
    "drawn_at",
    "actor",
    "pool_size",
    "selected",
    "record_sha256",
    "record_zstd",
)


def compress_record(encoded: bytes) -> bytes:
    """A public record as stored: its UTF-8 JSON, zstd level 1 (a pool of a million
    credit codes is 20 MB of JSON and 0.3 MB compressed, in about 20 ms). Storing it
    uncompressed cost more in writing than the compression does, on both databases."""
    return zstandard.ZstdCompressor(level=1, write_content_size=True).compress(encoded)


TASK_COLUMNS = (
    "id",
    "plan",
    "draw",
    "subject",
    "subject_code",
    "org_unit",
    "stratum",
    "status",
    "due_date",
    "cancel_reason",
    "version",
    "created_at",
    "updated_at",
)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


# ---------------------------------------------------------------------------
# The public record


async def public_record_json(*, draw_id: uuid.UUID) -> bytes:
    """The public record, byte for byte as published (its SHA-256 is ``record_sha256``)."""
    row = (
        await InspectionDraw.select(InspectionDraw.record_zstd)
        .where(InspectionDraw.id == draw_id)
        .first()
        .run()
    )
    if row is None:
        raise NotFound("draw not found", code="draw.not_found")
    return zstandard.ZstdDecompressor().decompress(row["record_zstd"])


async def public_draws() -> list[dict[str, Any]]:
    rows = (
        await InspectionDraw.select(
            InspectionDraw.id.as_alias("draw_id"),
            InspectionDraw.plan.as_alias("plan_id"),
            InspectionDraw.plan.code.as_alias("plan_code"),
            InspectionDraw.plan.name.as_alias("plan_name"),
            InspectionDraw.drawn_at,
            InspectionDraw.pool_size,
            InspectionDraw.selected,
            InspectionDraw.record_sha256,
        )
        .order_by(InspectionDraw.drawn_at, ascending=False)
        .run()
    )
    return [
        r | {"algorithm": hashrank.ALGORITHM, "record_url": f"/public/draws/{r['draw_id']}"}
        for r in rows
    ]


# ---------------------------------------------------------------------------
# Replacements: new audited records that reuse the draw's ranking


async def _draw_record(draw_id: Any) -> dict[str, Any]:
    return json.loads(await public_record_json(draw_id=draw_id))  # type: ignore[no-any-return]


async def replace_inspector(
    *, principal: Principal, task_id: uuid.UUID, officer_id: uuid.UUID, reason: str
) -> s.ReplacementOut:
    """Swap one inspector of a task for the next eligible one in that subject's ranking."""
    async with write_tx():
        task = await scope.fetch(
            InspectionTask, task_id, principal, org_column=InspectionTask.org_unit, what="task"
        )
        if task["status"] in ("completed", "cancelled"):
            raise Conflict(f"the task is {task['status']}", code="task.closed")
        team = (
            await TaskInspector.select()
            .where((TaskInspector.task == task_id) & TaskInspector.active.eq(True))
            .order_by(TaskInspector.position)
            .run()
        )
        current = [str(m["officer"]) for m in team]
        if str(officer_id) not in current:
            raise NotFound("that officer is not on this task's team", code="task.not_member")
        plan = await InspectionPlan.select().where(InspectionPlan.id == task["plan"]).first().run()
        assert plan is not None
        record = await _draw_record(task["draw"])
        items = await items_by_code(list(plan["item_codes"]))
        pool = record["inspector_pool"]
        everyone_tried = {
            str(r["officer"])
            for r in await TaskInspector.select(TaskInspector.officer)
            .where(TaskInspector.task == task_id)
            .run()
        }
        unavailable = await draw_wide_reasons(
            pool, on=clock.local_today(), domains={i["domain"] for i in items.values()}
        )
        conflicts = await _conflicts([task["subject_code"]])
        lead = (await previous_leads_before(task["subject_code"], task_id)).get(
            task["subject_code"]
        )
        load = await _draw_load(task["draw"])
        seed = bytes.fromhex(record["seed"])
        replacement = None
        for candidate in hashrank.inspector_order(seed, task["subject_code"], pool):
            if candidate in everyone_tried or candidate in unavailable:
                continue
            if load.get(candidate, 0) >= plan["workload_cap"]:
                continue
            if candidate in conflicts.get(task["subject_code"], ()) or candidate == lead:
                continue
            replacement = candidate
            break
        if replacement is None:
            raise Conflict(
                "no eligible inspector is left in the draw's pool for this subject",
                code="draw.no_replacement",
            )
        position = max(m["position"] for m in team) + 1
        await (
            TaskInspector.update({TaskInspector.active: False})
            .where((TaskInspector.task == task_id) & (TaskInspector.officer == officer_id))
            .run()
        )
        await TaskInspector.insert(
            TaskInspector(
                id=uuid.uuid4(),
                task=task_id,
                officer=uuid.UUID(replacement),
                position=position,
                active=True,
            )
        ).run()
        return await _record_replacement(
            principal, task, "inspector", str(officer_id), replacement, reason
        )


async def _draw_load(draw_id: Any, *, besides: Any = None) -> dict[str, int]:
    """Subjects each inspector holds in a draw: active members of tasks still open."""
    where = (
        (TaskInspector.task.draw == draw_id)
        & TaskInspector.active.eq(True)
        & (TaskInspector.task.status != "cancelled")
    )
    if besides is not None:
        where &= TaskInspector.task != besides
    load: dict[str, int] = {}
    for m in await TaskInspector.select(TaskInspector.officer).where(where).run():
        load[str(m["officer"])] = load.get(str(m["officer"]), 0) + 1
    return load


async def previous_leads_before(code: str, task_id: Any) -> dict[str, str]:
    """The lead of the subject's latest inspection other than ``task_id``."""
    rows = (
        await TaskInspector.select(
            TaskInspector.officer, TaskInspector.task.created_at.as_alias("at")
        )
        .where(
            (TaskInspector.task.subject_code == code)
            & (TaskInspector.position == 0)
            & (TaskInspector.task != task_id)
            & (TaskInspector.task.status != "cancelled")
        )
        .order_by(TaskInspector.task.created_at, ascending=False)
        .first()
        .run()
    )
    return {code: str(rows["officer"])} if rows else {}


async def replace_subject(
    *, principal: Principal, task_id: uuid.UUID, reason: str
) -> s.ReplacementOut:
    """Cancel a task whose subject cannot be inspected; the next subject of its stratum's
    ranking (still active, not yet drawn) gets a new task, staffed by the same walk."""
    async with write_tx():
        task = await scope.fetch(
            InspectionTask, task_id, principal, org_column=InspectionTask.org_unit, what="task"
        )
        if task["status"] != "assigned":
            raise Conflict(
                f"only an assigned task can be replaced (it is {task['status']})",
                code="task.not_assigned",
            )
        record = await _draw_record(task["draw"])
        plan = await InspectionPlan.select().where(InspectionPlan.id == task["plan"]).first().run()
        assert plan is not None
        seed = bytes.fromhex(record["seed"])
        stratum = next(x for x in record["strata"] if x["name"] == task["stratum"])
        drawn = {
            r["subject_code"]
            for r in await InspectionTask.select(InspectionTask.subject_code)
            .where(InspectionTask.draw == task["draw"])
            .run()
        }
        ranking = hashrank.rank(seed, stratum["name"], stratum["pool"])
        candidates = [c for c in ranking if c not in drawn]
        active = set()
        for start in range(0, len(candidates), INSERT_CHUNK):
            rows = (
                await Subject.select(Subject.credit_code)
                .where(
                    Subject.credit_code.is_in(candidates[start : start + INSERT_CHUNK])
                    & (Subject.status == "active")
                )
                .run()
            )
            active |= {r["credit_code"] for r in rows}
            if active:
                break
        code = next((c for c in candidates if c in active), None)
        if code is None:
            raise Conflict(
                "no subject is left in this stratum's ranking", code="draw.no_replacement"
            )
        items = await items_by_code(list(plan["item_codes"]))
        pool = record["inspector_pool"]
        load = await _draw_load(task["draw"], besides=task_id)
        constraints = hashrank.Constraints(
            team_size=plan["team_size"],
            workload_cap=plan["workload_cap"],
            unavailable=await draw_wide_reasons(
                pool, on=clock.local_today(), domains={i["domain"] for i in items.values()}
            ),
            conflicts=await _conflicts([code]),
            previous_lead=await previous_leads([code]),
        )
        assignment = hashrank.assign(seed, [code], pool, constraints, workload=load)
        if hashrank.shortfall(assignment, plan["team_size"]):
            raise Conflict("the replacement subject cannot be staffed", code="draw.understaffed")
        now = clock.now()
        await (
            InspectionTask.update(
                {
                    InspectionTask.status: "cancelled",
                    InspectionTask.cancel_reason: reason,
                    InspectionTask.updated_at: now,
                    InspectionTask.version: InspectionTask.version + 1,
                }
            )
            .where(InspectionTask.id == task_id)
            .run()
        )
        await _create_tasks(plan, task["draw"], [(stratum["name"], code)], assignment, now)
        return await _record_replacement(
            principal, task, "subject", task["subject_code"], code, reason
        )


async def _record_replacement(
    principal: Principal, task: dict[str, Any], kind: str, old: str, new: str, reason: str
) -> s.ReplacementOut:
    now = clock.now()
    row = DrawReplacement(
        id=uuid.uuid4(),
        draw=task["draw"],
        kind=kind,
        task=task["id"],
        replaced=old,
        replacement=new,
        reason=reason,
        actor=principal.actor,
        created_at=now,
    )
    await DrawReplacement.insert(row).run()
    if kind == "inspector":
        await (
            InspectionTask.update(
                {InspectionTask.updated_at: now, InspectionTask.version: InspectionTask.version + 1}
            )
            .where(InspectionTask.id == task["id"])
            .run()
        )
    await audit.record(
        stream=f"draw:{task['draw']}",
        action=f"draw.{kind}_replaced",
        actor=principal.actor,
        payload={"task_id": task["id"], "replaced": old, "replacement": new, "reason": reason},
        org_unit_id=task["org_unit"],
    )
    return s.ReplacementOut(
        id=row.id,
        draw_id=task["draw"],
        kind=kind,
        task_id=task["id"],
        replaced=old,
        replacement=new,
        reason=reason,
        created_at=now,
    )


async def list_replacements(*, draw_id: uuid.UUID) -> list[s.ReplacementOut]:
    rows = (
        await DrawReplacement.select(
            DrawReplacement.id,
            DrawReplacement.draw.as_alias("draw_id"),
            DrawReplacement.kind,
            DrawReplacement.task.as_alias("task_id"),
            DrawReplacement.replaced,
            DrawReplacement.replacement,
            DrawReplacement.reason,
            DrawReplacement.created_at,
        )
        .where(DrawReplacement.draw == draw_id)
        .order_by(DrawReplacement.created_at)
        .run()
    )
    from backend.core.schemas import to_struct

    return [to_struct(s.ReplacementOut, r) for r in rows]
