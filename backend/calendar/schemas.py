from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from backend.core.schemas import Input, Output


class OverrideIn(Input):
    date: dt.date
    working: bool
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""


class OverridesIn(Input):
    days: list[OverrideIn]
    complete_years: list[Annotated[int, msgspec.Meta(ge=2000, le=2100)]] = msgspec.field(
        default_factory=list
    )
    source: Annotated[str, msgspec.Meta(max_length=200)] = ""


class DayOut(Output):
    date: dt.date
    working: bool
    final: bool


class ImportOut(Output):
    imported: int
