"""Evidence stuck in `uploaded` escalates to its uploader; sealing it closes the escalation."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from backend.core import clock
from backend.escalations.sweep import run_sweep
from backend.escalations.tables import EscalationRecord, Notification
from backend.evidence.deadlines import provide
from backend.evidence.tables import Evidence
from tests.factories import build_world

TZ = ZoneInfo("Asia/Shanghai")


async def test_evidence_left_unsealed_goes_overdue_once_then_closes_when_sealed(engine, db):
    world = await build_world()
    uploaded = dt.datetime(2026, 10, 12, 10, 0, tzinfo=TZ)
    evidence_id = uuid.uuid4()
    await Evidence.insert(
        Evidence(
            id=evidence_id,
            client_id=uuid.uuid4(),
            org_unit=world.town_a,
            target_kind="task",
            target_id=uuid.uuid4(),
            kind="photo",
            content_type="image/jpeg",
            size=1,
            sha256="0" * 64,
            object_key="evidence/x",
            status="uploaded",
            captured_at=uploaded,
            created_by=f"user:{world.users['officer_a']}",
            created_at=uploaded,
            uploaded_at=uploaded,
        )
    )
    providers = {"evidence": provide}
    with clock.travel_to(uploaded + dt.timedelta(minutes=30)):
        assert (await run_sweep(tz=TZ, providers=providers)).tracked == 0  # within the grace
    with clock.travel_to(uploaded + dt.timedelta(minutes=90)):
        assert (await run_sweep(tz=TZ, providers=providers)).fired == 1
        assert (await run_sweep(tz=TZ, providers=providers)).fired == 0
    notes = await Notification.select(Notification.user_id, Notification.level)
    assert {(n["level"], n["user_id"]) for n in notes} == {
        ("overdue", world.users["officer_a"]),
        ("overdue", world.users["leader_a"]),
    }
    await Evidence.update({Evidence.status: "sealed"}).where(Evidence.id == evidence_id)
    with clock.travel_to(uploaded + dt.timedelta(minutes=95)):
        assert (await run_sweep(tz=TZ, providers=providers)).resolved == 1
    records = await EscalationRecord.select(EscalationRecord.level, EscalationRecord.status)
    assert records == [{"level": "overdue", "status": "closed"}]
