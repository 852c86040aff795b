"""The HTTP face of registered operations: headers, clock and the replayable response."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, Response
from litestar.params import HeaderParameter

from backend.core import clock
from backend.core.auth import Principal
from backend.core.errors import BadRequest
from backend.settings import Settings
from mobile_api.config import mobile_config
from mobile_api.operations import DeviceClock, Outcome, execute, get_operation, measure_clock

IdempotencyKey = Annotated[
    str,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=8,
        max_length=200,
        description="A UUID made when the action was queued; a replay returns the first response.",
    ),
]
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        required=False,
        description="The ETag you hold; 304 with no body if the object has not changed.",
    ),
]
DeviceTime = Annotated[
    str | None,
    HeaderParameter(
        name="X-Device-Time",
        required=False,
        description="The device's clock (ISO-8601 with offset); a skew over 5 min is flagged.",
    ),
]


def parse_device_time(raw: str | None) -> dt.datetime | None:
    if raw is None or raw == "":
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"X-Device-Time {raw!r} is not an ISO-8601 time", code="mobile.bad_device_time"
        ) from None
    if value.tzinfo is None:
        raise BadRequest(
            "X-Device-Time needs a UTC offset (e.g. 2026-05-01T08:00:00+08:00)",
            code="mobile.device_time_naive",
        )
    return value


def device_clock(settings: Settings, raw: str | None) -> DeviceClock:
    return measure_clock(parse_device_time(raw), config=mobile_config(settings))


def outcome_headers(outcome: Outcome) -> dict[str, str]:
    headers = {
        "Idempotent-Replayed": "true" if outcome.replayed else "false",
        "X-Applied-At": clock.iso(outcome.server_time),
    }
    if outcome.clock_skew_seconds is not None:
        headers["X-Clock-Skew-Seconds"] = str(outcome.clock_skew_seconds)
    if outcome.clock_skew_flagged:
        headers["X-Clock-Skew-Flagged"] = "true"
    return headers


async def write(
    request: Request[Principal, Any, Any],
    settings: Settings,
    *,
    op: str,
    data: msgspec.Struct,
    key: str,
    device_time: str | None,
    target: uuid.UUID | None = None,
) -> Response[Any]:
    """Run the registered operation ``op`` once for this key; answer its (stored) response."""
    outcome = await execute(
        principal=request.user,
        settings=settings,
        op=get_operation(op),
        key=key,
        target=target,
        data=data,
        device_clock=device_clock(settings, device_time),
    )
    return Response(
        content=outcome.body,
        status_code=outcome.status,
        media_type="application/json",
        headers=outcome_headers(outcome),
    )
