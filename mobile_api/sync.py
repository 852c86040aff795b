"""POST /mobile/v1/sync: a queue of offline operations applied in order, each exactly once."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, post

from backend.core.auth import Principal
from backend.core.errors import BadRequest, FieldcaseError, PayloadTooLarge, error_body
from backend.settings import Settings
from mobile_api import schemas as s
from mobile_api.config import mobile_config
from mobile_api.operations import (
    DeviceClock,
    decode_body,
    execute,
    get_operation,
    measure_clock,
    stored_status,
)
from mobile_api.writes import DeviceTime, parse_device_time

log = logging.getLogger("fieldcase.mobile.sync")


def _check_batch(data: s.SyncIn, settings: Settings) -> None:
    limit = mobile_config(settings).max_sync_operations
    if len(data.operations) > limit:
        raise PayloadTooLarge(
            f"a sync batch holds at most {limit} operations, got {len(data.operations)}; "
            "send the rest in the next batch",
            code="sync.too_many_operations",
        )
    seen: set[str] = set()
    for op in data.operations:
        if op.idempotency_key in seen:
            raise BadRequest(
                f"idempotency_key {op.idempotency_key} appears twice in the batch",
                code="sync.duplicate_key",
            )
        seen.add(op.idempotency_key)


async def _blocking_dependency(
    principal: Principal, op: s.SyncOperationIn, done: dict[str, bool], batch_keys: set[str]
) -> str | None:
    """Why ``op`` cannot run because of its dependencies, or None if it can."""
    for dep in op.depends_on:
        if dep in done:
            if not done[dep]:
                return f"depends on {dep}, which failed"
            continue
        if dep in batch_keys:
            return f"depends on {dep}, which comes later in the batch"
        status = await stored_status(user_id=principal.user_id, key=dep)
        if status is None:
            return f"depends on {dep}, which was never applied"
        if status >= 400:
            return f"depends on {dep}, which failed"
    return None


async def _apply(
    principal: Principal, settings: Settings, op_in: s.SyncOperationIn, device_clock: DeviceClock
) -> s.SyncResult:
    try:
        op = get_operation(op_in.op)
        data = decode_body(op, op_in.body)
        outcome = await execute(
            principal=principal,
            settings=settings,
            op=op,
            key=op_in.idempotency_key,
            target=op_in.target,
            data=data,
            device_clock=device_clock,
            device_time=op_in.device_time,
        )
    except FieldcaseError as exc:
        # Not valid as sent: nothing was applied or stored.
        return s.SyncResult(
            idempotency_key=op_in.idempotency_key,
            op=op_in.op,
            outcome="rejected",
            status=exc.status,
            body=error_body(exc.status, exc.code, exc.detail, exc.extra or None),
        )
    except Exception:
        log.exception("sync operation %s (%s) failed", op_in.idempotency_key, op_in.op)
        return s.SyncResult(
            idempotency_key=op_in.idempotency_key,
            op=op_in.op,
            outcome="rejected",
            status=500,
            body=error_body(500, "server.error", "internal error; nothing applied, send it again"),
        )
    if outcome.replayed:
        kind: s.Outcome = "replayed"
    else:
        kind = "applied" if outcome.ok else "failed"
    return s.SyncResult(
        idempotency_key=op_in.idempotency_key,
        op=op_in.op,
        outcome=kind,
        status=outcome.status,
        body=msgspec.json.decode(outcome.body),
        server_time=outcome.server_time,
        clock_skew_flagged=outcome.clock_skew_flagged,
    )


@post("/sync", operation_id="mobileSync", status_code=200, tags=["mobile"])
async def sync(
    data: s.SyncIn,
    request: Request[Principal, Any, Any],
    settings: Settings,
    device_time: DeviceTime = None,
) -> s.SyncOut:
    """Apply queued operations in order; each has its own result and is applied at most once.

    One failure does not stop the others; an operation whose ``depends_on`` failed (or
    was never applied) is reported as ``dependency_failed`` and not tried. Sending the
    same batch again (after a lost answer or a crash) applies only what is missing.
    """
    _check_batch(data, settings)
    principal = request.user
    device_clock = measure_clock(
        data.device_time or parse_device_time(device_time), config=mobile_config(settings)
    )
    batch_keys = {op.idempotency_key for op in data.operations}
    done: dict[str, bool] = {}
    results: list[s.SyncResult] = []
    for op_in in data.operations:
        blocked = await _blocking_dependency(principal, op_in, done, batch_keys)
        if blocked is not None:
            result = s.SyncResult(
                idempotency_key=op_in.idempotency_key,
                op=op_in.op,
                outcome="dependency_failed",
                status=424,
                body=error_body(424, "sync.dependency_failed", f"not applied: {blocked}"),
            )
        else:
            result = await _apply(principal, settings, op_in, device_clock)
        done[op_in.idempotency_key] = result.status < 400
        results.append(result)
    return s.SyncOut(
        results=results,
        server_time=device_clock.server_time,
        clock_skew_seconds=device_clock.skew_seconds,
        clock_skew_flagged=device_clock.flagged,
        applied=sum(r.outcome == "applied" for r in results),
        replayed=sum(r.outcome == "replayed" for r in results),
        failed=sum(r.status >= 400 for r in results),
    )


HANDLERS = [sync]
