"""What evidence can be attached to: resolvers other domains provide (``evidence_targets``).

A resolver is ``async (principal, target_id) -> org_unit_id`` and raises NotFound when
the target is missing or out of the principal's scope. It may instead return a
``TargetSite`` to give the site's location (for the GPS-distance flag).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from backend.core.auth import Principal
from backend.core.errors import BadRequest
from backend.domains import collect

Resolver = Callable[[Principal, uuid.UUID], Awaitable[Any]]


@dataclass(frozen=True)
class TargetSite:
    org_unit_id: uuid.UUID
    lat: float | None = None
    lon: float | None = None


# Registered at run time (tests register their own kinds here).
_extra: dict[str, Resolver] = {}


@cache
def _from_domains() -> dict[str, Resolver]:
    found: dict[str, Resolver] = {}
    for mapping in collect("evidence_targets"):
        found.update(mapping)
    return found


def register(kind: str, resolver: Resolver) -> None:
    _extra[kind] = resolver


def unregister(kind: str) -> None:
    _extra.pop(kind, None)


def kinds() -> list[str]:
    return sorted({*_from_domains(), *_extra})


async def resolve(principal: Principal, kind: str, target_id: uuid.UUID) -> TargetSite:
    resolver = _extra.get(kind) or _from_domains().get(kind)
    if resolver is None:
        known = ", ".join(kinds()) or "none yet"
        raise BadRequest(
            f"evidence cannot be attached to a {kind!r} (known: {known})",
            code="evidence.unknown_target",
        )
    result = await resolver(principal, target_id)
    if isinstance(result, TargetSite):
        return result
    return TargetSite(org_unit_id=uuid.UUID(str(result)))
