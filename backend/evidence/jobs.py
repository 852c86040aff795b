"""Scheduler jobs of the evidence domain (plain async functions; scheduler/ runs them)."""

from __future__ import annotations

from typing import Any

from backend.core import clock
from backend.evidence import states
from backend.evidence.policy import policy_from
from backend.evidence.sealing import SEALER, seal_pending_uploads
from backend.evidence.service import set_status
from backend.evidence.tables import Evidence
from backend.settings import Settings
from scheduler.runner import Job
from storage import ObjectStore


async def expire_stale_sessions(*, store: ObjectStore, settings: Settings, limit: int = 200) -> int:
    """Expire ``pending`` sessions older than 24 h and abort their multipart uploads."""
    policy = policy_from(settings)
    cutoff = clock.now() - policy.pending_expiry
    rows = (
        await Evidence.select()
        .where((Evidence.status == states.PENDING) & (Evidence.created_at < cutoff))
        .order_by(Evidence.created_at)
        .limit(limit)
        .run()
    )
    expired = 0
    for row in rows:
        if row["upload_id"]:
            await store.abort_multipart(row["object_key"], upload_id=row["upload_id"])
        if await set_status(
            row,
            states.EXPIRED,
            actor=SEALER,
            action="evidence.expired",
            payload={"created_at": row["created_at"], "multipart_aborted": bool(row["upload_id"])},
        ):
            expired += 1
    return expired


async def reconcile_evidence(*, settings: Settings, store: ObjectStore, **_: Any) -> dict[str, int]:
    """Expire abandoned sessions and finish seals left ``uploaded`` (large items, crashes)."""
    expired = await expire_stale_sessions(store=store, settings=settings)
    sealed = await seal_pending_uploads(
        store=store, policy=policy_from(settings), tz=settings.timezone
    )
    return {"expired": expired, "sealed": sealed}


def jobs() -> list[Job]:
    return [
        Job(
            id="evidence.reconcile",
            description="Expire abandoned evidence uploads and finish interrupted seals",
            seconds=300,
            func=reconcile_evidence,
        )
    ]
