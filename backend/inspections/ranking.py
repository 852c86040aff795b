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


async def select_ranked(
    seed: bytes,
    strata: Mapping[str, Sequence[str]],
    quotas: Mapping[str, int],
    *,
    pieces: Mapping[str, Sequence[bytes]] | None = None,
    inspectors: Sequence[str] | None = None,
) -> tuple[dict[str, list[str]], Heads]:
    """``hashrank.select`` of every stratum (the ids with the lowest scores, lowest first),
    and for the strata that one worker ranked whole, the heads of the
    inspector rankings of what they selected (as ``inspector_orders``; the worker does
    it at once instead of a second round trip). Strata missing from the heads need
    ``inspector_orders`` (or ``assign`` ranks as it walks). ``pieces`` may give each
    stratum's ids already as newline-separated UTF-8 pieces (any order, see
    ``hashrank.top_scores``), which spares joining them here."""
    total = sum(len(ids) for ids in strata.values())
    executor = _pool() if total >= PARALLEL_FROM else None
    if executor is not None:
        if pieces is None:
            pieces = {
                name: [
                    "\n".join(ids[start : start + PIECE]).encode("utf-8")
                    for start in range(0, len(ids), PIECE)
                ]
                for name, ids in strata.items()
            }
        try:
            ranked = await _select_on(executor, seed, strata, quotas, pieces, total, inspectors)
        except POOL_FAILURES as exc:
            _broken(executor, exc)
        else:
            _worked(executor)
            return ranked
    selected = {
        name: hashrank.select(seed, name, ids, quotas[name]) for name, ids in strata.items()
    }
    return selected, {}


PIECE = 50_000  # ids per piece when the caller gives none


async def _select_on(
    executor: ProcessPoolExecutor,
    seed: bytes,
    strata: Mapping[str, Sequence[str]],
    quotas: Mapping[str, int],
    pieces: Mapping[str, Sequence[bytes]],
    total: int,
    inspectors: Sequence[str] | None,
) -> tuple[dict[str, list[str]], Heads]:
    loop = asyncio.get_running_loop()
    # About two tasks per worker keep every worker busy when the strata differ in size.
    target = total / (2 * _size)
    head = hashrank.ORDER_HEAD
    pending: list[tuple[str, asyncio.Future[Any]]] = []
    whole: set[str] = set()
    for name in strata:
        groups: list[list[bytes]] = [[]]
        size = 0
        for piece in pieces[name]:
            if size >= target:
                groups.append([])
                size = 0
            groups[-1].append(piece)
            size += piece.count(b"\n") + 1
        if len(groups) == 1 and inspectors:
            whole.add(name)
            future = loop.run_in_executor(
                executor,
                hashrank.select_and_rank,
                seed,
                name,
                groups[0],
                quotas[name],
                inspectors,
                head,
            )
            pending.append((name, future))
            continue
        prefix = hashrank.subject_prefix(seed, name)
        pending.extend(
            (
                name,
                loop.run_in_executor(executor, hashrank.top_scores, prefix, group, quotas[name]),
            )
            for group in groups
        )
    # All at once: after a failure no task is left unawaited.
    results = await asyncio.gather(*(future for _, future in pending), return_exceptions=True)
    found: dict[str, list[tuple[bytes, str]]] = {name: [] for name in strata}
    heads: Heads = {}
    for (name, _), result in zip(pending, results, strict=True):
        if isinstance(result, BaseException):
            raise result
        if name in whole:
            top, orders = result
            found[name] = top
            heads[name] = _split_heads(orders, len(top), min(head, len(inspectors or ())))
        else:
            found[name].extend(result)
    selected = {
        name: [ident for _, ident in heapq.nsmallest(quotas[name], found[name])] for name in strata
    }
    return selected, heads


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
    small enough to rank as ``assign`` walks."""
    executor = _pool() if len(subjects) * len(inspectors) >= PARALLEL_FROM else None
    if executor is None or not subjects:
        return None
    loop = asyncio.get_running_loop()
    head = hashrank.ORDER_HEAD
    piece = math.ceil(len(subjects) / (2 * _size))
    try:
        futures = [
            loop.run_in_executor(
                executor,
                hashrank.inspector_orders,
                seed,
                subjects[start : start + piece],
                inspectors,
                head,
            )
            for start in range(0, len(subjects), piece)
        ]
    except POOL_FAILURES as exc:
        _broken(executor, exc)
        return None
    blobs: list[bytes] = []
    for part in await asyncio.gather(*futures, return_exceptions=True):
        if isinstance(part, POOL_FAILURES):
            _broken(executor, part)
            return None
        if isinstance(part, BaseException):
            raise part
        blobs.append(part)
    _worked(executor)
    return _split_heads(b"".join(blobs), len(subjects), min(head, len(inspectors)))
