"""API bodies of the inspections domain."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from backend.core.schemas import Input, Output

# The standard result categories of the SAMR random-inspection rules.
RESULT_CATEGORIES = (
    "未发现问题",
    "未按规定公示应当公示的信息",
    "公示信息隐瞒真实情况弄虚作假",
    "通过登记的住所(经营场所)无法联系",
    "发现问题已责令改正",
    "不配合检查情节严重",
    "未发现开展本次抽查涉及的经营活动",
    "发现问题待后续处理",
)
# Categories that mean nothing needs following up; every other one opens a lead.
NO_PROBLEM_CATEGORIES = frozenset({"未发现问题", "未发现开展本次抽查涉及的经营活动"})
RISK_CLASSES = ("A", "B", "C", "D")
STRATA = ("A", "B", "C", "D", "flagged")
DEFAULT_RATIOS = {"A": 0.03, "B": 0.05, "C": 0.10, "D": 0.30, "flagged": 1.0}

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Ratio = Annotated[float, msgspec.Meta(ge=0, le=1)]
Stratum = Literal["A", "B", "C", "D", "flagged"]
RiskClass = Literal["A", "B", "C", "D"]
Method = Literal["on_site", "documents", "online"]
PlanStatus = Literal["draft", "published", "drawn", "in_progress", "completed", "results_published"]


# ---------------------------------------------------------------------------
# Item list


class ItemIn(Input):
    code: Code
    name: Name
    department: Name
    domain: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    method: Method
    legal_basis: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    subject_types: list[Annotated[str, msgspec.Meta(max_length=60)]] = msgspec.field(
        default_factory=list
    )
    ratios: dict[Stratum, Ratio] = msgspec.field(default_factory=dict)
    frequency: Annotated[str, msgspec.Meta(max_length=100)] = ""
    result_categories: list[str] = msgspec.field(default_factory=lambda: list(RESULT_CATEGORIES))


class ItemPatch(Input):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    department: Name | msgspec.UnsetType = msgspec.UNSET
    domain: Annotated[str, msgspec.Meta(min_length=1, max_length=60)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    method: Method | msgspec.UnsetType = msgspec.UNSET
    legal_basis: Annotated[str, msgspec.Meta(max_length=4000)] | msgspec.UnsetType = msgspec.UNSET
    subject_types: list[str] | msgspec.UnsetType = msgspec.UNSET
    ratios: dict[Stratum, Ratio] | msgspec.UnsetType = msgspec.UNSET
    frequency: Annotated[str, msgspec.Meta(max_length=100)] | msgspec.UnsetType = msgspec.UNSET
    result_categories: list[str] | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


class ItemOut(Output):
    id: uuid.UUID
    code: str
    name: str
    department: str
    domain: str
    method: str
    legal_basis: str
    subject_types: list[str]
    ratios: dict[str, float]
    frequency: str
    result_categories: list[str]
    active: bool


class ImportReport(Output):
    """What an import did; ``rejected`` lists every bad row, and then nothing was applied.

    ``unchanged``: rows equal to what was already stored (nothing written for them)."""

    rows: int
    inserted: int
    updated: int
    applied: bool
    rejected: list[RejectedRow] = msgspec.field(default_factory=list)
    unchanged: int = 0


class RejectedRow(Output):
    line: int
    reason: str


# ---------------------------------------------------------------------------
# Subject directory


class SubjectIn(Input):
    credit_code: Annotated[str, msgspec.Meta(min_length=18, max_length=18)]
    name: Name
    org_unit_id: uuid.UUID
    subject_type: Annotated[str, msgspec.Meta(max_length=60)] = ""
    industry: Annotated[str, msgspec.Meta(max_length=100)] = ""
    address: Annotated[str, msgspec.Meta(max_length=300)] = ""
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None
    grid_code: Annotated[str, msgspec.Meta(max_length=60)] = ""
    risk_class: RiskClass = "B"
    abnormal: bool = False
    serious_violation: bool = False
    status: Literal["active", "deregistered"] = "active"


class SubjectPatch(Input):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    address: Annotated[str, msgspec.Meta(max_length=300)] | msgspec.UnsetType = msgspec.UNSET
    grid_code: Annotated[str, msgspec.Meta(max_length=60)] | msgspec.UnsetType = msgspec.UNSET
    risk_class: RiskClass | msgspec.UnsetType = msgspec.UNSET
    abnormal: bool | msgspec.UnsetType = msgspec.UNSET
    serious_violation: bool | msgspec.UnsetType = msgspec.UNSET
    status: Literal["active", "deregistered"] | msgspec.UnsetType = msgspec.UNSET


class SubjectOut(Output):
    id: uuid.UUID
    credit_code: str
    name: str
    subject_type: str
    industry: str
    address: str
    lat: float | None
    lon: float | None
    org_unit_id: uuid.UUID
    grid_code: str
    risk_class: str
    abnormal: bool
    serious_violation: bool
    status: str


# ---------------------------------------------------------------------------
# Plans and draws


class PlanIn(Input):
    code: Code
    name: Name
    org_unit_id: uuid.UUID
    item_codes: Annotated[list[Code], msgspec.Meta(min_length=1)]
    planned_start: dt.date
    planned_end: dt.date
    scope_org_unit_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    scope_grid_codes: list[str] = msgspec.field(default_factory=list)
    scope_industries: list[str] = msgspec.field(default_factory=list)
    scope_subject_types: list[str] = msgspec.field(default_factory=list)
    scope_risk_classes: list[Stratum] = msgspec.field(default_factory=list)
    ratios: dict[Stratum, Ratio] = msgspec.field(default_factory=dict)
    counts: dict[Stratum, Annotated[int, msgspec.Meta(ge=0)]] = msgspec.field(default_factory=dict)
    exclusion_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 365
    team_size: Annotated[int, msgspec.Meta(ge=2, le=20)] = 2
    workload_cap: Annotated[int, msgspec.Meta(ge=1)] = 20
    inspector_team_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    inspector_org_unit_ids: list[uuid.UUID] = msgspec.field(default_factory=list)


class PlanPatch(Input):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    item_codes: Annotated[list[Code], msgspec.Meta(min_length=1)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    planned_start: dt.date | msgspec.UnsetType = msgspec.UNSET
    planned_end: dt.date | msgspec.UnsetType = msgspec.UNSET
    scope_org_unit_ids: list[uuid.UUID] | msgspec.UnsetType = msgspec.UNSET
    scope_grid_codes: list[str] | msgspec.UnsetType = msgspec.UNSET
    scope_industries: list[str] | msgspec.UnsetType = msgspec.UNSET
    scope_subject_types: list[str] | msgspec.UnsetType = msgspec.UNSET
    scope_risk_classes: list[Stratum] | msgspec.UnsetType = msgspec.UNSET
    ratios: dict[Stratum, Ratio] | msgspec.UnsetType = msgspec.UNSET
    counts: dict[Stratum, Annotated[int, msgspec.Meta(ge=0)]] | msgspec.UnsetType = msgspec.UNSET
    exclusion_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] | msgspec.UnsetType = msgspec.UNSET
    team_size: Annotated[int, msgspec.Meta(ge=2, le=20)] | msgspec.UnsetType = msgspec.UNSET
    workload_cap: Annotated[int, msgspec.Meta(ge=1)] | msgspec.UnsetType = msgspec.UNSET
    inspector_team_ids: list[uuid.UUID] | msgspec.UnsetType = msgspec.UNSET
    inspector_org_unit_ids: list[uuid.UUID] | msgspec.UnsetType = msgspec.UNSET


class PlanOut(Output):
    id: uuid.UUID
    code: str
    name: str
    org_unit_id: uuid.UUID
    item_codes: list[str]
    planned_start: dt.date
    planned_end: dt.date
    scope_org_unit_ids: list[str]
    scope_grid_codes: list[str]
    scope_industries: list[str]
    scope_subject_types: list[str]
    scope_risk_classes: list[str]
    ratios: dict[str, float]
    counts: dict[str, int]
    exclusion_days: int
    team_size: int
    workload_cap: int
    inspector_team_ids: list[str]
    inspector_org_unit_ids: list[str]
    status: str
    commitment: str
    published_at: dt.datetime | None
    draw_id: uuid.UUID | None = None


class PublicPlanOut(Output):
    plan_id: uuid.UUID
    code: str
    name: str
    item_codes: list[str]
    planned_start: dt.date
    planned_end: dt.date
    status: str
    algorithm: str
    commitment: str
    published_at: dt.datetime | None
    draw_id: uuid.UUID | None


class DrawIn(Input):
    # Public entropy typed in by witnesses (e.g. a lottery result); empty if none.
    entropy: Annotated[str, msgspec.Meta(max_length=500)] = ""


class DrawOut(Output):
    draw_id: uuid.UUID
    plan_id: uuid.UUID
    drawn_at: dt.datetime
    pool_size: int
    selected: int
    tasks: int
    record_sha256: str


class ReplacementIn(Input):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    officer_id: uuid.UUID | None = None


class ReplacementOut(Output):
    id: uuid.UUID
    draw_id: uuid.UUID
    kind: str
    task_id: uuid.UUID
    replaced: str
    replacement: str
    reason: str
    created_at: dt.datetime


# ---------------------------------------------------------------------------
# Tasks and results


class TaskInspectorOut(Output):
    officer_id: uuid.UUID
    name: str
    position: int


class ResultOut(Output):
    item_code: str
    category: str | None
    note: str
    recorded_at: dt.datetime | None


class TaskOut(Output):
    id: uuid.UUID
    plan_id: uuid.UUID
    draw_id: uuid.UUID
    subject_id: uuid.UUID
    subject_code: str
    subject_name: str
    org_unit_id: uuid.UUID
    stratum: str
    status: str
    due_date: dt.date
    checked_in_at: dt.datetime | None
    inspection_date: dt.date | None
    completed_at: dt.datetime | None
    publication_due: dt.date | None
    published_on: dt.date | None
    version: int
    updated_at: dt.datetime
    inspectors: list[TaskInspectorOut] = msgspec.field(default_factory=list)
    results: list[ResultOut] = msgspec.field(default_factory=list)


class CheckInIn(Input):
    version: int
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None


class ResultIn(Input):
    item_code: Code
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    note: Annotated[str, msgspec.Meta(max_length=4000)] = ""


class ResultsIn(Input):
    version: int
    results: Annotated[list[ResultIn], msgspec.Meta(min_length=1)]


class CompleteIn(Input):
    version: int
    inspection_date: dt.date | None = None


class PublicResultOut(Output):
    task_id: uuid.UUID
    plan_code: str
    subject_code: str
    subject_name: str
    item_code: str
    item_name: str
    category: str
    inspection_date: dt.date
    published_on: dt.date
    inspectors: list[PublicInspectorOut]


class PublicInspectorOut(Output):
    name: str
    certificate_numbers: list[str]
