from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody, QueryParameter

from backend.calendar import service
from backend.calendar.schemas import DayOut, ImportOut, OverridesIn
from backend.core.auth import Principal, require_roles
from backend.core.errors import BadRequest


class CalendarController(Controller):
    path = "/calendar"
    tags = ["calendar"]

    @get("/days", operation_id="listCalendarDays")
    async def days(
        self,
        start: Annotated[dt.date, QueryParameter(name="from")],
        end: Annotated[dt.date, QueryParameter(name="to")],
    ) -> list[DayOut]:
        """Working and rest days between two dates, and whether each is final."""
        if end < start or (end - start).days > 400:
            raise BadRequest(
                "from..to must be ordered and span at most 400 days", code="calendar.bad_range"
            )
        cal = await service.load_calendar()
        out = []
        day = start
        while day <= end:
            out.append(DayOut(date=day, working=cal.is_working_day(day), final=cal.is_final(day)))
            day += dt.timedelta(days=1)
        return out

    @post("/overrides", operation_id="importCalendarOverrides", guards=[require_roles("admin")])
    async def import_overrides(
        self, data: JSONBody[OverridesIn], request: Request[Principal, Any, Any]
    ) -> ImportOut:
        """Import the official schedule: holidays and make-up working days."""
        rows = [service.OverrideRow(date=d.date, working=d.working, name=d.name) for d in data.days]
        count = await service.import_overrides(
            principal=request.user,
            rows=rows,
            complete_years=list(data.complete_years),
            source=data.source or "api",
        )
        return ImportOut(imported=count)


CONTROLLERS = [CalendarController]
