"""A large draw's hashing, spread over worker processes.

hashrank-v1 hashes every id of the pool (a million in a large county) and, for every
selected subject, every inspector of the pool: over a second of CPU in one Python
process, during which the event loop of that process would serve nobody else. Here the
hashing runs on a small pool of worker processes (``FIELDCASE_DRAW_WORKERS``, 0 to hash
in the serving process) that import only ``hashrank``; the request awaits it. The work
and its result are exactly ``hashrank.select`` and the inspector ranking of ``assign``:
the workers run the same pure functions over pieces of the pool.

Small draws (fewer than ``PARALLEL_FROM`` hashes) are ranked in process: shipping them
would cost more than it saves. If the workers fail (a worker killed, the pool broken),
the draw is ranked in process instead and the pool is started again for the next one.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import threading
from array import array
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from backend.inspections import hashrank
from backend.settings import get_settings

PARALLEL_FROM = 100_000
log = logging.getLogger("fieldcase.inspections.draw")

_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None
_size = 0  # workers of ``_executor``
# Pools that broke one after the other; after ``GIVE_UP_AFTER`` the process stops trying
# (workers that cannot start at all, e.g. when the main module cannot be imported again).
_failures = 0
GIVE_UP_AFTER = 3
# What a failed pool raises: a worker died, the pool was shut down meanwhile, no process
# could be started.
POOL_FAILURES = (BrokenProcessPool, RuntimeError, OSError)


def _workers() -> int:
    return get_settings().draw_workers


def worker_count() -> int:
    """Worker processes a large draw is ranked on (0: in the serving process)."""
    return 0 if _failures >= GIVE_UP_AFTER else max(0, _workers())


def _context() -> Any:
    """Workers forked from a fork server that has imported this module and ``hashrank``
    (and, as multiprocessing does for every child, the main module): no copy of the
    serving process (its threads, connections and memory), and quick to start."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["backend.inspections.ranking"])
        return context
    return multiprocessing.get_context("spawn")


def _exit_with_parent() -> None:
    """Worker initializer: leave when the serving process is gone.

    A process killed outright (SIGKILL, the OOM killer) cannot stop its workers, and
    they would wait forever: each holds both ends of the pipe that brings it work.
    The parent's sentinel is readable once the parent has died.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _pool() -> ProcessPoolExecutor | None:
    global _executor, _size
    workers = _workers()
    if workers <= 0 or _failures >= GIVE_UP_AFTER:
        return None
    with _lock:
        if _executor is None:
            _executor = ProcessPoolExecutor(
                max_workers=workers, mp_context=_context(), initializer=_exit_with_parent
            )
            _size = workers
        return _executor


def _worked(executor: ProcessPoolExecutor) -> None:
    global _failures
    if _executor is executor:
        _failures = 0


def warm_up() -> None:
    """Start the workers in the background (``fieldcase serve`` at start-up), so that the
    first large draw does not wait for them."""

    def start() -> None:
        executor = _pool()
        if executor is None:
            return
        try:
            # Workers start on demand, one for each task that finds none idle.
            for future in [executor.submit(int, n) for n in range(_size)]:
                future.result()
        except Exception as exc:  # the draw itself falls back; this thread only logs
            _broken(executor, exc)

    threading.Thread(target=start, name="draw-workers-start", daemon=True).start()


def shutdown() -> None:
    """Stop the workers (application shutdown); the next large draw starts them again."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)


def _broken(executor: ProcessPoolExecutor, exc: BaseException) -> None:
    """Forget ``executor`` after it failed (only that one: a draw that saw an older pool
    fail must not stop the one another draw has started since)."""
    global _executor, _failures
    with _lock:
        if _executor is not executor:
            return
        _executor = None
        _failures += 1
        failures = _failures
    if failures >= GIVE_UP_AFTER:
        log.error(
            "draw workers failed %d times in a row (%s); ranking in process from now on",
            failures,
            exc,
        )
    else:
        log.warning("draw workers failed (%s); ranking in process", exc)
    executor.shutdown(wait=False)


Heads = dict[str, list[Sequence[int]]]


def executor_for(work: int) -> ProcessPoolExecutor | None:
    """The workers, for a draw's part of about ``work`` ids or hashes (None: do it in
    process, the part being small or there being no workers)."""
    return _pool() if work >= PARALLEL_FROM else None


async def select_ranked(
    seed: bytes,
    pieces: Mapping[str, Sequence[bytes]],
    quotas: Mapping[str, int],
    *,
    inspectors: Sequence[str] | None = None,
) -> tuple[dict[str, list[str]], Heads]:
    """``hashrank.select`` of every stratum (the ids with the lowest scores, lowest first)
    and, when ``inspectors`` are given and the workers ranked the draw, the heads of the
    inspector rankings of every selected subject (as ``inspector_orders``), by stratum.
    Without heads (a small draw, no workers) ``assign`` ranks as it walks. Each stratum's
    ids come as newline-separated UTF-8 ``pieces`` (any order and size, see
    ``hashrank.top_scores``)."""
    total = sum(piece.count(b"\n") + 1 for parts in pieces.values() for piece in parts if piece)
    executor = executor_for(total)
    if executor is not None:
        try:
            ranked = await _select_on(executor, seed, pieces, quotas, total, inspectors)
        except POOL_FAILURES as exc:
            _broken(executor, exc)
        else:
            _worked(executor)
            return ranked
    selected = {
        name: [
            ident
            for _, ident in hashrank.top_scores(
                hashrank.subject_prefix(seed, name), parts, quotas[name]
            )
        ]
        for name, parts in pieces.items()
    }
    return selected, {}


# Tasks per worker that a draw's hashing is cut into: small enough that the workers end
# together (a worker idle while the other finishes a large task is time lost), large
# enough that shipping them costs little.
TASKS_PER_WORKER = 8
MIN_TASK = 20_000  # hashes


def _task_hashes(total: int) -> int:
    """Hashes per task for ``total`` hashes on the workers."""
    return max(MIN_TASK, math.ceil(total / (TASKS_PER_WORKER * _size)))


async def _select_on(
    executor: ProcessPoolExecutor,
    seed: bytes,
    pieces: Mapping[str, Sequence[bytes]],
    quotas: Mapping[str, int],
    total: int,
    inspectors: Sequence[str] | None,
) -> tuple[dict[str, list[str]], Heads]:
    """Every stratum's selection, then its teams' rankings, in tasks of about the same
    number of hashes. A stratum's inspector rankings are queued as soon as its selection
    is known, while the workers go on with the other strata: no second round."""
    task = _task_hashes(total)
    size = sum(len(p) for parts in pieces.values() for p in parts)
    task_bytes = max(1, size * task // max(1, total))
    loop = asyncio.get_running_loop()

    async def one(name: str) -> tuple[list[str], list[Sequence[int]] | None]:
        prefix = hashrank.subject_prefix(seed, name)
        quota = quotas[name]
        parts = await _run_all(
            loop,
            executor,
            [
                (hashrank.top_scores, prefix, group, quota)
                for group in _cut(pieces[name], task_bytes)
            ],
        )
        chosen = [ident for _, ident in heapq.nsmallest(quota, itertools.chain(*parts))]
        if not inspectors or not chosen:
            return chosen, None
        return chosen, await _orders_on(loop, executor, seed, chosen, inspectors, task)

    names = list(pieces)
    # All at once: after a failure no task is left unawaited.
    results = await asyncio.gather(*(one(name) for name in names), return_exceptions=True)
    selected: dict[str, list[str]] = {}
    heads: Heads = {}
    for name, result in zip(names, results, strict=True):
        if isinstance(result, BaseException):
            raise result
        selected[name], rows = result
        if rows is not None:
            heads[name] = rows
    return selected, heads


def _cut(pieces: Sequence[bytes], size: int) -> list[list[bytes]]:
    """``pieces`` (newline-separated ids) regrouped into tasks of about ``size`` bytes; a
    piece larger than that is cut between two ids."""
    groups: list[list[bytes]] = []
    current: list[bytes] = []
    room = size
    for piece in pieces:
        while len(piece) > room:
            cut = piece.find(b"\n", room)
            if cut < 0:
                break
            current.append(piece[:cut])
            groups.append(current)
            current, room = [], size
            piece = piece[cut + 1 :]
        if piece:
            current.append(piece)
            room -= len(piece) + 1
            if room <= 0:
                groups.append(current)
                current, room = [], size
    if current:
        groups.append(current)
    return groups


async def _run_all(
    loop: asyncio.AbstractEventLoop,
    executor: ProcessPoolExecutor,
    calls: Sequence[tuple[Any, ...]],
) -> list[Any]:
    """Each ``(function, *args)`` of ``calls`` on the workers; their results in order.
    Every task submitted is awaited, even when a later one cannot be submitted or an
    earlier one fails; then the first failure is raised."""
    futures: list[asyncio.Future[Any]] = []
    refused: BaseException | None = None
    try:
        for function, *args in calls:
            futures.append(loop.run_in_executor(executor, function, *args))
    except POOL_FAILURES as exc:
        refused = exc
    results = await asyncio.gather(*futures, return_exceptions=True)
    if refused is not None:
        raise refused
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


async def _orders_on(
    loop: asyncio.AbstractEventLoop,
    executor: ProcessPoolExecutor,
    seed: bytes,
    subjects: Sequence[str],
    inspectors: Sequence[str],
    task: int,
) -> list[Sequence[int]]:
    head = hashrank.ORDER_HEAD
    per = max(1, task // len(inspectors))
    blobs = await _run_all(
        loop,
        executor,
        [
            (hashrank.inspector_orders, seed, subjects[start : start + per], inspectors, head)
            for start in range(0, len(subjects), per)
        ],
    )
    return _split_heads(b"".join(blobs), len(subjects), min(head, len(inspectors)))


def _split_heads(orders: bytes, subjects: int, width: int) -> list[Sequence[int]]:
    flat = array("I")
    flat.frombytes(orders)
    view = memoryview(flat)
    return [view[n * width : (n + 1) * width] for n in range(subjects)]


async def inspector_orders(
    seed: bytes, subjects: Sequence[str], inspectors: Sequence[str]
) -> list[Sequence[int]] | None:
    """The head of each subject's inspector ranking (positions in ``inspectors``, see
    ``hashrank.inspector_orders``), computed on the workers; None when the draw is
    small enough to rank as ``assign`` walks, or the workers failed."""
    hashes = len(subjects) * len(inspectors)
    executor = executor_for(hashes)
    if executor is None or not subjects:
        return None
    task = _task_hashes(hashes)
    try:
        orders = await _orders_on(
            asyncio.get_running_loop(), executor, seed, subjects, inspectors, task
        )
    except POOL_FAILURES as exc:
        _broken(executor, exc)
        return None
    _worked(executor)
    return orders
