"""Deadline sweeps: warning → overdue → escalated on the right working days, once each."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from zoneinfo import ZoneInfo

from backend.audit.tables import AuditEvent
from backend.core import clock
from backend.core.deadlines import DeadlineItem, end_of_day
from backend.escalations.sweep import run_sweep
from backend.escalations.tables import EscalationRecord, Notification, TrackedDeadline
from tests.factories import build_world, login

TZ = ZoneInfo("Asia/Shanghai")


def local_noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=TZ)


class FakeCases:
    """A test-only deadline provider: open cases with a decision due day."""

    def __init__(self) -> None:
        self.due: dict[str, dt.date] = {}
        self.resolved: set[str] = set()
        self.org_unit: uuid.UUID | None = None
        self.officers: tuple[uuid.UUID, ...] = ()
        self.calls: list[tuple[dt.datetime, list[str]]] = []

    async def provide(
        self, *, horizon: dt.datetime, watched: Sequence[str]
    ) -> AsyncIterator[DeadlineItem]:
        self.calls.append((horizon, list(watched)))
        for case_id, day in self.due.items():
            due_at = end_of_day(day, TZ)
            if case_id in self.resolved:
                if case_id in watched:
                    yield DeadlineItem("case", case_id, "case.decision", due_at, resolved=True)
                continue
            if due_at <= horizon or case_id in watched:
                yield DeadlineItem(
                    target_kind="case",
                    target_id=case_id,
                    rule_kind="case.decision",
                    due_at=due_at,
                    org_unit_id=self.org_unit,
                    officer_ids=self.officers,
                    title=f"案件 {case_id[:8]}",
                )


async def levels_of(case_id: str) -> list[str]:
    rows = await EscalationRecord.select(EscalationRecord.level).where(
        EscalationRecord.target_id == case_id
    )
    return sorted(r["level"] for r in rows)


async def test_undecided_case_warns_overdue_escalates_across_national_day_then_closes(client, db):
    world = await build_world()
    cases = FakeCases()
    cases.org_unit = world.town_a
    cases.officers = (world.officers_a[1],)  # the account officer_a
    case_id = str(uuid.uuid4())
    # Due Friday 9 Oct 2026: 1-7 Oct is the National Day holiday, Sat 10 Oct a make-up day.
    cases.due[case_id] = dt.date(2026, 10, 9)
    providers = {"cases": cases.provide}

    expected = [
        (dt.date(2026, 9, 25), []),  # horizon does not reach the case yet
        (dt.date(2026, 9, 28), []),
        (dt.date(2026, 9, 29), ["warning"]),  # 3 WD before: 29, 30 Sep, 8 Oct
        (dt.date(2026, 10, 5), ["warning"]),
        (dt.date(2026, 10, 9), ["warning"]),
        (dt.date(2026, 10, 10), ["overdue", "warning"]),
        (dt.date(2026, 10, 11), ["overdue", "warning"]),
        (dt.date(2026, 10, 12), ["overdue", "warning"]),  # 2 WD after: 10 (make-up) and 12 Oct
        (dt.date(2026, 10, 13), ["escalated", "overdue", "warning"]),
        (dt.date(2026, 10, 14), ["escalated", "overdue", "warning"]),
    ]
    for day, levels in expected:
        with clock.travel_to(local_noon(day)):
            await run_sweep(tz=TZ, providers=providers)
            await run_sweep(tz=TZ, providers=providers)  # a second sweep adds nothing
        assert await levels_of(case_id) == levels, day

    fired = await EscalationRecord.select().where(EscalationRecord.target_id == case_id)
    at = {r["level"]: r["fired_at"].astimezone(TZ).date() for r in fired}
    assert at == {
        "warning": dt.date(2026, 9, 29),
        "overdue": dt.date(2026, 10, 10),
        "escalated": dt.date(2026, 10, 13),
    }

    with clock.travel_to(local_noon(dt.date(2026, 10, 14))):
        # The ladder: officer → + squad leader → + head of the township and county command centre.
        inbox = {}
        for user in ("officer_a", "leader_a", "head_a", "supervisor", "officer_b"):
            headers = await login(client, user)
            page = (await client.get("/api/v1/notifications", headers=headers)).json()
            inbox[user] = [n["level"] for n in page["items"]]
        assert sorted(inbox["officer_a"]) == ["escalated", "overdue", "warning"]
        assert sorted(inbox["leader_a"]) == ["escalated", "overdue"]
        assert inbox["head_a"] == ["escalated"]
        assert inbox["supervisor"] == ["escalated"]
        assert inbox["officer_b"] == []

        # Reading one puts it after the unread ones; another user's notification is 404.
        headers = await login(client, "officer_a")
        page = (await client.get("/api/v1/notifications", headers=headers)).json()
        first = page["items"][0]
        assert first["escalation_status"] == "open"
        read = await client.post(f"/api/v1/notifications/{first['id']}/read", headers=headers)
        assert read.status_code == 200 and read.json()["read_at"] is not None
        page = (await client.get("/api/v1/notifications", headers=headers)).json()
        assert page["items"][-1]["id"] == first["id"]
        assert [n["read_at"] is None for n in page["items"]] == [True, True, False]
        other = await login(client, "leader_a")
        denied = await client.post(f"/api/v1/notifications/{first['id']}/read", headers=other)
        assert denied.status_code == 404
        assert denied.json()["code"] == "notification.not_found"

        # The case is decided: the next sweep closes its open escalations.
        cases.resolved.add(case_id)
        result = await run_sweep(tz=TZ, providers=providers)
        assert result.resolved == 1
        statuses = await EscalationRecord.select(EscalationRecord.status).where(
            EscalationRecord.target_id == case_id
        )
        assert {r["status"] for r in statuses} == {"closed"}
        page = (await client.get("/api/v1/notifications", headers=headers)).json()
        assert {n["escalation_status"] for n in page["items"]} == {"closed"}

    deadline = await TrackedDeadline.select().where(TrackedDeadline.target_id == case_id).first()
    events = await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.stream == f"deadline:{deadline['id']}"
    )
    assert [e["action"] for e in events] == [
        "deadline.tracked",
        "escalation.warning",
        "escalation.overdue",
        "escalation.escalated",
        "deadline.resolved",
    ]


async def test_two_concurrent_sweeps_fire_each_level_exactly_once(engine, db):
    world = await build_world()
    cases = FakeCases()
    cases.org_unit = world.town_b
    for _ in range(150):
        cases.due[str(uuid.uuid4())] = dt.date(2026, 10, 9)
    providers = {"cases": cases.provide}
    # First seen when already overdue: only "overdue" fires (no stale warning).
    with clock.travel_to(local_noon(dt.date(2026, 10, 10))):
        results = await asyncio.gather(
            run_sweep(tz=TZ, providers=providers, batch=40),
            run_sweep(tz=TZ, providers=providers, batch=40),
        )
    assert sum(r.fired for r in results) == 150
    with clock.travel_to(local_noon(dt.date(2026, 10, 13))):
        results = await asyncio.gather(
            run_sweep(tz=TZ, providers=providers, batch=40),
            run_sweep(tz=TZ, providers=providers, batch=40),
        )
    assert sum(r.fired for r in results) == 150
    rows = await EscalationRecord.select(EscalationRecord.target_id, EscalationRecord.level)
    assert len(rows) == 300
    assert {(r["target_id"], r["level"]) for r in rows} == {
        (case, level) for case in cases.due for level in ("overdue", "escalated")
    }
    assert await TrackedDeadline.count() == 150
    # Nobody is assigned and town B has no squad leader account: "overdue" falls through the
    # ladder to the nearest head (the county's, B has none); "escalated" adds the command centre.
    notes = await Notification.select(Notification.user_id, Notification.level)
    heard = {(n["level"], n["user_id"]) for n in notes}
    assert heard == {
        ("overdue", world.users["head"]),
        ("escalated", world.users["head"]),
        ("escalated", world.users["supervisor"]),
    }
    assert len(notes) == 450
