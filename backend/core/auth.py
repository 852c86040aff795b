"""Password hashing, access tokens, the request principal and role guards."""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from backend.core import clock
from backend.core.errors import Forbidden, Unauthorized

ROLES = ("officer", "squad_leader", "head", "supervisor", "legal_reviewer", "admin", "auditor")
JWT_ALGORITHM = "HS256"


def _make_hasher() -> PasswordHasher:
    """argon2id with the library's recommended parameters unless the operator tunes them."""
    time_cost = os.environ.get("FIELDCASE_ARGON2_TIME_COST")
    memory = os.environ.get("FIELDCASE_ARGON2_MEMORY_KIB")
    if time_cost or memory:
        return PasswordHasher(
            time_cost=int(time_cost or 3), memory_cost=int(memory or 65536), parallelism=1
        )
    return PasswordHasher()


_hasher = _make_hasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# Verified against when the username is unknown, so timing does not reveal which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def burn_password_check(password: str) -> None:
    verify_password(_DUMMY_HASH, password)


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def encode_access_token(
    *, secret: str, user_id: uuid.UUID, session_id: uuid.UUID, minutes: int, device: str | None
) -> str:
    issued = clock.now()
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(minutes=minutes)).timestamp()),
        "jti": uuid.uuid4().hex,
        "sid": str(session_id),
        "typ": "access",
    }
    if device:
        claims["dev"] = device
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    device_id: str | None


@functools.lru_cache(maxsize=4096)
def _signed_claims(raw: str, secret: str) -> tuple[AccessClaims, Any, Any] | None:
    """The claims, ``exp`` and ``typ`` of a token whose signature holds (None if it does not).

    Cached: a token's signature and claims never change, and checking them costs more than
    the rest of a small request (a phone polls with the same token for 15 minutes). Expiry
    and the session's state are still checked on every request.
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            raw,
            secret,
            algorithms=[JWT_ALGORITHM],
            options={"verify_exp": False, "verify_iat": False, "require": ["sub", "exp"]},
        )
    except jwt.PyJWTError:
        return None
    device = claims.get("dev")
    access = AccessClaims(
        user_id=str(claims["sub"]),
        session_id=str(claims.get("sid", "")),
        device_id=str(device) if device else None,
    )
    return access, claims.get("exp"), claims.get("typ")


def decode_access_token(raw: str, *, secret: str) -> AccessClaims:
    """Check signature and expiry (against the system clock, which tests can move)."""
    signed = _signed_claims(raw, secret)
    if signed is None:
        raise Unauthorized("access token is not valid", code="auth.invalid_token")
    claims, exp, typ = signed
    if not isinstance(exp, int) or exp <= clock.now().timestamp() or typ != "access":
        raise Unauthorized("access token has expired", code="auth.token_expired")
    return claims


@dataclass(frozen=True)
class Principal:
    """Who is making the request, and which org units they may see."""

    user_id: uuid.UUID
    username: str
    display_name: str
    roles: frozenset[str]
    org_unit_id: uuid.UUID
    org_path: str
    officer_id: uuid.UUID | None
    session_id: uuid.UUID
    device_id: str | None
    scope_org_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    address: str = ""
    # The system itself (CLI, demo loader, scheduler): sees every org unit.
    unrestricted: bool = False
    system_name: str = ""

    @property
    def actor(self) -> str:
        if self.system_name:
            return f"system:{self.system_name}"
        return f"user:{self.user_id}"

    def has_any_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def sees_org(self, org_unit_id: uuid.UUID | str | None) -> bool:
        if self.unrestricted:
            return True
        if org_unit_id is None:
            return False
        return uuid.UUID(str(org_unit_id)) in self.scope_org_ids


def system_principal(name: str, *, roles: Iterable[str] = ROLES) -> Principal:
    """The principal of work the system does by itself, audited as ``system:<name>``."""
    return Principal(
        user_id=uuid.UUID(int=0),
        username=f"system:{name}",
        display_name=name,
        roles=frozenset(roles),
        org_unit_id=uuid.UUID(int=0),
        org_path="/",
        officer_id=None,
        session_id=uuid.UUID(int=0),
        device_id=None,
        unrestricted=True,
        system_name=name,
    )


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise Unauthorized("authentication required")
    return user


def require_roles(*roles: str) -> Guard:
    """A guard that lets through users holding any of ``roles``."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = principal_of(connection)
        if not principal.has_any_role(*roles):
            raise Forbidden(f"requires one of the roles: {', '.join(roles)}")

    guard.__name__ = f"require_roles_{'_'.join(roles)}"
    return guard


def check_roles(principal: Principal, roles: Iterable[str], *, action: str) -> None:
    roles = tuple(roles)
    if not principal.has_any_role(*roles):
        raise Forbidden(f"{action} requires one of the roles: {', '.join(roles)}")
