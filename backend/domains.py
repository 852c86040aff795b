"""The registry of domains: each folder plugs its parts into the app, CLI, scheduler and demo.

A domain package ``backend.<name>`` (or ``mobile_api``) has a light ``domain.py`` that
defines ``DOMAIN = Domain(...)``. Its fields are ``"module:attribute"`` strings so that
reading the registry (``piccolo_conf`` does, at import) imports nothing heavy.

Hooks, all optional:

- ``piccolo_app``: the Piccolo app module (``"backend.x.piccolo_app"``).
- ``controllers``: a list (or a zero-argument function returning one) of Litestar
  controllers/handlers mounted under ``/api/v1``; the same for ``public`` and ``routers``.
- ``public``: handlers mounted under ``/public`` (no login).
- ``routers``: routers mounted at the root (the mobile API's ``/mobile/v1``).
- ``cli``: ``register(subparsers)`` adding ``fieldcase`` subcommands.
- ``jobs``: ``jobs() -> list[scheduler.runner.Job]``.
- ``demo``: ``async seed(ctx: backend.demo.DemoContext) -> None``, run in list order.
- ``evidence_targets``: a dict ``{target_kind: resolver}`` naming what evidence can be
  attached to (``"task"``, ``"case"``...). ``async resolver(principal, target_id) ->
  org_unit_id`` returns the org unit that owns the target, and raises
  ``backend.core.errors.NotFound`` when the target is missing or outside the principal's
  scope. It may instead return ``backend.evidence.targets.TargetSite(org_unit_id, lat,
  lon)`` so that photos taken > 500 m from the site are flagged. The evidence domain
  stores ``(target_kind, target_id)`` without a foreign key and asks the resolver when an
  upload session opens; ``backend.evidence.service.evidence_files`` / ``open_original``
  give other domains the items with hashes, custody and bytes; ``export_originals``
  releases many originals for one export with their custody events in one transaction.
- ``deadlines``: an async generator function
  ``provide(*, horizon: datetime, watched: Sequence[str]) -> AsyncIterator[DeadlineItem]``
  telling the escalation sweep which of the domain's targets are due (and which watched
  ones got resolved). The contract, with ``DeadlineItem`` and the seeded rule kinds, is in
  ``backend/core/deadlines.py``; ``deadline_providers()`` lists them by domain name.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any

# Order matters: demo seeding and migrations follow it (a domain comes after what it needs).
DOMAIN_MODULES: list[str] = [
    "backend.audit",
    "backend.orgs",
    "backend.calendar",
    "backend.matters",
    "backend.cases",
    "backend.inspections",
    "backend.onsite",
    "backend.escalations",
    "backend.evidence",
    "mobile_api",
]


@dataclass(frozen=True)
class Domain:
    name: str
    piccolo_app: str | None = None
    controllers: str | None = None
    public: str | None = None
    routers: str | None = None
    cli: str | None = None
    jobs: str | None = None
    demo: str | None = None
    evidence_targets: str | None = None
    deadlines: str | None = None


def resolve(ref: str) -> Any:
    """Import ``"module:attribute"``."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@cache
def domains() -> tuple[Domain, ...]:
    found = []
    for module in DOMAIN_MODULES:
        domain = importlib.import_module(f"{module}.domain").DOMAIN
        if not isinstance(domain, Domain):
            raise TypeError(f"{module}.domain.DOMAIN is not a Domain")
        found.append(domain)
    return tuple(found)


def piccolo_apps() -> list[str]:
    return [d.piccolo_app for d in domains() if d.piccolo_app]


def collect(hook: str) -> list[Any]:
    """Every domain's value for ``hook`` (lists are concatenated), in registry order."""
    out: list[Any] = []
    for domain in domains():
        ref = getattr(domain, hook)
        if ref is None:
            continue
        value = resolve(ref)
        if callable(value) and hook in ("controllers", "public", "routers"):
            value = value()
        if isinstance(value, list | tuple):
            out.extend(value)
        else:
            out.append(value)
    return out


def deadline_providers() -> dict[str, Any]:
    """Each domain's deadline provider (``backend.core.deadlines``), keyed by domain name."""
    return {d.name: resolve(d.deadlines) for d in domains() if d.deadlines}
