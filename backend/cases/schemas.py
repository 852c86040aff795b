"""API bodies of the cases domain."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from backend.core.schemas import Input, Output

LeadSource = Literal["grid", "hotline", "complaint", "inspection", "patrol", "referral"]
LEAD_SOURCES: tuple[str, ...] = ("grid", "hotline", "complaint", "inspection", "patrol", "referral")
Text = Annotated[str, msgspec.Meta(max_length=4000)]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]


class LeadIn(Input):
    org_unit_id: uuid.UUID
    source: LeadSource
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    source_ref: Annotated[str, msgspec.Meta(max_length=100)] = ""
    grid_id: uuid.UUID | None = None
    location: Text = ""
    longitude: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None
    latitude: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    subject_code: Annotated[str, msgspec.Meta(max_length=18)] = ""
    subject_name: ShortText = ""
    matter_code: Annotated[str, msgspec.Meta(max_length=60)] = ""


class LeadOut(Output):
    id: uuid.UUID
    number: str
    source: str
    source_ref: str
    org_unit_id: uuid.UUID
    grid_id: uuid.UUID | None
    location: str
    longitude: float | None
    latitude: float | None
    subject_code: str
    subject_name: str
    matter_code: str
    description: str
    status: str
    received_at: dt.datetime
    decision_due: dt.date
    decision_due_provisional: bool
    decision_extended: bool
    decided_at: dt.datetime | None
    not_filed_reason: str
    case_id: uuid.UUID | None
    updated_at: dt.datetime
    version: int


class LeadNotFiledIn(Input):
    reason: Reason
    version: int | None = None


class LeadExtendIn(Input):
    reason: Reason
    version: int | None = None


class RuleOut(Output):
    key: str
    value: int | list[str]
    default: int | list[str]


class RuleIn(Input):
    value: int | list[str]
