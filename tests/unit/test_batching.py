"""Batcher: requests asking together share one lookup, and no answer predates its question."""

from __future__ import annotations

import asyncio

import pytest

from backend.core.batching import Batcher


async def test_one_lookup_per_turn_later_questions_get_later_lookups_and_failures_reach_all():
    calls: list[list[int]] = []
    state = {"committed": 0, "fail": False}

    async def lookup(keys: list[int]) -> dict[int, tuple[int, int]]:
        calls.append(sorted(keys))
        seen = state["committed"]
        await asyncio.sleep(0.01)  # a query in flight
        if state["fail"]:
            raise RuntimeError("database gone")
        return {k: (k, seen) for k in keys if k != 404}

    batcher: Batcher[int, tuple[int, int]] = Batcher(lookup)
    answers = await asyncio.gather(*(batcher.get(k) for k in (1, 2, 2, 3, 404)))
    assert calls == [[1, 2, 3, 404]]
    assert answers == [(1, 0), (2, 0), (2, 0), (3, 0), None]

    # Asked while a lookup is in flight, after a commit: answered by a new lookup.
    first = asyncio.ensure_future(batcher.get(1))
    await asyncio.sleep(0.001)
    state["committed"] = 1
    second = await batcher.get(1)
    assert await first == (1, 0) and second == (1, 1)

    state["fail"] = True
    results = await asyncio.gather(batcher.get(5), batcher.get(6), return_exceptions=True)
    assert [str(r) for r in results] == ["database gone", "database gone"]
    with pytest.raises(RuntimeError):
        await batcher.get(7)


async def test_keys_asked_during_a_lookup_wait_for_it_and_share_the_next():
    calls: list[list[int]] = []

    async def lookup(keys: list[int]) -> dict[int, int]:
        calls.append(sorted(keys))
        await asyncio.sleep(0.01)  # a query in flight
        return {k: len(calls) for k in keys}

    batcher: Batcher[int, int] = Batcher(lookup)
    first = asyncio.ensure_future(batcher.get(1))
    await asyncio.sleep(0.001)  # the first lookup is in flight
    later = [asyncio.ensure_future(batcher.get(k)) for k in (2, 3)]
    await asyncio.sleep(0)  # another turn of the loop
    later.append(asyncio.ensure_future(batcher.get(4)))
    assert await first == 1
    assert await asyncio.gather(*later) == [2, 2, 2]
    assert calls == [[1], [2, 3, 4]]
    # Nothing in flight: a lone key is looked up at once.
    assert await batcher.get(5) == 3
