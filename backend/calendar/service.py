"""Working-day calendar: Chinese public holidays and make-up working days (调休).

Sources, in order: overrides imported by the bureau (``CalendarDay``), then the
``chinese-calendar`` package, then plain weekends. A date in a year that
neither the package nor an import covers is *provisional*: deadlines that
cross it say so, and become final once the year's schedule is imported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from dataclasses import dataclass, field

import chinese_calendar

from backend.audit import service as audit
from backend.calendar.tables import CalendarDay, CalendarYear
from backend.core import clock
from backend.core.auth import Principal
from backend.core.db import write_tx
from backend.core.errors import BadRequest


def _package_years() -> tuple[int, int]:
    probe = dt.date.today().year
    lo = hi = None
    for year in range(2000, probe + 5):
        try:
            chinese_calendar.is_workday(dt.date(year, 6, 1))
        except NotImplementedError:
            continue
        lo = year if lo is None else lo
        hi = year
    return (lo or 0, hi or 0)


PACKAGE_YEARS = _package_years()


@dataclass(frozen=True)
class WorkCalendar:
    """A snapshot of the calendar data; pure functions from here on."""

    overrides: dict[dt.date, bool] = field(default_factory=dict)
    imported_years: frozenset[int] = frozenset()

    def is_final(self, day: dt.date) -> bool:
        return PACKAGE_YEARS[0] <= day.year <= PACKAGE_YEARS[1] or day.year in self.imported_years

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        if PACKAGE_YEARS[0] <= day.year <= PACKAGE_YEARS[1]:
            return bool(chinese_calendar.is_workday(day))
        return day.weekday() < 5

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """The ``days``-th working day after ``start`` (``start`` itself not counted)."""
        if days < 0:
            raise ValueError("days must not be negative")
        current = start
        counted = 0
        while counted < days:
            current += dt.timedelta(days=1)
            if self.is_working_day(current):
                counted += 1
        return current

    def subtract_working_days(self, end: dt.date, days: int) -> dt.date:
        """The working day ``days`` working days before ``end``."""
        current = end
        counted = 0
        while counted < days:
            current -= dt.timedelta(days=1)
            if self.is_working_day(current):
                counted += 1
        return current

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]."""
        if end <= start:
            return 0
        count = 0
        current = start
        while current < end:
            current += dt.timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count

    def span_is_final(self, start: dt.date, end: dt.date) -> bool:
        return all(self.is_final(dt.date(y, 1, 1)) for y in range(start.year, end.year + 1))


@dataclass(frozen=True)
class Due:
    """A computed deadline and how it was computed."""

    date: dt.date
    provisional: bool
    basis: str


def due_in_working_days(cal: WorkCalendar, start: dt.date, days: int, *, rule: str) -> Due:
    end = cal.add_working_days(start, days)
    return Due(
        date=end,
        provisional=not cal.span_is_final(start, end),
        basis=f"{rule}: {days} working days after {start.isoformat()}",
    )


def due_in_days(cal: WorkCalendar, start: dt.date, days: int, *, rule: str) -> Due:
    """Calendar days; a deadline that falls on a rest day moves to the next working day."""
    end = start + dt.timedelta(days=days)
    moved = end
    while not cal.is_working_day(moved):
        moved += dt.timedelta(days=1)
    note = f"{rule}: {days} days after {start.isoformat()}"
    if moved != end:
        note += f", moved from rest day {end.isoformat()} to the next working day"
    return Due(date=moved, provisional=not cal.span_is_final(start, moved), basis=note)


_CACHE_TTL_S = 30.0
_cached: tuple[float, WorkCalendar] | None = None


def forget_cache() -> None:
    global _cached
    _cached = None


async def load_calendar() -> WorkCalendar:
    global _cached
    if _cached and _cached[0] > time.monotonic():
        return _cached[1]
    days = await CalendarDay.select(CalendarDay.date, CalendarDay.working).run()
    years = await CalendarYear.select(CalendarYear.year).run()
    cal = WorkCalendar(
        overrides={r["date"]: bool(r["working"]) for r in days},
        imported_years=frozenset(r["year"] for r in years),
    )
    _cached = (time.monotonic() + _CACHE_TTL_S, cal)
    return cal


@dataclass(frozen=True)
class OverrideRow:
    date: dt.date
    working: bool
    name: str


def parse_overrides_csv(text: str) -> list[OverrideRow]:
    """Rows ``date,working,name`` (working: 1/0, true/false, 班/休)."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"date", "working"} <= set(reader.fieldnames):
        raise BadRequest(
            "calendar CSV needs the columns date, working, name", code="calendar.bad_csv"
        )
    rows: list[OverrideRow] = []
    for line, raw in enumerate(reader, start=2):
        try:
            day = dt.date.fromisoformat((raw.get("date") or "").strip())
        except ValueError:
            raise BadRequest(
                f"line {line}: bad date {raw.get('date')!r}", code="calendar.bad_csv"
            ) from None
        flag = (raw.get("working") or "").strip().lower()
        if flag in ("1", "true", "yes", "班", "work"):
            working = True
        elif flag in ("0", "false", "no", "休", "rest", "holiday"):
            working = False
        else:
            raise BadRequest(f"line {line}: working must be 1 or 0", code="calendar.bad_csv")
        rows.append(OverrideRow(date=day, working=working, name=(raw.get("name") or "").strip()))
    return rows


async def import_overrides(
    *, principal: Principal, rows: list[OverrideRow], complete_years: list[int], source: str
) -> int:
    """Upsert day overrides; ``complete_years`` become final (their schedule is whole)."""
    now = clock.now()
    async with write_tx():
        for row in rows:
            existing = (
                await CalendarDay.select(CalendarDay._meta.primary_key)
                .where(CalendarDay.date == row.date)
                .first()
                .run()
            )
            if existing:
                await (
                    CalendarDay.update(
                        {
                            CalendarDay.working: row.working,
                            CalendarDay.name: row.name,
                            CalendarDay.source: source,
                            CalendarDay.imported_at: now,
                        }
                    )
                    .where(CalendarDay._meta.primary_key == existing["id"])
                    .run()
                )
            else:
                await CalendarDay.insert(
                    CalendarDay(
                        date=row.date,
                        working=row.working,
                        name=row.name,
                        source=source,
                        imported_at=now,
                    )
                ).run()
        for year in complete_years:
            if not await CalendarYear.exists().where(CalendarYear.year == year).run():
                await CalendarYear.insert(
                    CalendarYear(year=year, source=source, imported_at=now)
                ).run()
        await audit.record(
            stream="calendar:overrides",
            action="calendar.imported",
            actor=principal.actor,
            payload={"days": len(rows), "complete_years": complete_years, "source": source},
        )
    forget_cache()
    return len(rows)


async def coverage_warning(today: dt.date) -> str | None:
    """A warning when next year's schedule is not known yet (the daily calendar check)."""
    cal = await load_calendar()
    nxt = dt.date(today.year + 1, 1, 1)
    if today.month >= 11 and not cal.is_final(nxt):
        return (
            f"no official holiday schedule for {nxt.year}: deadlines in {nxt.year} are provisional "
            "until it is imported"
        )
    return None
