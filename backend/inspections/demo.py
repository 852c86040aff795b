"""Demo data of the inspections domain (filled in below)."""

from __future__ import annotations

from typing import Any


async def seed(ctx: Any) -> None:
    return None
