"""Demo data for the app: every demo officer (officer1…officer6) holds an open inspection
task and an open case.

Tasks: the county's joint draw may pass an officer by (its ranking is random), so for each
township team with a demo officer left without an open task, a small plan scoped to the
township is published and drawn with the whole available team on one subject, through
the inspections services (so it is as verifiable as any draw). Cases: each officer gets
a simplified on-site penalty (a warning, served on the spot, so the case is open until it
is executed) with a partner from the same team, through the cases service. Idempotent:
an officer who already holds an open task or case gets nothing new.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from backend.cases import schemas as cs
from backend.cases import service as cases
from backend.cases.lifecycle import FINISHED_STATUSES
from backend.core import clock
from backend.core.errors import FieldcaseError
from backend.demo import DemoContext
from backend.demo.orgs import DEMO_USERS
from backend.inspections import draws, tasks
from backend.inspections import schemas as ins
from backend.inspections import service as inspections
from backend.matters import schemas as ms
from backend.matters import service as matters
from backend.orgs import service as orgs

log = logging.getLogger("fieldcase.demo.mobile")

MATTER_CODE = "M-URB-DEMO-01"


async def _demo_matter(ctx: DemoContext) -> ms.MatterOut:
    matter = await matters.matter_by_code(MATTER_CODE)
    if matter is None:
        matter = await matters.create_matter(
            principal=ctx.principal,
            data=ms.MatterIn(
                code=MATTER_CODE,
                name="经营场所未按规定公示营业执照",
                category="penalty",
                domain="market",
                legal_basis="《市场主体登记管理条例》第三十六条",
                fine_max=500,
            ),
        )
    return matter


async def _granted(ctx: DemoContext, matter: ms.MatterOut, unit_code: str) -> None:
    unit = ctx.orgs.units[unit_code]
    grants = await matters.list_grants(principal=ctx.principal, matter_id=matter.id)
    if any(g.org_unit_id == unit for g in grants):
        return
    await matters.create_grant(
        principal=ctx.principal,
        data=ms.GrantIn(matter_id=matter.id, org_unit_id=unit, effective_from=dt.date(2026, 1, 1)),
    )


TASK_ITEM = "SC-SP-001"  # the demo's market inspection item (backend/inspections/demo.py)
OPEN_TASK_STATUSES = ("assigned", "checked_in")
# The fallback plan draws one subject of risk class A and nothing else.
ONE_A_SUBJECT: dict[ins.Stratum, int] = {"A": 1, "B": 0, "C": 0, "D": 0, "flagged": 0}


async def _available(ctx: DemoContext, members: list[uuid.UUID], on: dt.date) -> list[uuid.UUID]:
    """Team members a draw can take: on duty, with a market certificate valid on ``on``."""
    valid = await orgs.valid_certificates(members, on)
    out = []
    for member in members:
        officer = await orgs.get_officer(principal=ctx.principal, officer_id=member)
        if officer.status == "on_duty" and any(
            "market" in c.domains for c in valid.get(member, [])
        ):
            out.append(member)
    return out


async def _ensure_tasks(ctx: DemoContext) -> None:
    """A township plan drawn with the whole team for each team whose demo officer has no task."""
    lacking: dict[str, list[str]] = {}
    for username, _, _, unit_code, officer_index in DEMO_USERS:
        if not username.startswith("officer") or officer_index is None:
            continue
        held = await tasks.task_markers_for_officer(
            officer_id=ctx.orgs.officers[officer_index], statuses=OPEN_TASK_STATUSES
        )
        if not held:
            lacking.setdefault(unit_code, []).append(username)
    today = clock.local_today()
    for unit_code, usernames in sorted(lacking.items()):
        code = f"JY-2026-YD-{unit_code.removeprefix('JY-')}"
        plans = await inspections.list_plans(principal=ctx.principal)
        if any(p.code == code for p in plans):
            continue
        team = await orgs.get_team(principal=ctx.principal, team_id=ctx.orgs.teams[unit_code])
        available = await _available(ctx, [m.officer_id for m in team.members], today)
        if len(available) < 2:
            log.warning("demo: too few available officers for a task of %s", usernames)
            continue
        try:
            plan = await inspections.create_plan(
                principal=ctx.principal,
                data=ins.PlanIn(
                    code=code,
                    name="移动端演示任务（本镇执法中队全员）",
                    org_unit_id=ctx.orgs.units[unit_code],
                    item_codes=[TASK_ITEM],
                    planned_start=today,
                    planned_end=today + dt.timedelta(days=30),
                    scope_org_unit_ids=[ctx.orgs.units[unit_code]],
                    counts=ONE_A_SUBJECT,
                    team_size=len(available),
                    inspector_team_ids=[ctx.orgs.teams[unit_code]],
                ),
            )
            await inspections.publish_plan(principal=ctx.principal, plan_id=plan.id)
            await draws.draw_plan(principal=ctx.principal, plan_id=plan.id, entropy="")
        except FieldcaseError as exc:
            log.warning("demo: no task for %s: %s", usernames, exc.detail)


async def seed(ctx: DemoContext) -> None:
    await _ensure_tasks(ctx)
    matter = await _demo_matter(ctx)
    for username, _, _, unit_code, officer_index in DEMO_USERS:
        if not username.startswith("officer") or officer_index is None:
            continue
        officer = ctx.orgs.officers[officer_index]
        held, _ = await cases.list_cases(principal=ctx.principal, officer_id=officer, limit=500)
        if any(c.status not in FINISHED_STATUSES for c in held):
            continue
        await _granted(ctx, matter, unit_code)
        partner = await _partner(ctx, unit_code, officer)
        if partner is None:
            log.warning("demo: no certified partner for %s; no demo case", username)
            continue
        try:
            await _decide(ctx, matter, unit_code, officer, partner)
        except FieldcaseError as exc:
            # An officer on leave or without a valid certificate: the rules refuse, rightly.
            log.warning("demo: no case for %s: %s", username, exc.detail)


async def _decide(
    ctx: DemoContext,
    matter: ms.MatterOut,
    unit_code: str,
    officer: uuid.UUID,
    partner: uuid.UUID,
) -> None:
    await cases.decide_on_site(
        principal=ctx.principal,
        data=cs.OnSiteDecisionIn(
            matter_id=matter.id,
            org_unit_id=ctx.orgs.units[unit_code],
            officer_ids=[officer, partner],
            penalty_kind="warning",
            subject_kind="individual",
            subject_name="演示当事人",
            location="演示街 1 号",
            facts="未在经营场所醒目位置悬挂营业执照，当场警告",
        ),
    )


async def _partner(ctx: DemoContext, unit_code: str, officer: uuid.UUID) -> uuid.UUID | None:
    """A team mate with an enforcement certificate for the market domain, valid today."""
    team = await orgs.get_team(principal=ctx.principal, team_id=ctx.orgs.teams[unit_code])
    mates = [m.officer_id for m in team.members if m.officer_id != officer]
    valid = await orgs.valid_certificates(mates, clock.local_today())
    for mate in mates:
        if any("market" in c.domains for c in valid.get(mate, [])):
            return mate
    return None
