"""Case and lead numbers: sequential per org unit, year and series, allocated safely under
concurrency."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest

from backend.cases import leads
from backend.cases import schemas as cs
from backend.cases import service as cases
from backend.cases.tables import Case, Lead
from backend.core import clock
from backend.core.auth import system_principal
from backend.core.errors import Conflict, NotFound
from backend.orgs import schemas as org_schemas
from backend.orgs import service as orgs
from tests.case_world import build_case_world
from tests.factories import login

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_case_numbers_run_per_unit_year_and_series_without_gaps_or_repeats(db):
    sysp = system_principal("test")
    # 31 December, 23:30 in China (15:30 UTC): the local year decides.
    with clock.travel_to(dt.datetime(2026, 12, 31, 23, 30, tzinfo=SHANGHAI)):
        cw = await build_case_world()
        w = cw.world

        def on_site(fine: int = 100) -> cs.OnSiteDecisionIn:
            return cs.OnSiteDecisionIn(
                matter_id=cw.vending, org_unit_id=w.town_a, officer_ids=w.officers_a[:2],
                penalty_kind="fine", fine_amount=fine, subject_name="摊主",
            )  # fmt: skip

        # Six on-site decisions of one township at the same moment: 1..6, none twice.
        decided = await asyncio.gather(*(cases.decide_on_site(principal=sysp, data=on_site())
                                         for _ in range(6)))  # fmt: skip
        assert sorted(c.number for c in decided) == [f"C-A-2026-JY-{n:04d}" for n in range(1, 7)]
        # A refused decision (the fine is over the simplified limit) uses up no number.
        with pytest.raises(Conflict):
            await cases.decide_on_site(principal=sysp, data=on_site(fine=5000))
        filed = await cases.file_case(
            principal=sysp, data=cs.CaseFileIn(matter_id=cw.vending, org_unit_id=w.town_a)
        )
        assert filed.number == "C-A-2026-AJ-0001"
        seventh = await cases.decide_on_site(principal=sysp, data=on_site())
        assert seventh.number == "C-A-2026-JY-0007"
    with clock.travel_to(dt.datetime(2027, 1, 4, 9, 0, tzinfo=SHANGHAI)):
        next_year = await cases.decide_on_site(principal=sysp, data=on_site())
        assert next_year.number == "C-A-2027-JY-0001"
    stored = await Case.select(Case.number).where(Case.org_unit == w.town_a)
    assert len({r["number"] for r in stored}) == len(stored) == 9


async def test_lead_numbers_run_per_unit_and_year_without_gaps_or_repeats(client, db):
    sysp = system_principal("test")
    with clock.travel_to(dt.datetime(2026, 12, 31, 23, 30, tzinfo=SHANGHAI)):
        cw = await build_case_world()
        w = cw.world

        async def lead(unit: uuid.UUID, grid: uuid.UUID | None = None) -> str:
            created = await leads.create_lead(
                principal=sysp, org_unit_id=unit, source="hotline", description="夜间噪音",
                grid_id=grid,
            )  # fmt: skip
            return created.number

        # Through the API: the unit's first lead of the (local) year.
        response = await client.post(
            "/api/v1/leads",
            headers=await login(client, "officer_a"),
            json={"org_unit_id": str(w.town_a), "source": "complaint", "description": "占道"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["number"] == "C-A-2026-XS-0001"
        assert await lead(w.town_a) == "C-A-2026-XS-0002"
        # A refused lead (unknown grid) uses up no number.
        with pytest.raises(NotFound):
            await lead(w.town_a, grid=uuid.uuid4())
        # Eight leads of one township at the same moment: 3..10, none twice.
        numbers = await asyncio.gather(*(lead(w.town_a) for _ in range(8)))
        assert sorted(numbers) == [f"C-A-2026-XS-{n:04d}" for n in range(3, 11)]
        # Another unit has its own sequence; the unit's cases have theirs.
        assert await lead(w.town_b) == "C-B-2026-XS-0001"
        filed = await cases.file_case(
            principal=sysp, data=cs.CaseFileIn(matter_id=cw.vending, org_unit_id=w.town_a)
        )
        assert filed.number == "C-A-2026-AJ-0001"
        # The longest unit code (40 characters) still fits (PostgreSQL enforces the length).
        long_unit = await orgs.create_org_unit(
            principal=sysp,
            data=org_schemas.OrgUnitIn(
                code="Z" * 40, name="开发区", kind="zone", parent_id=w.county
            ),
        )
        assert await lead(long_unit.id) == "Z" * 40 + "-2026-XS-0001"
    with clock.travel_to(dt.datetime(2027, 1, 4, 9, 0, tzinfo=SHANGHAI)):
        assert await lead(w.town_a) == "C-A-2027-XS-0001"
    stored = await Lead.select(Lead.number)
    assert len({r["number"] for r in stored}) == len(stored) == 13
