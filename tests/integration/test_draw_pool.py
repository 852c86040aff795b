"""The draw's pool read from the database equals what the subject rows say, by every path:
the partial indexes (a county-wide plan), the table in rowid slices (SQLite, a scoped
plan) and in page slices (PostgreSQL, a scoped plan)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import msgspec
import pytest

from backend.core import clock
from backend.core.db import is_sqlite, write_tx
from backend.core.ids import uuid7_batch
from backend.inspections import credit_code, draws, hashrank, subjects
from backend.inspections.bulk import fetch_rows
from tests.factories import build_world


def _plan(county: Any, **scope: Any) -> dict[str, Any]:
    return {
        "org_unit": county,
        "scope_org_unit_ids": [],
        "scope_risk_classes": [],
        "scope_subject_types": [],
        "scope_grid_codes": [],
        "scope_industries": [],
        "exclusion_days": 365,
    } | scope


async def test_pool_reads_agree_with_the_subject_rows(engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    world = await build_world()
    rng = random.Random(7)
    rows = []
    for n in range(3000):
        rows.append(
            (
                credit_code.complete(f"91320281{rng.randrange(10**9):09d}"),
                f"主体{n}",
                "enterprise",
                "餐饮",
                "",
                None,
                None,
                str(rng.choice([world.town_a, world.town_b])),
                "",
                rng.choice("ABCD"),
                rng.random() < 0.05,
                rng.random() < 0.03,
                "active" if rng.random() < 0.9 else "deregistered",
            )
        )
    rows = list({r[0]: r for r in rows}.values())  # one row per code, in random code order
    async with write_tx():
        await subjects.upsert_rows(rows, clock.now())

    def expected(units: set[str], left_out: bool = False) -> dict[str, list[str]]:
        """The strata of active subjects in ``units``: those not recently inspected, or
        (``left_out``) those that were."""
        out: dict[str, list[str]] = {}
        for code, *_, unit, _grid, risk, abnormal, serious, status in rows:
            if status == "active" and unit in units and (code in recent) == left_out:
                out.setdefault("flagged" if abnormal or serious else risk, []).append(code)
        return {name: sorted(codes) for name, codes in sorted(out.items())}

    # Some subjects were inspected within the window (and one code that is not in the
    # directory): they are left out of every stratum.
    recent = {r[0] for r in rng.sample(rows, 300)} | {credit_code.complete("91320281999999999")}

    async def recently_inspected(*_: Any) -> list[bytes]:
        return sorted(code.encode() for code in recent)

    monkeypatch.setattr(draws, "_recently_inspected", recently_inspected)
    # Small slices and ranges: the table is read in several parts.
    monkeypatch.setattr(draws, "RANGE_ROWS", 300)
    monkeypatch.setattr(draws, "SLICE_ROWS", 400)
    monkeypatch.setattr(draws, "SLICE_PAGES", 3)
    items = {"X-1": {"subject_types": []}}
    both = {str(world.town_a), str(world.town_b)}
    async with write_tx():
        assert len(await draws._slices()) > 1  # scoped plans read several slices
    for plan, units in (
        (_plan(world.county), both),
        (_plan(world.county, scope_org_unit_ids=[world.town_a]), {str(world.town_a)}),
        (_plan(world.county, scope_risk_classes=["B", "flagged"]), both),
    ):
        async with write_tx():
            pool = await draws.subject_pool(plan, items)
            reads, ordered = await draws._pool_reads(["A"], "", [])
        want = expected(units)
        gone = expected(units, left_out=True)
        if plan["scope_risk_classes"]:
            want = {k: v for k, v in want.items() if k in plan["scope_risk_classes"]}
            gone = {k: v for k, v in gone.items() if k in plan["scope_risk_classes"]}
        assert _strata(pool) == want
        assert pool.size == sum(len(codes) for codes in want.values())
        assert pool.digest == hashrank.pool_digest(c for codes in want.values() for c in codes)
        for name, codes in want.items():
            joined = b"\n".join(pool.pieces[name]).decode().split("\n")
            assert sorted(joined) == codes
        wanted = set(plan["scope_risk_classes"] or hashrank.STRATA)
        assert set(want) >= {"A", "B", "flagged"} & wanted  # every kind of stratum was seen
        # Counted: the subjects of the plan's pool that the window left out.
        assert pool.excluded == sum(len(codes) for codes in gone.values()) > 0
    # Ranges that do not come in code order are noticed, and the pool is sorted and
    # digested whole (a collation that orders codes otherwise: the next test).
    ranges = draws._code_ranges

    async def reversed_ranges() -> list[tuple[str | None, str | None]]:
        return list(reversed(await ranges()))

    monkeypatch.setattr(draws, "_code_ranges", reversed_ranges)
    async with write_tx():
        pool = await draws.subject_pool(_plan(world.county), items)
    monkeypatch.setattr(draws, "_code_ranges", ranges)
    want = expected(both)
    assert _strata(pool) == want
    assert pool.digest == hashrank.pool_digest(c for codes in want.values() for c in codes)
    # A county-wide plan reads ranges of codes from the partial indexes.
    assert ordered and len(reads) > 1
    async with write_tx():
        if is_sqlite():
            plan_rows = await fetch_rows("EXPLAIN QUERY PLAN " + reads[1].sql, reads[1].params)
            assert "COVERING INDEX subject_stratum" in " ".join(str(r[-1]) for r in plan_rows)
        else:
            # The statement matches the partial index (a table this small is read whole
            # unless the planner is told not to).
            await fetch_rows("SET LOCAL enable_seqscan = off")
            await fetch_rows("SET LOCAL enable_bitmapscan = off")
            plan_rows = await fetch_rows("EXPLAIN " + reads[1].sql, reads[1].params)
            assert "Index Only Scan using subject_stratum" in " ".join(r[0] for r in plan_rows)


def test_uuid7_batches_are_ordered_unique_version_7() -> None:
    first = uuid7_batch(5000)
    second = uuid7_batch(10)
    assert first == sorted(first) and len(set(first)) == 5000
    assert [str(u) for u in first] == sorted(str(u) for u in first)  # text keys too (SQLite)
    assert {u.version for u in first + second} == {7}
    assert {u.variant for u in first} == {"specified in RFC 4122"}
    assert int.from_bytes(first[0].bytes[:6], "big") <= int.from_bytes(second[0].bytes[:6], "big")
    now_ms = clock.now().timestamp() * 1000
    assert abs(int.from_bytes(second[0].bytes[:6], "big") - now_ms) < 60_000


@pytest.mark.parametrize("count", [0, 1])
def test_uuid7_small_batches(count: int) -> None:
    assert len(uuid7_batch(count)) == count


async def test_the_pool_is_read_while_nobody_else_writes_subjects(engine, db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Every part of the pool sees the same directory: on SQLite the draw holds the write
    lock; on PostgreSQL it locks the table against writes, and a writer that holds it
    makes the draw wait briefly, then get a 409 that says why."""
    world = await build_world()
    code = credit_code.complete("91320281000000001")
    row = (code, "主体", "enterprise", "", "", None, None, str(world.town_a), "", "A", False,
           False, "active")  # fmt: skip
    async with write_tx():
        await subjects.upsert_rows([row], clock.now())
    plan = _plan(world.county)
    items = {"X-1": {"subject_types": []}}
    if db.kind == "sqlite":
        import sqlite3

        async with write_tx():
            pool = await draws.subject_pool(plan, items)
            other = sqlite3.connect(db.url.path, timeout=0.2)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("UPDATE subject SET name = 'x'")
            other.close()
            # Two bulk reads at once on the transaction's connection are refused, not mixed.
            with pytest.raises(RuntimeError, match="one bulk read at a time"):
                await asyncio.gather(fetch_rows("SELECT 1"), fetch_rows("SELECT 2"))
        assert _strata(pool) == {"A": [code]}
        return

    import asyncpg

    from backend.core.errors import Conflict

    url = db.url
    other = await asyncpg.connect(
        host=url.host, port=url.port, user=url.user, password=url.password, database=url.database
    )
    try:
        writer = other.transaction()
        await writer.start()
        await other.execute("UPDATE subject SET name = 'x' WHERE credit_code = $1", code)
        monkeypatch.setattr(draws, "SUBJECT_LOCK_WAIT", "300ms")
        with pytest.raises(Conflict) as refused:
            async with write_tx():
                await draws.subject_pool(plan, items)
        assert refused.value.code == "draw.subjects_busy"
        assert "import" in str(refused.value)
        await writer.rollback()
        async with write_tx():
            await fetch_rows("SET LOCAL lock_timeout = '7s'")
            pool = await draws.subject_pool(plan, items)
            # The draw's own wait applied to its lock only.
            assert (await fetch_rows("SELECT current_setting('lock_timeout')"))[0][0] == "7s"
        assert _strata(pool) == {"A": [code]}
    finally:
        await other.close()


async def test_a_draw_ranked_on_worker_processes_verifies(client, db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The demo's draws, with every hash on the workers, publish records that verify."""
    from backend.demo import run_demo
    from backend.inspections import ranking

    monkeypatch.setattr(ranking, "_workers", lambda: 2)
    monkeypatch.setattr(ranking, "PARALLEL_FROM", 1)
    try:
        await run_demo(password="demo-pass-1")
        assert ranking._executor is not None  # the workers ranked
        listed = (await client.get("/public/draws")).json()
        assert listed
        for entry in listed:
            record = (await client.get(entry["record_url"])).json()
            hashrank.verify(record)
            assert record["assignments"]
    finally:
        ranking.shutdown()


async def test_the_window_counts_results_of_tasks_that_were_not_cancelled(engine) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt
    import uuid

    from backend.core.auth import system_principal
    from backend.inspections import schemas as s
    from backend.inspections import service
    from backend.inspections.bulk import insert_rows

    world = await build_world()
    sysp = system_principal("test")
    item = await service.create_item(
        principal=sysp,
        data=s.ItemIn(
            code="W-1", name="窗口", department="市场监管", domain="market", method="on_site"
        ),
    )
    today = clock.now().date()
    prior = await service.create_plan(
        principal=sysp,
        data=s.PlanIn(
            code="W-P", name="上一轮", org_unit_id=world.county, item_codes=[item.code],
            planned_start=today, planned_end=today,
        ),
    )  # fmt: skip
    codes = [credit_code.complete(f"9132028100000{n:04d}") for n in range(3)]
    rows = [
        (c, f"主体{n}", "enterprise", "", "", None, None, str(world.town_a), "", "A", False,
         False, "active")
        for n, c in enumerate(codes)
    ]  # fmt: skip
    draw_id = uuid.uuid4()
    now = clock.now()
    async with write_tx():
        await subjects.upsert_rows(rows, now)
        ids = dict(await fetch_rows("SELECT credit_code, id FROM subject"))
        await insert_rows(
            "inspection_draw",
            draws.DRAW_COLUMNS,
            [(draw_id, prior.id, now, "t", 0, 0, "", draws.compress_record(b"{}"))],
        )
        drawn_on = today - dt.timedelta(days=30)
        tasks, results = [], []
        # codes[0]: inspected twice within the window (it counts once); codes[1]: its task
        # was cancelled; codes[2]: never inspected.
        for code, status in (
            (codes[0], "completed"),
            (codes[0], "completed"),
            (codes[1], "cancelled"),
        ):
            task = uuid.uuid4()
            tasks.append(
                (task, prior.id, draw_id, uuid.UUID(str(ids[code])), code, world.town_a, "A",
                 status, drawn_on, "", 1, now, now)
            )  # fmt: skip
            results.append((uuid.uuid4(), task, item.code, code, drawn_on, ""))
        await insert_rows("inspection_task", draws.TASK_COLUMNS, tasks)
        await insert_rows(
            "inspection_result",
            ("id", "task", "item_code", "subject_code", "drawn_on", "note"),
            results,
        )
        pool = await draws.subject_pool(_plan(world.county), {item.code: {"subject_types": []}})
    assert _strata(pool) == {"A": sorted(codes[1:])}
    assert pool.excluded == 1


def test_the_pool_digest_is_hashed_read_by_read_when_reads_come_in_order() -> None:
    codes = sorted(f"91320281{n:010d}" for n in random.Random(3).sample(range(10**9), 500))
    digest = draws._DigestInOrder()
    for start in range(0, 500, 100):
        # A read: its strata in code order, less one excluded code, merged.
        texts = ["\n".join(codes[start : start + 100][k::2]).encode() for k in (1, 0)] + [None]
        part = draws._filter_read(texts, {codes[start + 7].encode()}, merge=True)
        assert part.counts == [49, 50, 0]  # the excluded code was at an odd place
        assert part.pieces[2] == b"" and part.dropped == {codes[start + 7].encode()}
        assert (part.lowest, part.highest) == (codes[start].encode(), codes[start + 99].encode())
        assert part.within(codes[start], codes[start + 100] if start < 400 else None)
        assert not part.within(codes[start + 1], None)
        digest.add(part.merged)
    assert digest.in_order
    kept = [c for n, c in enumerate(codes) if n % 100 != 7]
    assert digest.hexdigest() == hashrank.pool_digest(kept)
    late = draws._DigestInOrder()
    late.add("\n".join(codes[100:200]).encode())
    late.add("\n".join(codes[:100]).encode())
    assert not late.in_order


def _strata(pool: draws.Pool) -> dict[str, list[str]]:
    """The pool's ids by stratum, as the public record lists them."""
    listed = {name: msgspec.json.decode(pool.ids_json(name)) for name in sorted(pool.sizes)}
    assert listed == {name: pool.ids(name) for name in sorted(pool.sizes)}
    assert {name: len(ids) for name, ids in listed.items()} == pool.sizes
    return listed


def test_a_stratum_is_listed_in_json_as_msgspec_would_write_it() -> None:
    for ids in (["91320281000000001X", "91320281000000002Y"], ["中文", 'quo"te', "back\\slash"]):
        pieces = ["\n".join(ids[:1]).encode(), "\n".join(ids[1:]).encode()]
        pool = draws.Pool(sizes={"A": len(ids)}, pieces={"A": pieces}, digest="", excluded=0)
        assert bytes(pool.ids_json("A")) == msgspec.json.encode(ids)
        assert pool.ids("A") == ids


async def _random_directory(world: Any, rng: random.Random, count: int) -> list[tuple[Any, ...]]:
    """``count`` subjects with random valid codes (any characters of the code alphabet)."""
    rows = []
    for n in range(count):
        code = credit_code.complete("".join(rng.choice(credit_code.ALPHABET) for _ in range(17)))
        rows.append(
            (code, f"主体{n}", "enterprise", "餐饮", "", None, None,
             str(rng.choice([world.town_a, world.town_b])), "", rng.choice("ABCD"),
             rng.random() < 0.05, rng.random() < 0.03,
             "active" if rng.random() < 0.9 else "deregistered")
        )  # fmt: skip
    rows = list({r[0]: r for r in rows}.values())
    async with write_tx():
        await subjects.upsert_rows(rows, clock.now())
    return rows


def _active_strata(rows: list[tuple[Any, ...]], recent: set[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for code, *_, _unit, _grid, risk, abnormal, serious, status in rows:
        if status == "active" and code not in recent:
            out.setdefault("flagged" if abnormal or serious else risk, []).append(code)
    return {name: sorted(codes) for name, codes in sorted(out.items())}


async def test_window_codes_at_the_bounds_of_the_ranges(engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    world = await build_world()
    rows = await _random_directory(world, random.Random(11), 2000)
    monkeypatch.setattr(draws, "RANGE_ROWS", 150)
    async with write_tx():
        ranges = await draws._code_ranges()
    assert len(ranges) > 3
    bounds = {b for r in ranges for b in r if b is not None}
    items = {"X-1": {"subject_types": []}}
    for recent in (
        bounds,  # exactly the ranges' bounds
        {r[0] for r in rows},  # everything
        set(),  # nothing
        {r[0] for r in rows if r[9] == "A"},  # a whole risk class
    ):

        async def recently(*_: Any, recent: set[str] = recent) -> list[bytes]:
            return sorted(c.encode() for c in recent)

        monkeypatch.setattr(draws, "_recently_inspected", recently)
        async with write_tx():
            pool = await draws.subject_pool(_plan(world.county), items)
        want = _active_strata(rows, recent)
        assert {name: pool.ids(name) for name in sorted(pool.sizes)} == want
        assert pool.digest == hashrank.pool_digest(c for codes in want.values() for c in codes)


@pytest.mark.parametrize("db", ["postgres"], indirect=True)  # SQLite compares bytes
async def test_a_collation_that_orders_codes_otherwise_than_python(db, engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """With the codes in a collation that compares digits as numbers, the database fills
    the ranges otherwise than Python orders codes: ranges overlap and the window's codes
    of a range are not the ones in it. The draw notices and fixes the pool whole."""
    world = await build_world()
    rng = random.Random(5)
    rows = await _random_directory(world, rng, 2000)
    async with write_tx():
        await fetch_rows(
            "CREATE COLLATION IF NOT EXISTS numeric_order (provider = icu, locale = 'en-u-kn-true')"
        )
        await fetch_rows(
            "ALTER TABLE subject ALTER COLUMN credit_code TYPE varchar(18) COLLATE numeric_order"
        )
        await fetch_rows("ANALYZE subject")
    monkeypatch.setattr(draws, "RANGE_ROWS", 150)
    recent = {r[0] for r in rng.sample(rows, 400)}

    async def recently(*_: Any) -> list[bytes]:
        return sorted(c.encode() for c in recent)

    monkeypatch.setattr(draws, "_recently_inspected", recently)
    async with write_tx():
        pool = await draws.subject_pool(_plan(world.county), {"X-1": {"subject_types": []}})
    want = _active_strata(rows, recent)
    assert {name: pool.ids(name) for name in sorted(pool.sizes)} == want
    assert pool.digest == hashrank.pool_digest(c for codes in want.values() for c in codes)
    assert pool.excluded == len({r[0] for r in rows if r[-1] == "active"} & recent)
