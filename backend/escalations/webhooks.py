"""Webhook deliveries: signed HTTP POSTs to an SMS or messaging gateway, with retries.

The body is the JSON fixed when the escalation fired; the header
``X-Fieldcase-Signature: sha256=<hex>`` is the HMAC-SHA256 of the exact body bytes
with the webhook's secret. A failed attempt (network error or non-2xx answer) is
retried after 30 s, 60 s, 120 s... (doubling, at most an hour apart) up to
``MAX_ATTEMPTS``; then the delivery is ``failed``. Every attempt is a row of
``webhook_attempt``. A sender leases a delivery before posting, outside any
transaction, so two schedulers never post the same attempt twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import httpx

from backend.audit import service as audit
from backend.core import clock
from backend.core.db import is_sqlite, write_tx
from backend.escalations.tables import Webhook, WebhookAttempt, WebhookDelivery

SIGNATURE_HEADER = "X-Fieldcase-Signature"
BACKOFF_BASE_S = 30
BACKOFF_MAX_S = 3600
MAX_ATTEMPTS = 8
LEASE_S = 60
TIMEOUT_S = 10.0
ACTOR = "system:webhooks"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt."""
    return dt.timedelta(seconds=min(BACKOFF_BASE_S * 2 ** (attempts - 1), BACKOFF_MAX_S))


@dataclass
class DeliveryResult:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"delivered {self.delivered}, retrying {self.retrying}, failed {self.failed}"


async def _claim(limit: int) -> list[dict[str, Any]]:
    now = clock.now()
    async with write_tx():
        query = (
            WebhookDelivery.select()
            .where(
                (WebhookDelivery.status == "pending")
                & (WebhookDelivery.next_attempt_at <= now)
                & (WebhookDelivery.leased_until.is_null() | (WebhookDelivery.leased_until < now))
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
        if not is_sqlite():
            query = query.lock_rows("UPDATE", skip_locked=True)
        rows = await query.run()
        if rows:
            await (
                WebhookDelivery.update(
                    {WebhookDelivery.leased_until: now + dt.timedelta(seconds=LEASE_S)}
                )
                .where(WebhookDelivery.id.is_in([r["id"] for r in rows]))
                .run()
            )
    return rows


async def deliver_due(
    *, limit: int = 50, client: httpx.AsyncClient | None = None
) -> DeliveryResult:
    """Post every delivery whose attempt is due; record each attempt."""
    result = DeliveryResult()
    rows = await _claim(limit)
    if not rows:
        return result
    hooks = {
        h["id"]: h
        for h in await Webhook.select()
        .where(Webhook.id.is_in(list({r["webhook_id"] for r in rows})))
        .run()
    }
    own = client is None
    http = client or httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False)
    try:
        for row in rows:
            hook = hooks.get(row["webhook_id"])
            await _attempt(http=http, row=row, hook=hook, result=result)
    finally:
        if own:
            await http.aclose()
    return result


async def _attempt(
    *,
    http: httpx.AsyncClient,
    row: dict[str, Any],
    hook: dict[str, Any] | None,
    result: DeliveryResult,
) -> None:
    attempt = row["attempts"] + 1
    body = row["body"].encode("utf-8")
    status_code: int | None = None
    error = ""
    started = time.monotonic()
    if hook is None or not hook["active"]:
        error = "webhook removed or inactive"
    else:
        try:
            response = await http.post(
                hook["url"],
                content=body,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    SIGNATURE_HEADER: sign(hook["secret"], body),
                    "X-Fieldcase-Delivery": str(row["id"]),
                    "X-Fieldcase-Attempt": str(attempt),
                },
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
    duration_ms = int((time.monotonic() - started) * 1000)
    now = clock.now()
    ok = not error
    gave_up = not ok and (attempt >= MAX_ATTEMPTS or hook is None or not hook["active"])
    status = "delivered" if ok else ("failed" if gave_up else "pending")
    async with write_tx():
        await WebhookAttempt.insert(
            WebhookAttempt(
                delivery_id=row["id"],
                attempt=attempt,
                at=now,
                status_code=status_code,
                error=error,
                duration_ms=duration_ms,
            )
        ).run()
        await (
            WebhookDelivery.update(
                {
                    WebhookDelivery.attempts: attempt,
                    WebhookDelivery.status: status,
                    WebhookDelivery.leased_until: None,
                    WebhookDelivery.delivered_at: now if ok else None,
                    WebhookDelivery.next_attempt_at: (
                        now + backoff(attempt) if status == "pending" else None
                    ),
                }
            )
            .where(WebhookDelivery.id == row["id"])
            .run()
        )
        await audit.record(
            stream=f"webhook_delivery:{row['id']}",
            action=f"webhook.{'delivered' if ok else 'attempt_failed'}",
            actor=ACTOR,
            payload={
                "attempt": attempt,
                "status_code": status_code,
                "error": error,
                "status": status,
                "escalation_id": row["escalation_id"],
            },
        )
    if ok:
        result.delivered += 1
    elif gave_up:
        result.failed += 1
    else:
        result.retrying += 1
