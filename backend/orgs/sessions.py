"""Login, refresh-token rotation, logout, devices and the request principal."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from backend.audit import service as audit
from backend.core import clock
from backend.core.auth import (
    Principal,
    burn_password_check,
    encode_access_token,
    new_opaque_token,
    token_digest,
    verify_password,
)
from backend.core.batching import Batcher
from backend.core.db import read, write_tx
from backend.core.errors import TooManyRequests, Unauthorized
from backend.orgs import schemas as s
from backend.orgs.service import org_ids_under
from backend.orgs.tables import Device, LoginAttempt, LoginSession, OrgUnit, RefreshToken, User
from backend.settings import Settings


async def _check_lockout(*, settings: Settings, username: str, address: str) -> None:
    since = clock.now() - timedelta(minutes=settings.login_window_minutes)
    failures = (
        await LoginAttempt.select(LoginAttempt.at)
        .where(
            (LoginAttempt.username == username)
            & (LoginAttempt.success.eq(False))
            & (LoginAttempt.at >= since)
        )
        .order_by(LoginAttempt.at, ascending=False)
        .limit(settings.login_max_failures_per_account)
        .run()
    )
    if len(failures) >= settings.login_max_failures_per_account:
        oldest = min(r["at"] for r in failures)
        retry = oldest + timedelta(minutes=settings.login_window_minutes) - clock.now()
        seconds = max(1, int(retry.total_seconds()) + 1)
        raise TooManyRequests(
            f"too many failed logins for this account; try again in {seconds} s",
            code="auth.locked",
            headers={"Retry-After": str(seconds)},
        )
    by_address = (
        await LoginAttempt.count()
        .where(
            (LoginAttempt.address == address)
            & (LoginAttempt.success.eq(False))
            & (LoginAttempt.at >= since)
        )
        .run()
    )
    if by_address >= settings.login_max_failures_per_address:
        seconds = settings.login_window_minutes * 60
        raise TooManyRequests(
            "too many failed logins from this address; try again later",
            code="auth.locked_address",
            headers={"Retry-After": str(seconds)},
        )


async def _note_attempt(*, username: str, address: str, success: bool) -> None:
    async with write_tx():
        await LoginAttempt.insert(
            LoginAttempt(
                id=uuid.uuid4(), username=username, address=address, at=clock.now(), success=success
            )
        ).run()


async def _issue(
    *, settings: Settings, user_id: uuid.UUID, session_id: uuid.UUID, device: str | None
) -> s.TokenOut:
    refresh = new_opaque_token()
    now = clock.now()
    await RefreshToken.insert(
        RefreshToken(
            id=uuid.uuid4(),
            session=session_id,
            token_hash=token_digest(refresh),
            issued_at=now,
            expires_at=now + timedelta(days=settings.refresh_token_days),
        )
    ).run()
    access = encode_access_token(
        secret=settings.secret_key,
        user_id=user_id,
        session_id=session_id,
        minutes=settings.access_token_minutes,
        device=device,
    )
    return s.TokenOut(
        access_token=access,
        refresh_token=refresh,
        token_type="bearer",
        expires_in=settings.access_token_minutes * 60,
    )


async def login(
    *,
    settings: Settings,
    username: str,
    password: str,
    address: str,
    device_id: str | None = None,
    platform: str = "",
    app_version: str = "",
) -> s.TokenOut:
    """Check the password (after the lock-out), open a session and issue tokens."""
    await _check_lockout(settings=settings, username=username, address=address)
    user = (
        await User.select(User.id, User.password_hash, User.active, User.org_unit, User.roles)
        .where(User.username == username)
        .first()
        .run()
    )
    if user is None:
        burn_password_check(password)
        ok = False
    else:
        ok = verify_password(user["password_hash"], password) and user["active"]
    if not ok or user is None:
        await _note_attempt(username=username, address=address, success=False)
        raise Unauthorized("wrong username or password", code="auth.invalid_credentials")
    user_id = uuid.UUID(str(user["id"]))
    async with write_tx():
        await LoginAttempt.insert(
            LoginAttempt(
                id=uuid.uuid4(), username=username, address=address, at=clock.now(), success=True
            )
        ).run()
        device_pk = None
        if device_id is not None:
            device_pk = await _register_device(
                user_id=user_id, device_id=device_id, platform=platform, app_version=app_version
            )
        session_id = uuid.uuid4()
        await LoginSession.insert(
            LoginSession(
                id=session_id,
                user=user_id,
                device=device_pk,
                address=address,
                created_at=clock.now(),
            )
        ).run()
        tokens = await _issue(
            settings=settings, user_id=user_id, session_id=session_id, device=device_id
        )
        await audit.record(
            stream=f"user:{user_id}",
            action="user.login",
            actor=f"user:{user_id}",
            payload={"session_id": session_id, "address": address, "device_id": device_id},
            org_unit_id=user["org_unit"],
        )
    return tokens


async def _register_device(
    *, user_id: uuid.UUID, device_id: str, platform: str, app_version: str
) -> uuid.UUID:
    now = clock.now()
    row = (
        await Device.select(Device.id, Device.revoked_at)
        .where((Device.user == user_id) & (Device.device_id == device_id))
        .first()
        .run()
    )
    if row is not None:
        if row["revoked_at"] is not None:
            raise Unauthorized(
                "this device has been revoked; ask an administrator", code="auth.device_revoked"
            )
        await (
            Device.update(
                {Device.last_seen: now, Device.platform: platform, Device.app_version: app_version}
            )
            .where(Device.id == row["id"])
            .run()
        )
        return uuid.UUID(str(row["id"]))
    pk = uuid.uuid4()
    await Device.insert(
        Device(
            id=pk,
            user=user_id,
            device_id=device_id,
            platform=platform,
            app_version=app_version,
            first_seen=now,
            last_seen=now,
        )
    ).run()
    return pk


async def refresh(
    *, settings: Settings, refresh_token: str, device_id: str | None = None
) -> s.TokenOut:
    """Rotate a refresh token. Reusing a spent token ends the whole session."""
    digest = token_digest(refresh_token)
    invalid = Unauthorized("refresh token is not valid", code="auth.invalid_refresh")
    reused = False
    async with write_tx():
        row = (
            await RefreshToken.select(
                RefreshToken.id,
                RefreshToken.used_at,
                RefreshToken.expires_at,
                RefreshToken.session.as_alias("session_id"),
                RefreshToken.session.revoked_at.as_alias("session_revoked"),
                RefreshToken.session.user.as_alias("user_id"),
                RefreshToken.session.user.active.as_alias("active"),
                RefreshToken.session.user.org_unit.as_alias("org_unit_id"),
                RefreshToken.session.device.device_id.as_alias("device_id"),
                RefreshToken.session.device.revoked_at.as_alias("device_revoked"),
            )
            .where(RefreshToken.token_hash == digest)
            .first()
            .run()
        )
        if row is None:
            raise invalid
        session_id = uuid.UUID(str(row["session_id"]))
        if row["used_at"] is not None:
            # A spent token came back: someone holds a copy. End the session for both.
            await (
                LoginSession.update({LoginSession.revoked_at: clock.now()})
                .where((LoginSession.id == session_id) & LoginSession.revoked_at.is_null())
                .run()
            )
            await audit.record(
                stream=f"user:{row['user_id']}",
                action="user.session.reuse_detected",
                actor="system:auth",
                payload={"session_id": session_id},
                org_unit_id=row["org_unit_id"],
            )
            reused = True
        elif (
            row["session_revoked"] is not None
            or row["device_revoked"] is not None
            or not row["active"]
            or row["expires_at"] <= clock.now()
            or (device_id is not None and row["device_id"] != device_id)
        ):
            raise invalid
        else:
            await (
                RefreshToken.update({RefreshToken.used_at: clock.now()})
                .where(RefreshToken.id == row["id"])
                .run()
            )
            return await _issue(
                settings=settings,
                user_id=uuid.UUID(str(row["user_id"])),
                session_id=session_id,
                device=row["device_id"],
            )
    # Raised after the transaction commits, so the revocation and its audit event stay.
    assert reused
    raise invalid


async def logout(*, principal: Principal, refresh_token: str | None = None) -> None:
    """End the caller's session; its access and refresh tokens stop working at once."""
    async with write_tx():
        await (
            LoginSession.update({LoginSession.revoked_at: clock.now()})
            .where((LoginSession.id == principal.session_id) & LoginSession.revoked_at.is_null())
            .run()
        )
        await audit.record(
            stream=f"user:{principal.user_id}",
            action="user.logout",
            actor=principal.actor,
            payload={"session_id": principal.session_id},
            org_unit_id=principal.org_unit_id,
        )


async def list_devices(
    *, principal: Principal, user_id: uuid.UUID | None = None
) -> list[s.DeviceOut]:
    from backend.core import scope
    from backend.core.schemas import to_struct

    query = Device.select(
        Device.id,
        Device.user.as_alias("user_id"),
        Device.device_id,
        Device.platform,
        Device.app_version,
        Device.first_seen,
        Device.last_seen,
        Device.revoked_at,
    )
    query = scope.restrict(query, principal, Device.user.org_unit)
    if user_id:
        query = query.where(Device.user == user_id)
    return [to_struct(s.DeviceOut, r) for r in await query.order_by(Device.last_seen).run()]


async def revoke_device(*, principal: Principal, device_pk: uuid.UUID) -> s.DeviceOut:
    from backend.core import scope

    async with write_tx():
        row = await scope.fetch(
            Device,
            device_pk,
            principal,
            org_column=Device.user.org_unit,
            what="device",
            columns=[Device.user, Device.device_id],
        )
        now = clock.now()
        await (
            Device.update({Device.revoked_at: now})
            .where((Device.id == device_pk) & Device.revoked_at.is_null())
            .run()
        )
        await (
            LoginSession.update({LoginSession.revoked_at: now})
            .where((LoginSession.device == device_pk) & LoginSession.revoked_at.is_null())
            .run()
        )
        await audit.record(
            stream=f"user:{row['user']}",
            action="user.device.revoked",
            actor=principal.actor,
            payload={"device": device_pk, "device_id": row["device_id"]},
        )
    devices = await list_devices(principal=principal)
    return next(d for d in devices if d.id == device_pk)


SESSIONS_SQL = (
    "SELECT s.id AS session_id, s.revoked_at, u.username, u.display_name, u.roles, u.active,"
    " u.org_unit AS org_unit_id, o.path AS org_path, u.officer AS officer_id,"
    " u.id AS user_id, d.device_id, d.revoked_at AS device_revoked"
    ' FROM login_session s JOIN app_user u ON u.id = s."user"'
    " JOIN org_unit o ON o.id = u.org_unit LEFT JOIN device d ON d.id = s.device"
    " WHERE s.id IN ({})"
)


async def _sessions(ids: list[uuid.UUID]) -> dict[uuid.UUID, Mapping[str, Any]]:
    """Every authenticated request needs its session: plain SQL (building the joined select
    through the ORM costs more than the query), one query for concurrent requests."""
    sql = SESSIONS_SQL.format(", ".join("{}" for _ in ids))
    rows = await read(LoginSession, sql, *ids)
    return {_as_uuid(r["session_id"]): r for r in rows}


_session_rows: Batcher[uuid.UUID, Mapping[str, Any]] = Batcher(_sessions)


@functools.lru_cache(maxsize=4096)
def _token_ids(user_id: str, session_id: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The user and session ids of a token's claims (None if not UUIDs); a token is used
    for many requests."""
    try:
        return uuid.UUID(user_id), uuid.UUID(session_id)
    except ValueError:
        return None


def _as_uuid(value: Any) -> uuid.UUID:
    # A plain uuid.UUID (asyncpg's subclass of it compares equal but is another type).
    return value if type(value) is uuid.UUID else uuid.UUID(str(value))


# The principal last built for each session, with what it was built from: a request whose
# session row (read again every time), address and scope are unchanged reuses it instead
# of building it again (UUID conversions and a frozen dataclass of 14 fields).
_principals: dict[uuid.UUID, tuple[tuple[Any, ...], Principal]] = {}
MAX_PRINCIPALS = 10_000


async def principal_for(
    *, user_id: str, session_id: str, device_id: str | None, address: str
) -> Principal | None:
    """The principal of a verified access token, or None if its session has ended."""
    ids = _token_ids(user_id, session_id)
    if ids is None:
        return None
    uid, sid = ids
    row = await _session_rows.get(sid)
    if row is None or row["revoked_at"] is not None or not row["active"]:
        return None
    if row["user_id"] != uid and _as_uuid(row["user_id"]) != uid:
        return None
    if row["device_revoked"] is not None or row["device_id"] != device_id:
        return None
    scope_org_ids = await org_ids_under(row["org_path"])
    basis = (
        uid,
        row["username"],
        row["display_name"],
        tuple(row["roles"] or ()),
        row["org_unit_id"],
        row["org_path"],
        row["officer_id"],
        device_id,
        address,
        scope_org_ids,
    )
    known = _principals.get(sid)
    if known is not None and known[0] == basis:
        # Built from the same live row, scope and address: the same principal.
        return known[1]
    principal = Principal(
        user_id=uid,
        username=row["username"],
        display_name=row["display_name"],
        roles=frozenset(row["roles"] or []),
        org_unit_id=_as_uuid(row["org_unit_id"]),
        org_path=row["org_path"],
        officer_id=_as_uuid(row["officer_id"]) if row["officer_id"] else None,
        session_id=sid,
        device_id=device_id,
        scope_org_ids=scope_org_ids,
        address=address,
    )
    if len(_principals) >= MAX_PRINCIPALS:
        _principals.clear()
    _principals[sid] = (basis, principal)
    return principal


async def me(principal: Principal) -> s.MeOut:
    return s.MeOut(
        user_id=principal.user_id,
        username=principal.username,
        display_name=principal.display_name,
        roles=sorted(principal.roles),
        org_unit_id=principal.org_unit_id,
        officer_id=principal.officer_id,
    )


async def root_org_id() -> uuid.UUID | None:
    row = await OrgUnit.select(OrgUnit.id).where(OrgUnit.parent.is_null()).first().run()
    return uuid.UUID(str(row["id"])) if row else None
