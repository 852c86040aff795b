"""Helpers for mobile API tests: device login and on-site record bodies."""

from __future__ import annotations

import uuid
from typing import Any

from backend.core import clock
from tests.factories import PASSWORD, World


async def device_login(
    client: Any, username: str, device_id: str = "phone-0001", password: str = PASSWORD
) -> dict[str, Any]:
    response = await client.post(
        "/mobile/v1/auth/login",
        json={
            "username": username,
            "password": password,
            "device_id": device_id,
            "platform": "android",
            "app_version": "1.0.0",
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body["headers"] = {"Authorization": f"Bearer {body['access_token']}"}
    return body


def record_body(world: World, **changes: Any) -> dict[str, Any]:
    """A 现场检查笔录 on a task, signed by the party, by the two first officers of town A."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "kind": "inspection",
        "task_id": str(uuid.uuid4()),
        "place": "甲镇工业园 3 号",
        "started_at": clock.iso(clock.now()),
        "officer_ids": [str(o) for o in world.officers_a[:2]],
        "party": {"name": "张三", "role": "legal_representative"},
        "findings": "现场未发现问题",
        "signature": "signed",
        "signature_evidence_id": str(uuid.uuid4()),
    }
    body.update(changes)
    return body


def key() -> str:
    return str(uuid.uuid4())
