"""GET /mobile/v1/work: the officer's tasks and cases, as changes since a cursor.

Each kind of work has a ``WorkSource`` (registered by the module that knows the
domain service): ``assigned`` lists what the user holds now with a change marker,
``details`` renders items. The server keeps, per user, the last marker of every item
it has reported (``MobileWorkEntry``); each addition, change or removal takes the
user's next sequence number. The cursor is that number, so "what changed since
the cursor" is exact (removals included: an item no longer assigned is a change) and
pages are stable: later changes only ever get higher numbers.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter

from backend.core import clock
from backend.core.auth import Principal
from backend.core.db import is_sqlite, write_tx
from backend.core.errors import BadRequest, NotFound
from backend.settings import Settings
from mobile_api import schemas as s
from mobile_api.config import mobile_config
from mobile_api.etag import conditional
from mobile_api.tables import MobileWorkEntry
from mobile_api.writes import IfNoneMatch

CURSOR_PREFIX = "w1."


@dataclass(frozen=True)
class WorkSource:
    kind: str
    # What the user holds now: item id -> change marker (version, update time).
    assigned: Callable[[Principal], Awaitable[dict[uuid.UUID, str]]]
    # Render items (missing ids: no longer visible).
    details: Callable[[Principal, list[uuid.UUID]], Awaitable[dict[uuid.UUID, Any]]]


_SOURCES: dict[str, WorkSource] = {}


def register_source(source: WorkSource) -> None:
    _SOURCES[source.kind] = source


def sources() -> dict[str, WorkSource]:
    from mobile_api.operations import registered

    registered()  # imports the router's modules, which register their sources
    return dict(_SOURCES)


def encode_cursor(seq: int) -> str:
    return f"{CURSOR_PREFIX}{seq}"


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    raw = cursor.removeprefix(CURSOR_PREFIX)
    if not cursor.startswith(CURSOR_PREFIX) or not raw.isdigit():
        raise BadRequest(
            f"cursor {cursor!r} is not one this server gave out; start again without since",
            code="work.bad_cursor",
        )
    return int(raw)


Key = tuple[str, uuid.UUID]


async def _current(principal: Principal) -> dict[Key, str]:
    held: dict[Key, str] = {}
    for kind, source in sources().items():
        for item_id, marker in (await source.assigned(principal)).items():
            held[(kind, item_id)] = marker
    return held


async def _entries(user_id: uuid.UUID) -> dict[Key, tuple[str, bool]]:
    rows = (
        await MobileWorkEntry.select(
            MobileWorkEntry.kind,
            MobileWorkEntry.item_id,
            MobileWorkEntry.marker,
            MobileWorkEntry.present,
        )
        .where(MobileWorkEntry.user_id == user_id)
        .run()
    )
    return {(r["kind"], uuid.UUID(str(r["item_id"]))): (r["marker"], r["present"]) for r in rows}


def _diff(held: dict[Key, str], known: dict[Key, tuple[str, bool]]) -> list[tuple[Key, str, bool]]:
    """(key, marker, present) for every item whose state differs from what was reported."""
    changes: list[tuple[Key, str, bool]] = []
    for key in sorted(held, key=lambda k: (k[0], str(k[1]))):
        marker = held[key]
        if known.get(key) != (marker, True):
            changes.append((key, marker, True))
    for key in sorted(known, key=lambda k: (k[0], str(k[1]))):
        marker, present = known[key]
        if present and key not in held:
            changes.append((key, marker, False))
    return changes


async def _lock_user(user_id: uuid.UUID) -> None:
    if not is_sqlite():
        await MobileWorkEntry.raw(
            "SELECT pg_advisory_xact_lock(hashtextextended({}, 0))", f"mobile-work:{user_id}"
        ).run()


async def refresh(principal: Principal) -> None:
    """Record every change of the user's work since the last call (none: no write)."""
    held = await _current(principal)
    if not _diff(held, await _entries(principal.user_id)):
        return
    async with write_tx():
        await _lock_user(principal.user_id)
        # Again under the lock: another request of the same user may have recorded them.
        held = await _current(principal)
        changes = _diff(held, await _entries(principal.user_id))
        if not changes:
            return
        top = (
            await MobileWorkEntry.select(MobileWorkEntry.seq)
            .where(MobileWorkEntry.user_id == principal.user_id)
            .order_by(MobileWorkEntry.seq, ascending=False)
            .first()
            .run()
        )
        seq = int(top["seq"]) if top else 0
        now = clock.now()
        for (kind, item_id), marker, present in changes:
            seq += 1
            updated = (
                await MobileWorkEntry.update(
                    {
                        MobileWorkEntry.marker: marker,
                        MobileWorkEntry.present: present,
                        MobileWorkEntry.seq: seq,
                        MobileWorkEntry.changed_at: now,
                    }
                )
                .where(
                    (MobileWorkEntry.user_id == principal.user_id)
                    & (MobileWorkEntry.kind == kind)
                    & (MobileWorkEntry.item_id == item_id)
                )
                .returning(MobileWorkEntry.id)
                .run()
            )
            if not updated:
                await MobileWorkEntry.insert(
                    MobileWorkEntry(
                        id=uuid.uuid4(),
                        user_id=principal.user_id,
                        kind=kind,
                        item_id=item_id,
                        marker=marker,
                        present=present,
                        seq=seq,
                        changed_at=now,
                    )
                ).run()


async def changes_since(principal: Principal, *, since: int, limit: int) -> s.WorkPage:
    await refresh(principal)
    query = MobileWorkEntry.select(
        MobileWorkEntry.kind, MobileWorkEntry.item_id, MobileWorkEntry.present, MobileWorkEntry.seq
    ).where((MobileWorkEntry.user_id == principal.user_id) & (MobileWorkEntry.seq > since))
    if since == 0:
        # A first sync has nothing to remove.
        query = query.where(MobileWorkEntry.present.eq(True))
    rows = await query.order_by(MobileWorkEntry.seq).limit(limit + 1).run()
    has_more = len(rows) > limit
    rows = rows[:limit]
    wanted: dict[str, list[uuid.UUID]] = {}
    for r in rows:
        if r["present"]:
            wanted.setdefault(r["kind"], []).append(uuid.UUID(str(r["item_id"])))
    rendered: dict[Key, Any] = {}
    registry = sources()
    for kind, ids in wanted.items():
        for item_id, item in (await registry[kind].details(principal, ids)).items():
            rendered[(kind, item_id)] = item
    items: list[Any] = []
    removed: list[uuid.UUID] = []
    for r in rows:
        key = (r["kind"], uuid.UUID(str(r["item_id"])))
        if r["present"] and key in rendered:
            items.append(rendered[key])
        elif not r["present"]:
            removed.append(key[1])
        # Present but not renderable: it left between the refresh and now; the next call
        # records the removal.
    cursor = encode_cursor(int(rows[-1]["seq"])) if rows else encode_cursor(since)
    return s.WorkPage(items=items, removed=removed, cursor=cursor, has_more=has_more)


@get("/work", operation_id="mobileWorkChanges", tags=["mobile"])
async def work_changes(
    request: Request[Principal, Any, Any],
    settings: Settings,
    since: Annotated[
        str | None,
        Parameter(
            required=False,
            description="The cursor of the last page you applied; none for a full list.",
        ),
    ] = None,
    limit: Annotated[int | None, Parameter(required=False, ge=1, le=1000)] = None,
    if_none_match: IfNoneMatch = None,
) -> Response[s.WorkPage]:
    """Tasks and cases assigned to you or your team that changed since ``since``.

    ``items`` are full details (subject, address, location, items to check, deadlines,
    next allowed actions); ``removed`` are ids to drop (reassigned, transferred away,
    closed elsewhere). Apply the page, keep ``cursor``, and call again while ``has_more``.
    """
    page = await changes_since(
        request.user,
        since=decode_cursor(since),
        limit=limit or mobile_config(settings).work_page_size,
    )
    return conditional(request, page)


@get("/work/{kind:str}/{item_id:uuid}", operation_id="mobileWorkItem", tags=["mobile"])
async def work_item(
    kind: str,
    item_id: uuid.UUID,
    request: Request[Principal, Any, Any],
    if_none_match: IfNoneMatch = None,
) -> Response[s.WorkItem]:
    """One task or case with its ETag; If-None-Match gives 304 when unchanged."""
    source = sources().get(kind)
    if source is None:
        raise NotFound(f"unknown kind of work {kind!r}", code="work.unknown_kind")
    found = await source.details(request.user, [item_id])
    if item_id not in found:
        raise NotFound(f"{kind} not found", code=f"{kind}.not_found")
    return conditional(request, found[item_id])


HANDLERS = [work_changes, work_item]
