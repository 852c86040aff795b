"""Registered write operations and their exactly-once execution.

Every write of the mobile API is an ``Operation`` registered here under a dotted name
(``onsite_record.create``). It runs either as its own HTTP endpoint or inside a
``POST /mobile/v1/sync`` batch; both paths go through ``execute``:

1. A stored response for (user, Idempotency-Key) is returned as it was, and nothing
   else happens (the same key with a different request is refused with 422).
2. Otherwise, in ONE write transaction: lock the key (PostgreSQL advisory lock; SQLite
   has a single writer), look again, run the handler under a savepoint, and insert
   the response, device and server times and the audit event. A domain error (4xx)
   rolls back to the savepoint and is stored as the response, so a replay gives the
   same answer. Any other error rolls everything back and stores nothing.

So an operation is applied and recorded together, or not at all: a crash at any
point leaves either no trace (the replay applies it) or the stored response.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import msgspec

from backend.audit import service as audit
from backend.core import clock
from backend.core.auth import Principal
from backend.core.db import current_engine, is_sqlite, write_tx
from backend.core.errors import (
    BadRequest,
    FieldcaseError,
    Forbidden,
    Unprocessable,
    error_body,
)
from backend.settings import Settings
from mobile_api.config import MobileConfig, mobile_config
from mobile_api.tables import MobileOperation

KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{8,200}$")
# Errors that depend on the moment rather than the request are not stored: a retry may pass.
_TRANSIENT_STATUSES = frozenset({401, 408, 429})


@dataclass(frozen=True)
class DeviceClock:
    """The device's clock compared with the server's when a request arrived."""

    device_time: dt.datetime | None
    server_time: dt.datetime
    skew_seconds: int | None
    flagged: bool


def measure_clock(device_time: dt.datetime | None, *, config: MobileConfig) -> DeviceClock:
    server_time = clock.now()
    if device_time is None:
        return DeviceClock(
            device_time=None, server_time=server_time, skew_seconds=None, flagged=False
        )
    if device_time.tzinfo is None:
        raise BadRequest(
            "device time needs a UTC offset (e.g. 2026-05-01T08:00:00+08:00)",
            code="mobile.device_time_naive",
        )
    skew = round((device_time - server_time).total_seconds())
    return DeviceClock(
        device_time=device_time,
        server_time=server_time,
        skew_seconds=skew,
        flagged=abs(skew) > config.clock_skew_minutes * 60,
    )


@dataclass(frozen=True)
class OpContext:
    """What a handler gets besides its body."""

    principal: Principal
    settings: Settings
    target: uuid.UUID | None
    # When the officer did it, by the device's clock (the op's own time, else the request's).
    device_time: dt.datetime | None
    clock: DeviceClock
    idempotency_key: str
    # Facts the handler wants in the operation's audit event (distance of a check-in...).
    notes: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[OpContext, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Operation:
    name: str
    body: type[msgspec.Struct]
    handler: Handler
    # What the target id names ("task", "case", "onsite record"); None: the op takes none.
    target: str | None
    status_code: int
    description: str
    # Roles that may send it (checked before the handler runs).
    roles: frozenset[str]

    def allowed(self, principal: Principal) -> bool:
        return principal.unrestricted or principal.has_any_role(*self.roles)


FIELD_ROLES = ("officer", "squad_leader")

_REGISTRY: dict[str, Operation] = {}
H = TypeVar("H", bound=Handler)


def operation(
    name: str,
    *,
    body: type[msgspec.Struct],
    target: str | None = None,
    status_code: int = 200,
    roles: tuple[str, ...] = FIELD_ROLES,
) -> Callable[[H], H]:
    """Register ``handler`` as the write ``name`` (usable over HTTP and in sync batches)."""

    def register(handler: H) -> H:
        if name in _REGISTRY and _REGISTRY[name].handler is not handler:
            raise ValueError(f"mobile operation {name} is registered twice")
        _REGISTRY[name] = Operation(
            name=name,
            body=body,
            handler=handler,
            target=target,
            status_code=status_code,
            description=(handler.__doc__ or "").strip().split("\n")[0],
            roles=frozenset(roles),
        )
        return handler

    return register


_imported = False


def registered() -> dict[str, Operation]:
    """Every registered operation (the router's modules register theirs on import)."""
    global _imported
    if not _imported:
        import importlib

        from mobile_api.router import MODULES

        for module in MODULES:
            importlib.import_module(module)
        _imported = True
    return dict(_REGISTRY)


def get_operation(name: str) -> Operation:
    op = registered().get(name)
    if op is None:
        raise BadRequest(f"unknown operation {name!r}", code="sync.unknown_operation")
    return op


@dataclass(frozen=True)
class Outcome:
    status: int
    body: bytes
    replayed: bool
    server_time: dt.datetime
    clock_skew_seconds: int | None
    clock_skew_flagged: bool

    @property
    def ok(self) -> bool:
        return self.status < 400


def check_key(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise BadRequest(
            "Idempotency-Key must be 8-200 characters of letters, digits and ._:- "
            "(a UUID made when the action was queued)",
            code="idempotency.bad_key",
        )
    return key


def request_hash(op: Operation, target: uuid.UUID | None, data: msgspec.Struct) -> str:
    canonical = audit.canonical_json(
        {
            "op": op.name,
            "target": str(target) if target else None,
            "body": msgspec.to_builtins(data),
        }
    )
    return hashlib.sha256(canonical).hexdigest()


def decode_body(op: Operation, raw: Any) -> msgspec.Struct:
    """A sync operation's body as the op's struct; errors name the field."""
    try:
        return msgspec.convert(raw if raw is not None else {}, op.body, strict=False)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"body of {op.name}: {exc}", code="request.invalid") from None


def _columns() -> list[Any]:
    return [
        MobileOperation.request_hash,
        MobileOperation.status_code,
        MobileOperation.response,
        MobileOperation.server_time,
        MobileOperation.clock_skew_seconds,
        MobileOperation.clock_skew_flagged,
    ]


async def _stored(user_id: uuid.UUID, key: str) -> dict[str, Any] | None:
    return (
        await MobileOperation.select(*_columns())
        .where((MobileOperation.user_id == user_id) & (MobileOperation.idempotency_key == key))
        .first()
        .run()
    )


def _replay(row: dict[str, Any], digest: str, key: str) -> Outcome:
    if row["request_hash"] != digest:
        raise Unprocessable(
            f"Idempotency-Key {key} was used for a different request; "
            "use a new key for a new action",
            code="idempotency.key_reused",
        )
    return Outcome(
        status=row["status_code"],
        body=row["response"].encode("utf-8"),
        replayed=True,
        server_time=row["server_time"],
        clock_skew_seconds=row["clock_skew_seconds"],
        clock_skew_flagged=row["clock_skew_flagged"],
    )


async def _lock_key(user_id: uuid.UUID, key: str) -> None:
    if not is_sqlite():
        # Concurrent copies of one request wait here until the first has committed.
        await MobileOperation.raw(
            "SELECT pg_advisory_xact_lock(hashtextextended({}, 0))", f"mobile-op:{user_id}:{key}"
        ).run()


def _storable(exc: FieldcaseError) -> bool:
    return 400 <= exc.status < 500 and exc.status not in _TRANSIENT_STATUSES


def _encode(result: Any) -> bytes:
    return msgspec.json.encode(result)


async def execute(
    *,
    principal: Principal,
    settings: Settings,
    op: Operation,
    key: str,
    target: uuid.UUID | None,
    data: msgspec.Struct,
    device_clock: DeviceClock,
    device_time: dt.datetime | None = None,
) -> Outcome:
    """Apply ``op`` once for (user, key); a repeat returns the first response unchanged."""
    check_key(key)
    if op.target is not None and target is None:
        raise BadRequest(f"{op.name} needs the {op.target} id as target", code="sync.no_target")
    if op.target is None and target is not None:
        raise BadRequest(f"{op.name} takes no target", code="sync.unexpected_target")
    digest = request_hash(op, target, data)
    row = await _stored(principal.user_id, key)
    if row is not None:
        return _replay(row, digest, key)
    action_time = device_time or device_clock.device_time
    if action_time is not None and action_time.tzinfo is None:
        raise BadRequest("device_time needs a UTC offset", code="mobile.device_time_naive")
    ctx = OpContext(
        principal=principal,
        settings=settings,
        target=target,
        device_time=action_time,
        clock=device_clock,
        idempotency_key=key,
    )
    async with write_tx():
        await _lock_key(principal.user_id, key)
        row = await _stored(principal.user_id, key)
        if row is not None:
            return _replay(row, digest, key)
        transaction = current_engine().current_transaction.get()
        assert transaction is not None
        savepoint = await transaction.savepoint()
        try:
            if not op.allowed(principal):
                raise Forbidden(
                    f"{op.name} requires one of the roles: {', '.join(sorted(op.roles))}"
                )
            result = await op.handler(ctx, data)
            status, body = op.status_code, _encode(result)
        except FieldcaseError as exc:
            if not _storable(exc):
                raise
            await savepoint.rollback_to()
            status = exc.status
            body = _encode(error_body(exc.status, exc.code, exc.detail, exc.extra or None))
        now = clock.now()
        record_id = uuid.uuid4()
        config = mobile_config(settings)
        await MobileOperation.insert(
            MobileOperation(
                id=record_id,
                user_id=principal.user_id,
                idempotency_key=key,
                device_id=principal.device_id or "",
                op=op.name,
                target=str(target) if target else "",
                request_hash=digest,
                status_code=status,
                response=body.decode("utf-8"),
                device_time=action_time,
                server_time=now,
                clock_skew_seconds=device_clock.skew_seconds,
                clock_skew_flagged=device_clock.flagged,
                expires_at=now + timedelta(days=config.idempotency_days),
            )
        ).run()
        await audit.record(
            stream=f"mobile_op:{record_id}",
            action="mobile.operation.applied" if status < 400 else "mobile.operation.refused",
            actor=principal.actor,
            payload={
                "op": op.name,
                "idempotency_key": key,
                "target": target,
                "status": status,
                "device_id": principal.device_id,
                "device_time": action_time,
                "server_time": now,
                "clock_skew_seconds": device_clock.skew_seconds,
                "clock_skew_flagged": device_clock.flagged,
                **({"facts": ctx.notes} if ctx.notes and status < 400 else {}),
            },
            org_unit_id=principal.org_unit_id,
        )
    return Outcome(
        status=status,
        body=body,
        replayed=False,
        server_time=now,
        clock_skew_seconds=device_clock.skew_seconds,
        clock_skew_flagged=device_clock.flagged,
    )


async def purge_expired() -> int:
    """Delete stored responses past their retention; returns how many."""
    now = clock.now()
    async with write_tx():
        count = await MobileOperation.count().where(MobileOperation.expires_at < now).run()
        if count:
            await MobileOperation.delete().where(MobileOperation.expires_at < now).run()
            await audit.record(
                stream="mobile:retention",
                action="mobile.operations.purged",
                actor="system:scheduler",
                payload={"count": count, "before": now},
            )
    return int(count)


async def stored_status(*, user_id: uuid.UUID, key: str) -> int | None:
    """The stored status of an earlier operation, or None if it was never applied."""
    row = (
        await MobileOperation.select(MobileOperation.status_code)
        .where((MobileOperation.user_id == user_id) & (MobileOperation.idempotency_key == key))
        .first()
        .run()
    )
    return None if row is None else int(row["status_code"])
