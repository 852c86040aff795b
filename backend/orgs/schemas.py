from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from backend.core.schemas import Input, Output

OrgKind = Literal["county", "township", "zone", "village"]
OfficerStatus = Literal["on_duty", "on_leave"]
Role = Literal[
    "officer", "squad_leader", "head", "supervisor", "legal_reviewer", "admin", "auditor"
]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Domain = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]


class OrgUnitIn(Input):
    code: Code
    name: Name
    kind: OrgKind
    parent_id: uuid.UUID | None = None


class OrgUnitPatch(Input):
    name: Name | msgspec.UnsetType = msgspec.UNSET


class OrgUnitOut(Output):
    id: uuid.UUID
    code: str
    name: str
    kind: str
    parent_id: uuid.UUID | None
    path: str


class GridIn(Input):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")]
    name: Name
    level: Annotated[int, msgspec.Meta(ge=1, le=3)]
    org_unit_id: uuid.UUID
    parent_id: uuid.UUID | None = None


class GridOut(Output):
    id: uuid.UUID
    code: str
    name: str
    level: int
    parent_id: uuid.UUID | None
    org_unit_id: uuid.UUID


class TeamIn(Input):
    code: Code
    name: Name
    org_unit_id: uuid.UUID
    domains: list[Domain] = msgspec.field(default_factory=list)
    grid_codes: list[str] = msgspec.field(default_factory=list)


class TeamPatch(Input):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    domains: list[Domain] | msgspec.UnsetType = msgspec.UNSET
    grid_codes: list[str] | msgspec.UnsetType = msgspec.UNSET


class TeamMemberIn(Input):
    officer_id: uuid.UUID
    role: Literal["member", "leader"] = "member"


class TeamMembersIn(Input):
    members: list[TeamMemberIn]


class TeamMemberOut(Output):
    officer_id: uuid.UUID
    name: str
    role: str


class TeamOut(Output):
    id: uuid.UUID
    code: str
    name: str
    org_unit_id: uuid.UUID
    domains: list[str]
    grid_codes: list[str]
    members: list[TeamMemberOut] = msgspec.field(default_factory=list)


class OfficerIn(Input):
    name: Name
    badge_no: Code
    org_unit_id: uuid.UUID
    status: OfficerStatus = "on_duty"
    phone: Annotated[str, msgspec.Meta(max_length=40)] = ""


class OfficerPatch(Input):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    status: OfficerStatus | msgspec.UnsetType = msgspec.UNSET
    phone: Annotated[str, msgspec.Meta(max_length=40)] | msgspec.UnsetType = msgspec.UNSET


class CertificateIn(Input):
    number: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    domains: Annotated[list[Domain], msgspec.Meta(min_length=1)]
    valid_from: dt.date
    valid_to: dt.date


class CertificateOut(Output):
    id: uuid.UUID
    officer_id: uuid.UUID
    number: str
    domains: list[str]
    valid_from: dt.date
    valid_to: dt.date


class OfficerOut(Output):
    id: uuid.UUID
    name: str
    badge_no: str
    org_unit_id: uuid.UUID
    status: str
    teams: list[uuid.UUID] = msgspec.field(default_factory=list)
    certificates: list[CertificateOut] = msgspec.field(default_factory=list)


class UserIn(Input):
    username: Annotated[
        str, msgspec.Meta(min_length=2, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    ]
    password: Annotated[str, msgspec.Meta(min_length=8, max_length=200)]
    roles: Annotated[list[Role], msgspec.Meta(min_length=1)]
    org_unit_id: uuid.UUID
    display_name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    officer_id: uuid.UUID | None = None


class UserPatch(Input):
    roles: Annotated[list[Role], msgspec.Meta(min_length=1)] | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    display_name: Annotated[str, msgspec.Meta(max_length=100)] | msgspec.UnsetType = msgspec.UNSET
    password: Annotated[str, msgspec.Meta(min_length=8, max_length=200)] | msgspec.UnsetType = (
        msgspec.UNSET
    )


class UserOut(Output):
    id: uuid.UUID
    username: str
    display_name: str
    roles: list[str]
    org_unit_id: uuid.UUID
    officer_id: uuid.UUID | None
    active: bool


class ConflictIn(Input):
    officer_id: uuid.UUID
    subject_code: Annotated[str, msgspec.Meta(min_length=18, max_length=18)]
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


class ConflictOut(Output):
    id: uuid.UUID
    officer_id: uuid.UUID
    subject_code: str
    reason: str
    recorded_at: dt.datetime


class DeviceOut(Output):
    id: uuid.UUID
    user_id: uuid.UUID
    device_id: str
    platform: str
    app_version: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    revoked_at: dt.datetime | None


class LoginIn(Input):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class RefreshIn(Input):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class TokenOut(Output):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class MeOut(Output):
    user_id: uuid.UUID
    username: str
    display_name: str
    roles: list[str]
    org_unit_id: uuid.UUID
    officer_id: uuid.UUID | None
