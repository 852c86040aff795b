"""Concurrent requests that need the same kind of read share one query.

A ``Batcher`` collects the keys asked for while its previous lookup is running and
answers all of them with the next lookup. Every lookup starts after each of the keys it
answers was asked for, so an answer never predates the question: whatever was committed
before the call is seen (a device revoked a moment ago is refused at once). Under light
load each call is one lookup of one key; under heavy load, one query serves many requests.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class _LoopState(Generic[K, V]):
    waiting: list[tuple[K, asyncio.Future[V | None]]] = field(default_factory=list)
    runner: asyncio.Task[None] | None = None


class Batcher(Generic[K, V]):
    def __init__(self, lookup: Callable[[list[K]], Awaitable[dict[K, V]]]) -> None:
        # ``lookup(keys)``: the value of each key found (missing keys answer None).
        self._lookup = lookup
        # Per event loop: futures belong to one loop (tests run one loop per test).
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState[K, V]] = (
            weakref.WeakKeyDictionary()
        )

    async def get(self, key: K) -> V | None:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            state = self._states[loop] = _LoopState()
        future: asyncio.Future[V | None] = loop.create_future()
        state.waiting.append((key, future))
        if state.runner is None:
            # A fresh context: the lookup must not run inside a caller's transaction.
            state.runner = loop.create_task(self._drain(state), context=contextvars.Context())
        return await future

    async def _drain(self, state: _LoopState[K, V]) -> None:
        try:
            while state.waiting:
                batch, state.waiting = state.waiting, []
                try:
                    found = await self._lookup(list(dict.fromkeys(key for key, _ in batch)))
                except BaseException as exc:
                    failure = exc if isinstance(exc, Exception) else RuntimeError("lookup stopped")
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(failure)
                    if failure is not exc:
                        raise
                    continue
                for key, future in batch:
                    if not future.done():
                        future.set_result(found.get(key))
        finally:
            state.runner = None
