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


class LeadClockStopIn(Input):
    """Testing or appraisal (检测、检验、鉴定) starts: the decision clock stops."""

    reason: Literal["testing", "appraisal"]
    note: Text = ""
    version: int | None = None


class LeadClockResumeIn(Input):
    note: Text = ""
    version: int | None = None


class RuleOut(Output):
    key: str
    value: int | list[str]
    default: int | list[str]


class RuleIn(Input):
    value: int | list[str]


SubjectKind = Literal["individual", "organisation"]
PenaltyKind = Literal[
    "fine", "warning", "confiscation", "permit_revocation", "suspension", "practice_ban"
]
CaseFlag = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Amount = Annotated[int, msgspec.Meta(ge=0)]
StopReason = Literal["testing", "appraisal", "hearing", "public_notice", "suspension"]


class CaseFileIn(Input):
    """立案: open a case, from a lead or directly (a patrol finding on site)."""

    matter_id: uuid.UUID
    lead_id: uuid.UUID | None = None
    org_unit_id: uuid.UUID | None = None
    area_org_unit_id: uuid.UUID | None = None
    grid_id: uuid.UUID | None = None
    subject_code: Annotated[str, msgspec.Meta(max_length=18)] = ""
    subject_name: ShortText = ""
    subject_kind: SubjectKind = "organisation"
    location: Text = ""
    description: Text = ""
    flags: list[CaseFlag] = msgspec.field(default_factory=list)
    violation_on: dt.date | None = None
    violation_ended_on: dt.date | None = None
    note: Text = ""


class OnSiteDecisionIn(Input):
    """当场处罚: the simplified procedure, decided (and usually served) on the spot."""

    matter_id: uuid.UUID
    org_unit_id: uuid.UUID
    officer_ids: list[uuid.UUID]
    penalty_kind: Literal["fine", "warning"]
    fine_amount: Amount | None = None
    subject_kind: SubjectKind = "individual"
    subject_code: Annotated[str, msgspec.Meta(max_length=18)] = ""
    subject_name: ShortText = ""
    location: Text = ""
    description: Text = ""
    facts: Text = ""
    grid_id: uuid.UUID | None = None
    served_on_spot: bool = True


class TransitionIn(Input):
    version: int | None = None
    note: Text = ""


class PenaltyIn(Input):
    penalty_kind: PenaltyKind
    fine_amount: Amount | None = None
    confiscation_value: Amount | None = None
    facts: Text = ""
    version: int | None = None


class HearingScheduleIn(Input):
    notice_on: dt.date
    hearing_on: dt.date
    version: int | None = None


class HearingWaiverIn(Input):
    """The party declines the hearing (放弃听证) within its request window, in writing."""

    # What the party stated, and how it reached the unit (signed statement, record...).
    statement: Reason
    version: int | None = None


class HearingRecordIn(Input):
    held_on: dt.date
    chair_name: ShortText
    chair_officer_id: uuid.UUID | None = None
    summary: Text = ""
    version: int | None = None


class ActionIn(Input):
    kind: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    at: dt.datetime
    officer_ids: list[uuid.UUID]
    evidence_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    note: Text = ""


class ActionEvidenceIn(Input):
    evidence_ids: list[uuid.UUID]


class ActionOut(Output):
    id: uuid.UUID
    kind: str
    at: dt.datetime
    officer_ids: list[str]
    evidence_ids: list[str]
    note: str


class ClockStopIn(Input):
    reason: StopReason
    started_on: dt.date
    note: Text = ""


class ClockStopEndIn(Input):
    ended_on: dt.date


class ClockStopOut(Output):
    id: uuid.UUID
    reason: str
    started_on: dt.date
    ended_on: dt.date | None
    note: str


class ExtensionIn(Input):
    days: Annotated[int, msgspec.Meta(ge=1, le=365)]
    reason: Reason
    # Any extension after the first needs the record of a collective decision (集体讨论).
    collective_decision_ref: ShortText = ""
    version: int | None = None


class TeamAssignIn(Input):
    team_id: uuid.UUID
    officer_ids: list[uuid.UUID]
    reason: Text = ""
    version: int | None = None


class ProposedOfficer(Output):
    officer_id: uuid.UUID
    name: str
    open_cases: int


class TeamProposalOut(Output):
    team_id: uuid.UUID | None
    team_code: str
    reasons: list[str]
    officers: list[ProposedOfficer]


class CaseOfficerOut(Output):
    officer_id: uuid.UUID
    name: str
    role: str


class DeadlineOut(Output):
    kind: str
    due_on: dt.date
    provisional: bool
    basis: list[str]
    met_on: dt.date | None = None
    paused: bool = False
    warning: str = ""


class UnmetOut(Output):
    check: str
    detail: str


class NextActionOut(Output):
    action: str
    target: str
    allowed: bool
    role_ok: bool
    unmet: list[UnmetOut]
    # Where to post it: ``/api/v1/cases/{id}/transitions/{action}`` or the step's own path
    # (the hearing waiver, a legal review request or its return, a transfer).
    path: str = ""


class CaseOut(Output):
    id: uuid.UUID
    number: str
    lead_id: uuid.UUID | None
    matter_id: uuid.UUID
    matter_code: str
    org_unit_id: uuid.UUID
    area_org_unit_id: uuid.UUID
    grid_id: uuid.UUID | None
    team_id: uuid.UUID | None
    procedure: str
    status: str
    suspended_from: str
    subject_code: str
    subject_name: str
    subject_kind: str
    location: str
    description: str
    flags: list[str]
    violation_on: dt.date | None
    violation_ended_on: dt.date | None
    filed_on: dt.date
    penalty_kind: str
    fine_amount: int | None
    confiscation_value: int | None
    facts: str
    prior_notice_on: dt.date | None
    hearing_requested: bool
    hearing_waived_on: dt.date | None
    hearing_notice_on: dt.date | None
    hearing_on: dt.date | None
    hearing_held_on: dt.date | None
    decided_on: dt.date | None
    served_on: dt.date | None
    published_on: dt.date | None
    executed_on: dt.date | None
    closed_on: dt.date | None
    archived_on: dt.date | None
    extension_days: int
    extensions: int
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    officers: list[CaseOfficerOut] = msgspec.field(default_factory=list)
    read_only: bool = False
