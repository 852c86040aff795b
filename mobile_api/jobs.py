"""Scheduled maintenance of the mobile API."""

from __future__ import annotations

from typing import Any

from scheduler.runner import Job


async def purge_expired_operations(*, settings: Any, store: Any = None) -> int:
    """Forget stored responses past their retention (at least 7 days; see MobileConfig)."""
    from mobile_api.operations import purge_expired

    return await purge_expired()


def jobs() -> list[Job]:
    return [
        Job(
            id="mobile.purge_expired_operations",
            description="forget stored mobile write responses past their retention",
            seconds=3600,
            func=purge_expired_operations,
        )
    ]
