"""Idempotent demo data: a realistic county for trying the system at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backend.core.auth import Principal, system_principal
from backend.demo.orgs import DEMO_USERS, DemoOrgs, has_data, seed_orgs
from storage import ObjectStore

DEFAULT_PASSWORD = "fieldcase-demo"


@dataclass
class DemoContext:
    """What each domain's demo seeder gets; ``shared`` carries ids between domains."""

    principal: Principal
    store: ObjectStore | None
    password: str
    orgs: DemoOrgs
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoResult:
    created: bool
    orgs: DemoOrgs


async def run_demo(
    *, password: str = DEFAULT_PASSWORD, store: ObjectStore | None = None
) -> DemoResult:
    """Create (or complete) the demo county. Safe to run again."""
    principal = system_principal("demo")
    existed = await has_data()
    orgs = await seed_orgs(principal, password=password)
    ctx = DemoContext(principal=principal, store=store, password=password, orgs=orgs)
    from backend.domains import collect

    for seed in collect("demo"):
        await seed(ctx)
    return DemoResult(created=not existed, orgs=orgs)


def accounts_table(password: str) -> str:
    lines = [f"{'username':<12} {'roles':<26} password"]
    for username, _, roles, _, _ in DEMO_USERS:
        lines.append(f"{username:<12} {','.join(roles):<26} {password}")
    return "\n".join(lines)
