"""Request and response bodies of /mobile/v1 (msgspec Structs; unknown fields are refused)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from backend.core.schemas import Input, Output

ShortText = Annotated[str, msgspec.Meta(max_length=100)]
IdemKey = Annotated[str, msgspec.Meta(min_length=8, max_length=200, pattern=r"^[A-Za-z0-9._:-]+$")]


# ---------------------------------------------------------------------------
# Device login


class DeviceLoginIn(Input):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    device_id: Annotated[
        str, msgspec.Meta(min_length=4, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")
    ]
    platform: ShortText = ""
    app_version: ShortText = ""


class DeviceRefreshIn(Input):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    device_id: Annotated[str, msgspec.Meta(min_length=4, max_length=100)]


class CertificateStatus(Output):
    number: str
    domains: list[str]
    valid_from: dt.date
    valid_to: dt.date
    days_left: int
    # "valid" | "expiring" (within the warning window) | "expired" | "not_yet_valid"
    status: str
    warning: str | None = None


class TeamBrief(Output):
    id: uuid.UUID
    code: str
    name: str
    org_unit_id: uuid.UUID
    domains: list[str]
    role: str


class OfficerBrief(Output):
    id: uuid.UUID
    name: str
    badge_no: str
    org_unit_id: uuid.UUID
    status: str


class MobileMeOut(Output):
    user_id: uuid.UUID
    username: str
    display_name: str
    roles: list[str]
    org_unit_id: uuid.UUID
    device_id: str | None
    officer: OfficerBrief | None
    teams: list[TeamBrief]
    certificates: list[CertificateStatus]
    # What the app may offer: mobile operation names this user may send.
    permissions: list[str]
    warnings: list[str]
    server_time: dt.datetime


# ---------------------------------------------------------------------------
# Offline queue


class SyncOperationIn(Input):
    idempotency_key: IdemKey
    op: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    target: uuid.UUID | None = None
    body: dict[str, Any] = msgspec.field(default_factory=dict)
    # Idempotency keys of earlier operations (this batch or before) this one needs.
    depends_on: list[IdemKey] = msgspec.field(default_factory=list)
    # When the officer did it, by the device's clock.
    device_time: dt.datetime | None = None


class SyncIn(Input):
    operations: Annotated[list[SyncOperationIn], msgspec.Meta(min_length=1)]
    # The device's clock when the batch was sent (the X-Device-Time header is the same).
    device_time: dt.datetime | None = None


Outcome = Literal["applied", "replayed", "failed", "dependency_failed", "rejected"]


class SyncResult(Output):
    idempotency_key: str
    op: str
    # "applied": done now; "replayed": done before, this is the stored response;
    # "failed": refused by the domain (stored; replays give the same); "rejected": not
    # valid, nothing stored; "dependency_failed": not tried because a dependency failed.
    outcome: Outcome
    status: int
    body: Any
    server_time: dt.datetime | None = None
    clock_skew_flagged: bool = False


class SyncOut(Output):
    results: list[SyncResult]
    server_time: dt.datetime
    clock_skew_seconds: int | None
    clock_skew_flagged: bool
    applied: int
    replayed: int
    failed: int


# ---------------------------------------------------------------------------
# Work list


class Location(Output):
    lat: float
    lon: float


class InspectorBrief(Output):
    officer_id: uuid.UUID
    name: str


class ItemResult(Output):
    item_code: str
    item_name: str
    category: str | None
    note: str


class TaskWork(Output, tag="task", tag_field="kind"):
    """An inspection task (抽查任务) for the phone."""

    id: uuid.UUID
    status: str
    version: int
    due_date: dt.date
    subject_id: uuid.UUID
    subject_code: str
    subject_name: str
    address: str
    location: Location | None
    org_unit_id: uuid.UUID
    plan_id: uuid.UUID
    # The items to check, each with its result so far.
    items: list[ItemResult]
    inspectors: list[InspectorBrief]
    checked_in_at: dt.datetime | None
    completed_at: dt.datetime | None
    updated_at: dt.datetime
    # What the officer may do next with it.
    next_actions: list[str]


class CaseDeadline(Output):
    name: str
    # A day for working-day deadlines, or a moment for hour-based ones (police hand-over).
    # Two fields: msgspec (and so OpenAPI) cannot type a union of two date-like types.
    due_date: dt.date | None = None
    due_at: dt.datetime | None = None


class CaseWork(Output, tag="case", tag_field="kind"):
    """A case (案件) for the phone."""

    id: uuid.UUID
    number: str
    title: str
    status: str
    procedure: str
    version: int
    org_unit_id: uuid.UUID
    subject_name: str
    address: str
    location: Location | None
    deadlines: list[CaseDeadline]
    next_actions: list[str]
    updated_at: dt.datetime | None


WorkItem = TaskWork | CaseWork


class WorkPage(Output):
    items: list[WorkItem]
    # Ids to drop from the phone: reassigned, transferred away or no longer visible.
    removed: list[uuid.UUID]
    # Send it back as ``since``; it only moves forward.
    cursor: str
    has_more: bool
