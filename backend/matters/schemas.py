"""API bodies of the matters catalogue and grants."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from backend.core.schemas import Input, Output

Category = Literal["penalty", "coercive_measure", "inspection"]
CATEGORIES: tuple[str, ...] = ("penalty", "coercive_measure", "inspection")
MatterCode = Annotated[
    str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.\-]+$")
]
Amount = Annotated[int, msgspec.Meta(ge=0)]
Action = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class MatterIn(Input):
    code: MatterCode
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    category: Category
    domain: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    legal_basis: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    fine_min: Amount | None = None
    fine_max: Amount | None = None
    hearing_threshold_individual: Amount | None = None
    hearing_threshold_organisation: Amount | None = None
    major: bool = False
    serious: bool = False
    recorded_actions: list[Action] = msgspec.field(default_factory=list)


class MatterPatch(Input):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    legal_basis: Annotated[str, msgspec.Meta(max_length=4000)] | msgspec.UnsetType = msgspec.UNSET
    fine_min: Amount | msgspec.UnsetType | None = msgspec.UNSET
    fine_max: Amount | msgspec.UnsetType | None = msgspec.UNSET
    hearing_threshold_individual: Amount | msgspec.UnsetType | None = msgspec.UNSET
    hearing_threshold_organisation: Amount | msgspec.UnsetType | None = msgspec.UNSET
    major: bool | msgspec.UnsetType = msgspec.UNSET
    serious: bool | msgspec.UnsetType = msgspec.UNSET
    recorded_actions: list[Action] | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


class MatterOut(Output):
    id: uuid.UUID
    code: str
    name: str
    category: str
    domain: str
    legal_basis: str
    fine_min: int | None
    fine_max: int | None
    hearing_threshold_individual: int | None
    hearing_threshold_organisation: int | None
    major: bool
    serious: bool
    recorded_actions: list[str]
    active: bool


class GrantIn(Input):
    matter_id: uuid.UUID
    org_unit_id: uuid.UUID
    effective_from: dt.date
    effective_to: dt.date | None = None
    basis: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class GrantWithdrawIn(Input):
    effective_to: dt.date
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class GrantOut(Output):
    id: uuid.UUID
    matter_id: uuid.UUID
    matter_code: str
    org_unit_id: uuid.UUID
    org_unit_code: str
    effective_from: dt.date
    effective_to: dt.date | None
    basis: str
    withdrawal_reason: str


class ImportResult(Output):
    matters_created: int = 0
    matters_updated: int = 0
    grants_created: int = 0
    grants_unchanged: int = 0
