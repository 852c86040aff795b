"""A county with matters and grants on top of tests/factories.build_world."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from backend.core.auth import system_principal
from backend.matters import schemas as ms
from backend.matters import service as matters
from tests.factories import World, build_world, login


@dataclass
class CaseWorld:
    world: World
    # Sale of expired food: major, seizure must be recorded; granted to township A.
    food: uuid.UUID
    # Street vending: minor; granted to township A.
    vending: uuid.UUID
    # Special equipment: never granted (county only).
    boiler: uuid.UUID


async def build_case_world(*, granted_from: dt.date = dt.date(2026, 1, 1)) -> CaseWorld:
    world = await build_world()
    sysp = system_principal("test")
    food = await matters.create_matter(
        principal=sysp,
        data=ms.MatterIn(
            code="M-MKT-010",
            name="销售过期食品",
            category="penalty",
            domain="market",
            legal_basis="食品安全法第124条",
            fine_min=5000,
            fine_max=200000,
            major=True,
            recorded_actions=["seizure"],
        ),
    )
    vending = await matters.create_matter(
        principal=sysp,
        data=ms.MatterIn(
            code="M-URB-001", name="擅自占道经营", category="penalty", domain="urban",
            fine_max=500,
        ),
    )  # fmt: skip
    boiler = await matters.create_matter(
        principal=sysp,
        data=ms.MatterIn(
            code="M-SAF-100", name="特种设备未经检验使用", category="penalty", domain="market",
            major=True,
        ),
    )  # fmt: skip
    for matter in (food, vending):
        await matters.create_grant(
            principal=sysp,
            data=ms.GrantIn(
                matter_id=matter.id, org_unit_id=world.town_a, effective_from=granted_from
            ),
        )
    return CaseWorld(world=world, food=food.id, vending=vending.id, boiler=boiler.id)


class Api:
    """Calls the API as a named user (logging in again after the clock moved)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def post(self, user: str, url: str, body: Any = None, *, expect: int = 200) -> Any:
        headers = await login(self.client, user)
        response = await self.client.post(f"/api/v1{url}", headers=headers, json=body or {})
        assert response.status_code == expect, response.text
        return response.json()

    async def get(self, user: str, url: str, *, expect: int = 200) -> Any:
        headers = await login(self.client, user)
        response = await self.client.get(f"/api/v1{url}", headers=headers)
        assert response.status_code == expect, response.text
        return response.json()


async def upload_recording(
    client: Any, user: str, case_id: str, data: bytes, *, captured_at: str
) -> str:
    """A video of the case through the real evidence flow (the phone's calls): declare it,
    PUT the bytes to the store's presigned URL, complete; the item comes back sealed."""
    from tests.evidence_kit import declaration, put_single

    headers = await login(client, user)
    body = declaration(
        data, uuid.UUID(case_id), kind="video", content_type="video/mp4",
        captured_at=captured_at, target_kind="case",
    )  # fmt: skip
    created = await client.post("/mobile/v1/evidence", headers=headers, json=body)
    assert created.status_code == 201, created.text
    evidence_id = str(created.json()["evidence_id"])
    put = await put_single(client, created.json()["upload"], data)
    assert put.status_code == 200, put.text
    done = await client.post(f"/mobile/v1/evidence/{evidence_id}/complete", headers=headers)
    assert done.status_code == 200 and done.json()["status"] == "sealed", done.text
    return evidence_id


async def recording_for(
    case_id: str,
    org_unit_id: uuid.UUID,
    *,
    store: Any = None,
    data: bytes = b"mp4",
    sealed: bytes | None = None,
) -> str:
    """A sealed video attached to the case (its bytes put in ``store`` when given).

    ``sealed``: the bytes the record says were sealed, when they differ from those stored."""
    import hashlib

    evidence_id = uuid.uuid4()
    key = f"evidence/test/{evidence_id}"
    if store is not None:
        await store.put_bytes(key, data, content_type="video/mp4")
    try:
        from backend.evidence.tables import Evidence
    except ImportError:
        return str(evidence_id)
    from backend.core import clock
    from backend.core.db import write_tx

    now = clock.now()
    async with write_tx():
        await Evidence.insert(
            Evidence(
                id=evidence_id,
                client_id=uuid.uuid4(),
                org_unit=org_unit_id,
                target_kind="case",
                target_id=uuid.UUID(case_id),
                kind="video",
                content_type="video/mp4",
                size=len(data if sealed is None else sealed),
                sha256=hashlib.sha256(data if sealed is None else sealed).hexdigest(),
                object_key=key,
                status="sealed",
                captured_at=now,
                created_by="test",
                created_at=now,
            )
        ).run()
    return str(evidence_id)
