"""Case and lead numbers: sequential per org unit, year and series, e.g. ``XQ-2026-AJ-0007``.

The series is ``AJ`` for the general procedure (立案), ``JY`` for the simplified one
(当场处罚) and ``XS`` for leads (线索). The counter row is incremented by one upsert inside
the write transaction that creates the case or lead: on PostgreSQL the row lock serialises
concurrent creations in one unit until commit, on SQLite the write transaction does; a
creation that fails rolls its number back, so numbers have neither gaps nor repeats.
"""

from __future__ import annotations

import datetime as dt
import uuid

from backend.cases.tables import CaseNumberCounter
from backend.core.db import current_engine
from backend.core.errors import NotFound
from backend.orgs.tables import OrgUnit

GENERAL = "AJ"
SIMPLIFIED = "JY"
LEAD = "XS"

_UPSERT = (
    'INSERT INTO case_number_counter (id, "key", org_unit, "year", series, "last") '
    "VALUES ({}, {}, {}, {}, {}, 1) "
    'ON CONFLICT ("key") DO UPDATE SET "last" = case_number_counter."last" + 1 '
    'RETURNING "last"'
)


def format_number(unit_code: str, year: int, series: str, seq: int) -> str:
    return f"{unit_code}-{year}-{series}-{seq:04d}"


async def next_number(*, org_unit_id: uuid.UUID, day: dt.date, series: str) -> str:
    """The next number of the unit's series in ``day``'s year; must run inside ``write_tx()``."""
    if current_engine().current_transaction.get() is None:
        raise RuntimeError("next_number must run inside write_tx()")
    unit = await OrgUnit.select(OrgUnit.code).where(OrgUnit.id == org_unit_id).first().run()
    if unit is None:
        raise NotFound("org unit not found", code="org_unit.not_found")
    key = f"{org_unit_id}:{day.year}:{series}"
    rows = await CaseNumberCounter.raw(
        _UPSERT, uuid.uuid4(), key, org_unit_id, day.year, series
    ).run()
    return format_number(unit["code"], day.year, series, int(rows[0]["last"]))
