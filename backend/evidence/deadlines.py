"""The evidence domain's deadline provider for the escalation sweep (``backend.core.deadlines``).

``evidence.sealing``: an item should leave ``uploaded`` (be sealed or rejected) within
``FIELDCASE_EVIDENCE_SEAL_GRACE_MINUTES`` (default 60) of its upload; the reconciler
retries seals every few minutes, so an item still ``uploaded`` after that is stuck.
Only items already past the grace are yielded (being "stuck" is relative to now); the
uploader hears first, then the unit's squad leader and head.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Sequence

from backend.core import clock
from backend.core.deadlines import DeadlineItem, watched_ids
from backend.evidence import states
from backend.evidence.tables import Evidence


def seal_grace() -> dt.timedelta:
    return dt.timedelta(minutes=int(os.environ.get("FIELDCASE_EVIDENCE_SEAL_GRACE_MINUTES", "60")))


def _uploader(created_by: str) -> tuple[uuid.UUID, ...]:
    kind, _, ident = created_by.partition(":")
    if kind != "user":
        return ()
    try:
        return (uuid.UUID(ident),)
    except ValueError:
        return ()


async def provide(*, horizon: dt.datetime, watched: Sequence[str]) -> AsyncIterator[DeadlineItem]:
    grace = seal_grace()
    stuck = (Evidence.status == states.UPLOADED) & (Evidence.uploaded_at <= clock.now() - grace)
    ids = watched_ids(watched)
    condition = stuck | Evidence.id.is_in(ids) if ids else stuck
    rows = (
        await Evidence.select(
            Evidence.id,
            Evidence.status,
            Evidence.org_unit,
            Evidence.uploaded_at,
            Evidence.created_by,
            Evidence.kind,
            Evidence.target_kind,
            Evidence.target_id,
        )
        .where(condition)
        .run()
    )
    for row in rows:
        if row["uploaded_at"] is None:
            continue
        yield DeadlineItem(
            target_kind="evidence",
            target_id=str(row["id"]),
            rule_kind="evidence.sealing",
            due_at=row["uploaded_at"] + grace,
            org_unit_id=row["org_unit"],
            user_ids=_uploader(row["created_by"]),
            resolved=row["status"] != states.UPLOADED,
            title=f"证据 {row['kind']} 未封存",
            details={"target": f"{row['target_kind']}:{row['target_id']}"},
        )
