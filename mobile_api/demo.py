"""Demo data for the app: every demo officer (officer1…officer6) holds an open case.

Each gets a simplified on-site penalty (a warning, served on the spot, so the case is
open until it is executed) with a partner from the same team, through the cases
service. Idempotent: an officer who already holds an open case gets nothing new.
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


async def seed(ctx: DemoContext) -> None:
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
