"""Helpers for mobile API tests: device login and on-site record bodies."""

from __future__ import annotations

import uuid
from typing import Any

from backend.cases import schemas as cs
from backend.cases import service as cases
from backend.core import clock
from backend.core.auth import system_principal
from backend.matters import schemas as ms
from backend.matters import service as matters
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


async def onsite_case(world: World) -> uuid.UUID:
    """A case of township A, filed directly, to write on-site records against."""
    sysp = system_principal("test")
    matter = await matters.create_matter(
        principal=sysp,
        data=ms.MatterIn(
            code=f"M-ONS-{uuid.uuid4().hex[:6].upper()}",
            name="现场检查测试事项",
            category="penalty",
            domain="market",
        ),
    )
    case = await cases.file_case(
        principal=sysp,
        data=cs.CaseFileIn(matter_id=matter.id, org_unit_id=world.town_a, subject_name="某店"),
    )
    return case.id


def record_body(world: World, case_id: uuid.UUID, **changes: Any) -> dict[str, Any]:
    """A 现场检查笔录 on a case, signed by the party, by the two first officers of town A."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "kind": "inspection",
        "case_id": str(case_id),
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
