"""GET /mobile/v1/work: the officer's tasks and cases, as changes since a cursor.

Each kind of work has a ``WorkSource`` (registered by the module that knows the
domain service): ``assigned`` lists, lightly, what the user holds now with a change
marker; ``changed_sql`` names the items of that kind anyone changed lately;
``details`` renders items. The server keeps, per user, the last marker of every item
it has reported (``MobileWorkEntry``); each addition, change or removal takes the
user's next sequence number. The cursor is that number, so "what changed since
the cursor" is exact (removals included: an item no longer assigned is a change) and
pages are stable: later changes only ever get higher numbers.

Bringing the entries up to date is cheap when nothing happened: ``MobileWorkFeed``
remembers when the user's entries were last compared; a poll asks each source which
items changed since then (one probe of an indexed ``updated_at``) and compares only
those. Every change that moves an item in or out of a work list (assignment,
reassignment, transfer, status) bumps the item's ``updated_at``. What does not (an
officer joining a team) is caught by a full comparison every few minutes and on every
sync from scratch.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter

from backend.core import clock
from backend.core.auth import Principal
from backend.core.batching import Batcher
from backend.core.db import is_sqlite, read, write_tx
from backend.core.errors import BadRequest, NotFound
from mobile_api import schemas as s
from mobile_api.config import mobile_config
from mobile_api.etag import conditional
from mobile_api.tables import MobileWorkEntry, MobileWorkFeed
from mobile_api.writes import IfNoneMatch

CURSOR_PREFIX = "w1."
# A change is stamped when its transaction starts and seen when it commits: look back this
# far so that a change still committing during one poll is found by the next one (longer
# transactions, such as a large draw, are caught by the periodic full comparison).
COMMIT_MARGIN = dt.timedelta(seconds=30)
# More recent changes than this in one kind (a fresh draw): compare everything instead.
MAX_CHANGED = 500
# A full comparison at least this often, for changes that do not touch the item.
RECONCILE_EVERY = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class WorkSource:
    kind: str
    # What the user holds now: item id -> change marker (version, status); only ``ids``
    # when given. Light: no details.
    assigned: Callable[[Principal, list[uuid.UUID] | None], Awaitable[dict[uuid.UUID, str]]]
    # SQL of the items of this kind anyone changed after a moment: ``(id, updated_at)``
    # rows, the latest first, with two ``{}`` placeholders (the moment, how many). The poll
    # runs it inside its own query.
    changed_sql: str
    # Render items (missing ids: no longer visible).
    details: Callable[[Principal, list[uuid.UUID]], Awaitable[dict[uuid.UUID, Any]]]


_SOURCES: dict[str, WorkSource] = {}


def register_source(source: WorkSource) -> None:
    if not source.kind.isidentifier():
        raise ValueError(f"a kind of work is a plain name, not {source.kind!r}")
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
# Which items to compare: kind -> ids, or None for everything.
Scope = dict[str, list[uuid.UUID]] | None


async def _current(principal: Principal, scope: Scope) -> dict[Key, str]:
    held: dict[Key, str] = {}
    for kind, source in sources().items():
        ids = None if scope is None else scope.get(kind, [])
        if ids == []:
            continue
        for item_id, marker in (await source.assigned(principal, ids)).items():
            held[(kind, item_id)] = marker
    return held


async def _entries(user_id: uuid.UUID, scope: Scope) -> dict[Key, tuple[str, bool]]:
    query = MobileWorkEntry.select(
        MobileWorkEntry.kind,
        MobileWorkEntry.item_id,
        MobileWorkEntry.marker,
        MobileWorkEntry.present,
    ).where(MobileWorkEntry.user_id == user_id)
    if scope is not None:
        ids = [i for kind_ids in scope.values() for i in kind_ids]
        if not ids:
            return {}
        query = query.where(MobileWorkEntry.item_id.is_in(ids))
    known = {
        (r["kind"], uuid.UUID(str(r["item_id"]))): (r["marker"], r["present"])
        for r in await query.run()
    }
    if scope is None:
        return known
    return {k: v for k, v in known.items() if k[1] in scope.get(k[0], [])}


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


async def _feed(user_id: uuid.UUID) -> dict[str, Any] | None:
    row: dict[str, Any] | None = (
        await MobileWorkFeed.select(MobileWorkFeed.checked_at, MobileWorkFeed.reconciled_at)
        .where(MobileWorkFeed.user_id == user_id)
        .first()
        .run()
    )
    return row


async def _record(user_id: uuid.UUID, changes: list[tuple[Key, str, bool]]) -> None:
    """Give each change the user's next sequence number."""
    top = (
        await MobileWorkEntry.select(MobileWorkEntry.seq)
        .where(MobileWorkEntry.user_id == user_id)
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
                (MobileWorkEntry.user_id == user_id)
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
                    user_id=user_id,
                    kind=kind,
                    item_id=item_id,
                    marker=marker,
                    present=present,
                    seq=seq,
                    changed_at=now,
                )
            ).run()


async def _mark_checked(user_id: uuid.UUID, now: dt.datetime, *, reconciled: bool) -> None:
    values: dict[Any, Any] = {MobileWorkFeed.checked_at: now}
    if reconciled:
        values[MobileWorkFeed.reconciled_at] = now
    updated = (
        await MobileWorkFeed.update(values)
        .where(MobileWorkFeed.user_id == user_id)
        .returning(MobileWorkFeed.id)
        .run()
    )
    if not updated:
        await MobileWorkFeed.insert(
            MobileWorkFeed(id=uuid.uuid4(), user_id=user_id, checked_at=now, reconciled_at=now)
        ).run()


async def _compare(principal: Principal, scope: Scope, *, now: dt.datetime, mark: bool) -> bool:
    """Record every difference between what the user holds and was told, within ``scope``.

    True when some change was recorded.
    """
    user_id = principal.user_id
    if not mark and not _diff(await _current(principal, scope), await _entries(user_id, scope)):
        return False
    async with write_tx():
        await _lock_user(user_id)
        # Again under the lock: another request of the same user may have recorded them.
        changes = _diff(await _current(principal, scope), await _entries(user_id, scope))
        if changes:
            await _record(user_id, changes)
        if mark:
            await _mark_checked(user_id, now, reconciled=scope is None)
    return bool(changes)


News = dict[str, dict[uuid.UUID, dt.datetime]]


# The changes of one kind in the columns of a poll's arms (below), ``k`` -1 and the
# change's moment as ``checked_at``. In one query with polls they come after the polls'
# arms, whose columns give PostgreSQL the types of these NULLs.
PROBE_ARM = (
    "SELECT -1 AS k, p.updated_at AS checked_at, NULL AS reconciled_at, NULL AS seq,"
    " '{kind}' AS kind, p.id AS item_id, NULL AS present FROM ({sql}) p"
)
Changes = dict[str, dict[uuid.UUID, dt.datetime]]


def _probe_arms(earliest: dt.datetime) -> tuple[list[str], list[Any]]:
    """One arm per kind: its latest changes after ``earliest`` (one more than compared)."""
    arms: list[str] = []
    args: list[Any] = []
    for kind, source in sources().items():
        arms.append(PROBE_ARM.format(kind=kind, sql=source.changed_sql))
        args += [earliest, MAX_CHANGED + 1]
    return arms, args


def _news_after(latest: Changes, moment: dt.datetime) -> News | None:
    """Per kind, the items among ``latest`` changed after ``moment`` (None: too many)."""
    news: News = {}
    for kind, changed in latest.items():
        after = {i: at for i, at in changed.items() if at > moment}
        # Cut off and all newer than the moment: more changes may lie beyond the cut.
        cut = len(changed) > MAX_CHANGED and all(at > moment for at in changed.values())
        if cut or len(after) > MAX_CHANGED:
            return None
        if after:
            news[kind] = after
    return news


def _note_change(latest: Changes, row: Any) -> None:
    latest.setdefault(str(row["kind"]), {})[uuid.UUID(str(row["item_id"]))] = _moment(
        row["checked_at"]
    )


async def _probe(moments: list[dt.datetime]) -> dict[dt.datetime, News | None]:
    """For each moment, per kind, the items changed after it (None: too many to compare).

    One query serves every moment and kind: the latest changes after the earliest moment.
    """
    arms, args = _probe_arms(min(moments))
    latest: Changes = {kind: {} for kind in sources()}
    for r in await read(MobileWorkFeed, " UNION ALL ".join(arms), *args):
        _note_change(latest, r)
    return {moment: _news_after(latest, moment) for moment in moments}


# Concurrent polls share the probe (each one started after the poll asked).
_probes: Batcher[dt.datetime, News | None] = Batcher(_probe)


async def _news(since: dt.datetime) -> News | None:
    """Per kind, the items changed after ``since``; None when there are too many to compare."""
    return await _probes.get(since)


_UNREAD: Any = object()


async def refresh(
    principal: Principal,
    *,
    full: bool = False,
    feed: Any = _UNREAD,
    early: tuple[dt.datetime, News | None] | None = None,
) -> bool:
    """Record every change of the user's work since the last call (none: no write).

    ``feed``: the user's feed row if already read (None: there is none). ``early``: news
    already probed from a moment; used when that moment is no later than the feed's
    (news since earlier are a superset, compared the same way). True when some change
    was recorded.
    """
    now = clock.now()
    if feed is _UNREAD:
        feed = await _feed(principal.user_id)
    if (
        full
        or feed is None
        # The clock went back (tests travel in time): the stored moments mean nothing.
        or not feed["reconciled_at"] <= now < feed["reconciled_at"] + RECONCILE_EVERY
        or feed["checked_at"] > now
    ):
        return await _compare(principal, None, now=now, mark=True)
    since = feed["checked_at"] - COMMIT_MARGIN
    news = early[1] if early is not None and early[0] <= since else await _news(since)
    if news == {}:
        return False
    # Move the window on at most once per margin: changes it still covers are compared
    # again (finding nothing) rather than writing the feed row on every poll.
    mark = now - feed["checked_at"] >= COMMIT_MARGIN
    scope = None if news is None else {kind: sorted(ids, key=str) for kind, ids in news.items()}
    return await _compare(principal, scope, now=now, mark=mark)


# The feed's ``checked_at`` of each user as this process last read it.
_last_checked: dict[uuid.UUID, dt.datetime] = {}
MAX_REMEMBERED = 100_000

# The poll of a phone with a cursor: its feed row and the entries after the cursor. Plain
# SQL (the ORM's query building would cost more than the query), one query for the polls
# of many phones at once: one arm per poll, ``k`` its place in the batch.
POLL_ARM = (
    " AS k, f.checked_at, f.reconciled_at, e.seq, e.kind, e.item_id, e.present"
    " FROM mobile_work_feed f LEFT JOIN ("
    " SELECT seq, kind, item_id, present FROM mobile_work_entry"
    " WHERE user_id = {} AND seq > {} ORDER BY seq LIMIT {}"
    ") e ON 1 = 1 WHERE f.user_id = {}"
)
# (user, cursor, count, moment): the moment, when given, asks for the news since it too.
PollKey = tuple[uuid.UUID, int, int, dt.datetime | None]
# The feed row (None: there is none), the entries after the cursor, the news (None when
# there are too many to compare, or no moment was given).
Poll = tuple[dict[str, Any] | None, list[dict[str, Any]], News | None]


def _moment(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


async def _read_polls(keys: list[PollKey]) -> dict[PollKey, Poll]:
    """For each key: the feed row, up to ``count`` entries after the cursor and, if a moment
    is given, the news since it; the probe for news in the same query (after the earliest
    moment asked)."""
    arms: list[str] = []
    args: list[Any] = []
    for n, (user_id, since, count, _) in enumerate(keys):
        arms.append(f"SELECT {n}{POLL_ARM}")
        args += [user_id, since, count, user_id]
    moments = [key[3] for key in keys if key[3] is not None]
    if moments:
        probe, probe_args = _probe_arms(min(moments))
        arms += probe
        args += probe_args
    feeds: dict[int, dict[str, Any]] = {}
    entries: dict[int, list[dict[str, Any]]] = {}
    latest: Changes = {kind: {} for kind in sources()} if moments else {}
    for r in await read(MobileWorkFeed, " UNION ALL ".join(arms), *args):
        n = int(r["k"])
        if n < 0:
            _note_change(latest, r)
            continue
        if n not in feeds:
            feeds[n] = {
                "checked_at": _moment(r["checked_at"]),
                "reconciled_at": _moment(r["reconciled_at"]),
            }
            entries[n] = []
        if r["seq"] is not None:
            entries[n].append(
                {
                    "seq": int(r["seq"]),
                    "kind": str(r["kind"]),
                    "item_id": uuid.UUID(str(r["item_id"])),
                    "present": bool(r["present"]),
                }
            )
    found: dict[PollKey, Poll] = {}
    for n, key in enumerate(keys):
        rows = sorted(entries.get(n, []), key=lambda e: e["seq"])
        news = _news_after(latest, key[3]) if key[3] is not None else None
        found[key] = (feeds.get(n), rows, news)
    return found


# Concurrent polls share the read (each one started after the poll asked).
_polls: Batcher[PollKey, Poll] = Batcher(_read_polls)


async def _entries_after(user_id: uuid.UUID, since: int, count: int) -> list[dict[str, Any]]:
    query = MobileWorkEntry.select(
        MobileWorkEntry.kind, MobileWorkEntry.item_id, MobileWorkEntry.present, MobileWorkEntry.seq
    ).where((MobileWorkEntry.user_id == user_id) & (MobileWorkEntry.seq > since))
    if since == 0:
        # A first sync has nothing to remove.
        query = query.where(MobileWorkEntry.present.eq(True))
    rows: list[dict[str, Any]] = await query.order_by(MobileWorkEntry.seq).limit(count).run()
    return rows


async def changes_since(principal: Principal, *, since: int, limit: int) -> s.WorkPage:
    rows: list[dict[str, Any]] | None = None
    if since == 0:
        # A sync from scratch compares everything: the cheap path relies on a recent one.
        await refresh(principal, full=True)
    else:
        user_id = principal.user_id
        seen = _last_checked.get(user_id)
        moment: dt.datetime | None = None
        if seen is not None and seen <= clock.now():
            # Probe for news with the feed read, from the feed's moment this process saw
            # last (it only moves forward), instead of after it: one round trip less.
            moment = seen - COMMIT_MARGIN
        polled = await _polls.get((user_id, since, limit + 1, moment))
        feed, rows, news = polled if polled is not None else (None, [], None)
        early = (moment, news) if moment is not None else None
        if feed is not None:
            if len(_last_checked) >= MAX_REMEMBERED:
                _last_checked.clear()
            _last_checked[user_id] = feed["checked_at"]
        if await refresh(principal, feed=feed, early=early) or feed is None:
            rows = None  # read before the changes just recorded
    if rows is None:
        rows = await _entries_after(principal.user_id, since, limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    wanted: dict[str, list[uuid.UUID]] = {}
    for r in rows:
        if r["present"]:
            wanted.setdefault(r["kind"], []).append(uuid.UUID(str(r["item_id"])))
    rendered: dict[Key, Any] = {}
    registry = sources() if wanted else {}
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
        # The app's settings, not a dependency: resolving one costs on every poll.
        limit=limit or mobile_config(request.app.state.settings).work_page_size,
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
