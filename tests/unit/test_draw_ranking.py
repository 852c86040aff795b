"""A large draw's hashing on worker processes gives exactly the in-process result."""

from __future__ import annotations

import logging
import random
import uuid

import pytest

from backend.inspections import hashrank, ranking
from backend.settings import SettingsError, load_settings


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Two workers, and every draw counted as large."""
    monkeypatch.setattr(ranking, "_workers", lambda: 2)
    monkeypatch.setattr(ranking, "PARALLEL_FROM", 1)
    yield
    ranking.shutdown()
    ranking._failures = 0


def _pieces(strata: dict[str, list[str]]) -> dict[str, list[bytes]]:
    return {name: ["\n".join(ids).encode()] if ids else [] for name, ids in strata.items()}


async def _select(seed, strata, quotas, pieces=None, **kwargs):  # type: ignore[no-untyped-def]
    return (await ranking.select_ranked(seed, pieces or _pieces(strata), quotas, **kwargs))[0]


def _pool(seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    codes = sorted({f"91{rng.randrange(10**15):015d}X" for _ in range(6000)})
    strata: dict[str, list[str]] = {"A": [], "B": [], "C": [], "flagged": []}
    names = list(strata)
    for code in codes:
        strata[names[rng.randrange(4)]].append(code)
    return strata


async def test_select_on_workers_equals_select_in_process(workers) -> None:  # type: ignore[no-untyped-def]
    strata = _pool(1)
    quotas = {"A": 7, "B": 0, "C": 250, "flagged": len(strata["flagged"])}
    seed = hashrank.seed(b"s" * 32, hashrank.pool_digest(i for p in strata.values() for i in p), "")
    expected = {n: hashrank.select(seed, n, ids, quotas[n]) for n, ids in strata.items()}
    assert await _select(seed, strata, quotas) == expected
    # Pieces in any order and of any size give the same selection.
    pieces = {
        name: [
            "\n".join(ids[start : start + 333]).encode()
            for start in reversed(range(0, len(ids), 333))
        ]
        for name, ids in strata.items()
    }
    assert await _select(seed, strata, quotas, pieces=pieces) == expected
    assert ranking._executor is not None  # the workers did run


async def test_inspector_heads_on_workers_give_the_same_assignment(workers, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seed = bytes(range(32))
    subjects = [f"9132{n:014d}" for n in range(300)]
    inspectors = sorted(str(uuid.UUID(int=random.Random(n).getrandbits(128))) for n in range(40))
    # Most inspectors unavailable: walks go far past the head of each ranking.
    constraints = hashrank.Constraints(
        team_size=2,
        workload_cap=30,
        unavailable={i: "on_leave" for i in inspectors[:30]},
        conflicts={subjects[0]: frozenset(inspectors[30:34])},
        previous_lead={subjects[1]: inspectors[35]},
    )
    monkeypatch.setattr(hashrank, "ORDER_HEAD", 4)
    orders = await ranking.inspector_orders(seed, subjects, inspectors)
    assert orders is not None and len(orders) == len(subjects)
    assert [list(o) for o in orders[:3]] == [
        [inspectors.index(i) for i in hashrank.inspector_order(seed, s, inspectors)[:4]]
        for s in subjects[:3]
    ]
    inline = hashrank.assign(seed, subjects, inspectors, constraints)
    assert hashrank.assign(seed, subjects, inspectors, constraints, orders=orders) == inline
    assert max(len(a.skipped) + len(a.inspectors) for a in inline) > 4


async def test_a_killed_worker_falls_back_to_ranking_in_process(workers, caplog) -> None:  # type: ignore[no-untyped-def]
    strata = _pool(2)
    quotas = dict.fromkeys(strata, 5)
    seed = b"\x01" * 32
    expected = {name: hashrank.select(seed, name, ids, 5) for name, ids in strata.items()}
    assert await _select(seed, strata, quotas) == expected
    executor = ranking._executor
    assert executor is not None
    for process in list(executor._processes.values()):
        process.kill()
        process.join()
    with caplog.at_level(logging.WARNING, logger="fieldcase.inspections.draw"):
        assert await _select(seed, strata, quotas) == expected
    assert "ranking in process" in caplog.text
    assert ranking._executor is None
    # The next draw starts the workers again.
    assert await _select(seed, strata, quotas) == expected
    assert ranking._executor is not None and ranking._executor is not executor


async def test_no_workers_ranks_in_process(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ranking, "_workers", lambda: 0)
    monkeypatch.setattr(ranking, "PARALLEL_FROM", 1)
    strata = _pool(3)
    seed = b"\x02" * 32
    quotas = dict.fromkeys(strata, 3)
    assert await _select(seed, strata, quotas) == {
        name: hashrank.select(seed, name, ids, 3) for name, ids in strata.items()
    }
    assert await ranking.inspector_orders(seed, ["x"], ["a", "b"]) is None
    assert ranking._executor is None


def test_draw_workers_setting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"FIELDCASE_VAR_DIR": str(tmp_path)}
    assert load_settings({**env, "FIELDCASE_DRAW_WORKERS": "0"}).draw_workers == 0
    assert load_settings({**env, "FIELDCASE_DRAW_WORKERS": "3"}).draw_workers == 3
    with pytest.raises(SettingsError, match="FIELDCASE_DRAW_WORKERS"):
        load_settings({**env, "FIELDCASE_DRAW_WORKERS": "many"})


async def test_warm_up_starts_the_workers_in_the_background(workers) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    assert ranking._executor is None
    ranking.warm_up()
    for _ in range(200):
        executor = ranking._executor
        if executor is not None and len(executor._processes or {}) == 2:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the workers did not start")
    assert all(p.is_alive() for p in executor._processes.values())


OWNER = """
import asyncio, os, sys, time
sys.path.insert(0, {root!r})
from backend.inspections import ranking
ranking._workers = lambda: 2
ranking.PARALLEL_FROM = 1

async def main():
    seed = b"s" * 32
    await ranking.select_ranked(seed, {{"A": [b"a\\nb\\nc"], "B": [b"d\\ne"]}}, {{"A": 1, "B": 1}})
    pids = [p.pid for p in ranking._executor._processes.values()]
    print(" ".join(map(str, pids)), flush=True)
    time.sleep(600)

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_workers_leave_when_their_process_is_killed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "owner.py"
    script.write_text(OWNER.format(root=str(Path(__file__).resolve().parents[2])))
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        pids = [int(p) for p in owner.stdout.readline().split()]
        assert len(pids) >= 1
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        deadline = time.monotonic() + 15
        alive = pids
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if _running(p)]
            time.sleep(0.1)
        assert not alive, f"workers {alive} outlived their killed owner"
    finally:
        if owner.poll() is None:
            owner.kill()


def _running(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"


async def test_a_late_failure_report_does_not_stop_a_newer_pool(workers) -> None:  # type: ignore[no-untyped-def]
    strata = _pool(4)
    quotas = dict.fromkeys(strata, 2)
    seed = b"\x03" * 32
    await _select(seed, strata, quotas)
    old = ranking._executor
    assert old is not None
    ranking._broken(old, RuntimeError("a worker died"))
    await _select(seed, strata, quotas)
    new = ranking._executor
    assert new is not None and new is not old
    ranking._broken(old, RuntimeError("reported late by another draw"))
    assert ranking._executor is new
    assert await _select(seed, strata, quotas) == {
        n: hashrank.select(seed, n, ids, 2) for n, ids in strata.items()
    }


async def test_workers_that_keep_failing_are_given_up(workers, caplog) -> None:  # type: ignore[no-untyped-def]
    strata = _pool(5)
    quotas = dict.fromkeys(strata, 2)
    seed = b"\x04" * 32
    for _ in range(ranking.GIVE_UP_AFTER):  # pools that fail before ever working
        executor = ranking._pool()
        assert executor is not None
        ranking._broken(executor, RuntimeError("cannot start"))
    assert "ranking in process from now on" in caplog.text
    assert await _select(seed, strata, quotas) == {
        n: hashrank.select(seed, n, ids, 2) for n, ids in strata.items()
    }
    assert ranking._executor is None


def test_select_and_rank_accept_any_iterable() -> None:
    seed = b"\x05" * 32
    ids = [f"id{n}" for n in range(50)]
    assert hashrank.select(seed, "A", iter(ids), 5) == hashrank.select(seed, "A", ids, 5)
    assert hashrank.rank(seed, "A", (i for i in ids)) == hashrank.rank(seed, "A", ids)


async def test_every_stratum_comes_with_its_teams_heads(workers, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    strata = _pool(6)
    quotas = dict.fromkeys(strata, 9)
    seed = b"\x06" * 32
    inspectors = [f"officer-{n:03d}" for n in range(30)]
    # One piece per stratum except C; every piece is cut over several tasks (6,000 ids
    # in tasks of 100 hashes), and so are the teams' rankings (3 subjects a task).
    pieces = {name: ["\n".join(ids).encode()] for name, ids in strata.items()}
    pieces["C"] = ["\n".join(strata["C"][k::3]).encode() for k in range(3)]
    ranking._pool()
    monkeypatch.setattr(ranking, "MIN_TASK", 100)
    monkeypatch.setattr(ranking, "TASKS_PER_WORKER", 30)
    selected, heads = await ranking.select_ranked(seed, pieces, quotas, inspectors=inspectors)
    assert selected == {n: hashrank.select(seed, n, ids, 9) for n, ids in strata.items()}
    assert set(heads) == set(strata)
    for name, rows in heads.items():
        assert [list(r) for r in rows] == [
            [inspectors.index(i) for i in hashrank.inspector_order(seed, s, inspectors)[:16]]
            for s in selected[name]
        ]
    codes = [c for n in sorted(strata) for c in selected[n]]
    orders = [r for n in sorted(strata) for r in (heads.get(n) or [None] * len(selected[n]))]
    constraints = hashrank.Constraints(team_size=2, workload_cap=3)
    assert hashrank.assign(seed, codes, inspectors, constraints, orders=orders) == (
        hashrank.assign(seed, codes, inspectors, constraints)
    )


def test_pieces_are_cut_between_ids_into_tasks_of_about_the_size_asked() -> None:
    rng = random.Random(7)
    ids = [f"id{rng.randrange(10**9)}" for _ in range(5000)]
    pieces = ["\n".join(ids[start : start + 700]).encode() for start in range(0, 5000, 700)]
    for size in (1, 50, 999, 4096, 10**6):
        groups = ranking._cut(pieces, size)
        assert [i for g in groups for p in g for i in p.decode().split("\n")] == ids
        assert all(p for g in groups for p in g)
        # Each task but the last holds at least ``size`` bytes, and no more than one id
        # and one piece beyond it.
        for group in groups[:-1]:
            assert sum(len(p) + 1 for p in group) >= size
        if size >= 4096:
            assert len(groups) <= -(-sum(len(p) + 1 for p in pieces) // size) + 1
