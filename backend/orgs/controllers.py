"""Admin API for the org model, and the web login endpoints."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post, put
from litestar.params import Parameter

from backend.core.auth import Principal, require_roles
from backend.core.pagination import Page, check_page
from backend.orgs import schemas as s
from backend.orgs import service, sessions
from backend.settings import Settings

ADMIN = [require_roles("admin")]


def client_address(request: Request[Any, Any, Any]) -> str:
    client = request.client
    return client.host if client else ""


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post("/login", operation_id="login", exclude_from_auth=True, status_code=200)
    async def login(
        self, data: s.LoginIn, request: Request[Any, Any, Any], settings: Settings
    ) -> s.TokenOut:
        """Exchange a username and password for a 15-minute access token and a refresh token."""
        return await sessions.login(
            settings=settings,
            username=data.username,
            password=data.password,
            address=client_address(request),
        )

    @post("/refresh", operation_id="refresh", exclude_from_auth=True, status_code=200)
    async def refresh(self, data: s.RefreshIn, settings: Settings) -> s.TokenOut:
        """Rotate a refresh token: the old one is spent, a new pair is returned."""
        return await sessions.refresh(settings=settings, refresh_token=data.refresh_token)

    @post("/logout", operation_id="logout", status_code=204)
    async def logout(self, request: Request[Principal, Any, Any]) -> None:
        """End this session: its access and refresh tokens stop working at once."""
        await sessions.logout(principal=request.user)

    @get("/me", operation_id="me")
    async def me(self, request: Request[Principal, Any, Any]) -> s.MeOut:
        return await sessions.me(request.user)


class OrgUnitController(Controller):
    path = "/org-units"
    tags = ["orgs"]

    @get("/", operation_id="listOrgUnits")
    async def list_units(self, request: Request[Principal, Any, Any]) -> list[s.OrgUnitOut]:
        return await service.list_org_units(principal=request.user)

    @post("/", operation_id="createOrgUnit", guards=ADMIN)
    async def create(
        self, data: s.OrgUnitIn, request: Request[Principal, Any, Any]
    ) -> s.OrgUnitOut:
        return await service.create_org_unit(principal=request.user, data=data)

    @get("/{org_unit_id:uuid}", operation_id="getOrgUnit")
    async def get_one(
        self, org_unit_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> s.OrgUnitOut:
        return await service.get_org_unit(principal=request.user, org_unit_id=org_unit_id)

    @patch("/{org_unit_id:uuid}", operation_id="updateOrgUnit", guards=ADMIN)
    async def update(
        self, org_unit_id: uuid.UUID, data: s.OrgUnitPatch, request: Request[Principal, Any, Any]
    ) -> s.OrgUnitOut:
        return await service.update_org_unit(
            principal=request.user, org_unit_id=org_unit_id, data=data
        )


class GridController(Controller):
    path = "/grids"
    tags = ["orgs"]

    @get("/", operation_id="listGrids")
    async def list_grids(
        self,
        request: Request[Principal, Any, Any],
        org_unit_id: uuid.UUID | None = None,
        level: Annotated[int | None, Parameter(ge=1, le=3)] = None,
    ) -> list[s.GridOut]:
        return await service.list_grids(
            principal=request.user, org_unit_id=org_unit_id, level=level
        )

    @post("/", operation_id="createGrid", guards=ADMIN)
    async def create(self, data: s.GridIn, request: Request[Principal, Any, Any]) -> s.GridOut:
        return await service.create_grid(principal=request.user, data=data)

    @get("/{grid_id:uuid}", operation_id="getGrid")
    async def get_one(self, grid_id: uuid.UUID, request: Request[Principal, Any, Any]) -> s.GridOut:
        return await service.get_grid(principal=request.user, grid_id=grid_id)


class TeamController(Controller):
    path = "/teams"
    tags = ["orgs"]

    @get("/", operation_id="listTeams")
    async def list_teams(
        self, request: Request[Principal, Any, Any], org_unit_id: uuid.UUID | None = None
    ) -> list[s.TeamOut]:
        return await service.list_teams(principal=request.user, org_unit_id=org_unit_id)

    @post("/", operation_id="createTeam", guards=ADMIN)
    async def create(self, data: s.TeamIn, request: Request[Principal, Any, Any]) -> s.TeamOut:
        return await service.create_team(principal=request.user, data=data)

    @get("/{team_id:uuid}", operation_id="getTeam")
    async def get_one(self, team_id: uuid.UUID, request: Request[Principal, Any, Any]) -> s.TeamOut:
        return await service.get_team(principal=request.user, team_id=team_id)

    @patch("/{team_id:uuid}", operation_id="updateTeam", guards=ADMIN)
    async def update(
        self, team_id: uuid.UUID, data: s.TeamPatch, request: Request[Principal, Any, Any]
    ) -> s.TeamOut:
        return await service.update_team(principal=request.user, team_id=team_id, data=data)

    @put("/{team_id:uuid}/members", operation_id="setTeamMembers", guards=ADMIN)
    async def set_members(
        self, team_id: uuid.UUID, data: s.TeamMembersIn, request: Request[Principal, Any, Any]
    ) -> s.TeamOut:
        return await service.set_team_members(principal=request.user, team_id=team_id, data=data)


class OfficerController(Controller):
    path = "/officers"
    tags = ["orgs"]

    @get("/", operation_id="listOfficers")
    async def list_officers(
        self,
        request: Request[Principal, Any, Any],
        org_unit_id: uuid.UUID | None = None,
        team_id: uuid.UUID | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page[s.OfficerOut]:
        check_page(limit, offset)
        items, total = await service.list_officers(
            principal=request.user,
            org_unit_id=org_unit_id,
            team_id=team_id,
            limit=limit,
            offset=offset,
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @post("/", operation_id="createOfficer", guards=ADMIN)
    async def create(
        self, data: s.OfficerIn, request: Request[Principal, Any, Any]
    ) -> s.OfficerOut:
        return await service.create_officer(principal=request.user, data=data)

    @get("/{officer_id:uuid}", operation_id="getOfficer")
    async def get_one(
        self, officer_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> s.OfficerOut:
        return await service.get_officer(principal=request.user, officer_id=officer_id)

    @patch("/{officer_id:uuid}", operation_id="updateOfficer", guards=ADMIN)
    async def update(
        self, officer_id: uuid.UUID, data: s.OfficerPatch, request: Request[Principal, Any, Any]
    ) -> s.OfficerOut:
        return await service.update_officer(
            principal=request.user, officer_id=officer_id, data=data
        )

    @post("/{officer_id:uuid}/certificates", operation_id="addCertificate", guards=ADMIN)
    async def add_certificate(
        self, officer_id: uuid.UUID, data: s.CertificateIn, request: Request[Principal, Any, Any]
    ) -> s.CertificateOut:
        return await service.add_certificate(
            principal=request.user, officer_id=officer_id, data=data
        )


class UserController(Controller):
    path = "/users"
    tags = ["orgs"]
    guards = ADMIN

    @get("/", operation_id="listUsers")
    async def list_users(self, request: Request[Principal, Any, Any]) -> list[s.UserOut]:
        return await service.list_users(principal=request.user)

    @post("/", operation_id="createUser")
    async def create(self, data: s.UserIn, request: Request[Principal, Any, Any]) -> s.UserOut:
        return await service.create_user(principal=request.user, data=data)

    @get("/{user_id:uuid}", operation_id="getUser")
    async def get_one(self, user_id: uuid.UUID, request: Request[Principal, Any, Any]) -> s.UserOut:
        return await service.get_user(principal=request.user, user_id=user_id)

    @patch("/{user_id:uuid}", operation_id="updateUser")
    async def update(
        self, user_id: uuid.UUID, data: s.UserPatch, request: Request[Principal, Any, Any]
    ) -> s.UserOut:
        return await service.update_user(principal=request.user, user_id=user_id, data=data)


class ConflictController(Controller):
    path = "/conflicts"
    tags = ["orgs"]

    @get(
        "/", operation_id="listConflicts", guards=[require_roles("admin", "supervisor", "auditor")]
    )
    async def list_conflicts(
        self,
        request: Request[Principal, Any, Any],
        officer_id: uuid.UUID | None = None,
        subject_code: str | None = None,
    ) -> list[s.ConflictOut]:
        return await service.list_conflicts(
            principal=request.user, officer_id=officer_id, subject_code=subject_code
        )

    @post("/", operation_id="recordConflict", guards=[require_roles("admin", "supervisor")])
    async def create(
        self, data: s.ConflictIn, request: Request[Principal, Any, Any]
    ) -> s.ConflictOut:
        return await service.record_conflict(principal=request.user, data=data)


class DeviceController(Controller):
    path = "/devices"
    tags = ["orgs"]
    guards = ADMIN

    @get("/", operation_id="listDevices")
    async def list_devices(
        self, request: Request[Principal, Any, Any], user_id: uuid.UUID | None = None
    ) -> list[s.DeviceOut]:
        return await sessions.list_devices(principal=request.user, user_id=user_id)

    @post("/{device_pk:uuid}/revoke", operation_id="revokeDevice", status_code=200)
    async def revoke(
        self, device_pk: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> s.DeviceOut:
        """Revoke a phone: its tokens stop working on the next call."""
        return await sessions.revoke_device(principal=request.user, device_pk=device_pk)


CONTROLLERS = [
    AuthController,
    OrgUnitController,
    GridController,
    TeamController,
    OfficerController,
    UserController,
    ConflictController,
    DeviceController,
]
