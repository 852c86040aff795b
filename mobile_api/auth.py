"""Device login, token refresh bound to the device, logout, and who am I (GET /me)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post

from backend.core import clock
from backend.core.auth import Principal
from backend.orgs import schemas as org_schemas
from backend.orgs import service as orgs
from backend.orgs import sessions
from backend.settings import Settings
from mobile_api import schemas as s
from mobile_api.config import mobile_config
from mobile_api.operations import registered

# Reads every signed-in field user may do, besides the writes their roles allow.
READ_PERMISSIONS = ("work.read", "evidence.read")


def _address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else ""


class DeviceAuthController(Controller):
    path = "/auth"
    tags = ["mobile"]

    @post("/login", operation_id="mobileLogin", exclude_from_auth=True, status_code=200)
    async def login(
        self, data: s.DeviceLoginIn, request: Request[Any, Any, Any], settings: Settings
    ) -> org_schemas.TokenOut:
        """Sign in from a phone; the tokens are bound to ``device_id`` until it is revoked."""
        return await sessions.login(
            settings=settings,
            username=data.username,
            password=data.password,
            address=_address(request),
            device_id=data.device_id,
            platform=data.platform,
            app_version=data.app_version,
        )

    @post("/refresh", operation_id="mobileRefresh", exclude_from_auth=True, status_code=200)
    async def refresh(self, data: s.DeviceRefreshIn, settings: Settings) -> org_schemas.TokenOut:
        """Rotate the refresh token; it only works from the device it was issued to."""
        return await sessions.refresh(
            settings=settings, refresh_token=data.refresh_token, device_id=data.device_id
        )

    @post("/logout", operation_id="mobileLogout", status_code=204)
    async def logout(self, request: Request[Principal, Any, Any]) -> None:
        """End this device session; its tokens stop working at once."""
        await sessions.logout(principal=request.user)


def certificate_status(
    cert: org_schemas.CertificateOut, *, warning_days: int, today: Any
) -> s.CertificateStatus:
    days_left = (cert.valid_to - today).days
    warning: str | None = None
    if cert.valid_from > today:
        status = "not_yet_valid"
        warning = f"执法证 {cert.number} 自 {cert.valid_from.isoformat()} 起生效"
    elif days_left < 0:
        status = "expired"
        warning = f"执法证 {cert.number} 已于 {cert.valid_to.isoformat()} 过期，不得单独执法"
    elif days_left <= warning_days:
        status = "expiring"
        warning = f"执法证 {cert.number} 将于 {days_left} 天后（{cert.valid_to.isoformat()}）到期"
    else:
        status = "valid"
    return s.CertificateStatus(
        number=cert.number,
        domains=list(cert.domains),
        valid_from=cert.valid_from,
        valid_to=cert.valid_to,
        days_left=days_left,
        status=status,
        warning=warning,
    )


def permissions_of(principal: Principal) -> list[str]:
    ops = [name for name, op in registered().items() if op.allowed(principal)]
    return sorted([*READ_PERMISSIONS, *ops])


@get("/me", operation_id="mobileMe", tags=["mobile"])
async def me(request: Request[Principal, Any, Any], settings: Settings) -> s.MobileMeOut:
    """The signed-in officer, their teams, certificates (with expiry warnings) and permissions."""
    principal = request.user
    config = mobile_config(settings)
    today = clock.today(settings.timezone)
    officer: s.OfficerBrief | None = None
    teams: list[s.TeamBrief] = []
    certificates: list[s.CertificateStatus] = []
    if principal.officer_id is not None:
        record = await orgs.get_officer(principal=principal, officer_id=principal.officer_id)
        officer = s.OfficerBrief(
            id=record.id,
            name=record.name,
            badge_no=record.badge_no,
            org_unit_id=record.org_unit_id,
            status=record.status,
        )
        certificates = [
            certificate_status(c, warning_days=config.certificate_warning_days, today=today)
            for c in record.certificates
        ]
        for team_id in record.teams:
            team = await orgs.get_team(principal=principal, team_id=team_id)
            role = next(
                (m.role for m in team.members if m.officer_id == principal.officer_id), "member"
            )
            teams.append(
                s.TeamBrief(
                    id=team.id,
                    code=team.code,
                    name=team.name,
                    org_unit_id=team.org_unit_id,
                    domains=list(team.domains),
                    role=role,
                )
            )
    warnings = [c.warning for c in certificates if c.warning and c.status != "valid"]
    if principal.officer_id is not None and not any(c.status == "valid" for c in certificates):
        if not any(c.status == "expiring" for c in certificates):
            warnings.append("没有有效的执法证：不能作为执法人员参与现场执法")
    return s.MobileMeOut(
        user_id=principal.user_id,
        username=principal.username,
        display_name=principal.display_name,
        roles=sorted(principal.roles),
        org_unit_id=principal.org_unit_id,
        device_id=principal.device_id,
        officer=officer,
        teams=teams,
        certificates=certificates,
        permissions=permissions_of(principal),
        warnings=warnings,
        server_time=clock.now(),
    )


HANDLERS = [DeviceAuthController, me]
