"""The audit anchoring job."""

from __future__ import annotations

from typing import Any

from scheduler.runner import Job


async def anchor_audit(*, settings: Any, store: Any) -> str:
    from backend.audit.anchors import anchor_now

    anchor = await anchor_now(store=store)
    if anchor is None:
        return "no stream moved since the last anchor"
    return f"anchor {anchor.seq}: root {anchor.root} over {anchor.streams} streams"


def jobs() -> list[Job]:
    return [
        Job(
            id="audit.anchor",
            description="Merkle root of all audit stream heads to the object store",
            seconds=600,
            func=anchor_audit,
        )
    ]
