"""The demo's inspections: 2,000 valid subjects, a drawn plan whose public record verifies."""

from __future__ import annotations

from backend.audit.tables import AuditEvent
from backend.demo import run_demo
from backend.inspections import credit_code, hashrank
from backend.inspections.tables import InspectionPlan, Subject
from backend.orgs.tables import Conflict


async def test_demo_subjects_plan_and_verifiable_draw(client, db):  # type: ignore[no-untyped-def]
    await run_demo(password="demo-pass-1")
    rows = await Subject.select(Subject.credit_code, Subject.risk_class, Subject.grid_code).run()
    assert len(rows) == 2000
    assert all(credit_code.problem(r["credit_code"]) is None for r in rows)
    assert {r["risk_class"] for r in rows} == {"A", "B", "C", "D"}
    assert len({r["grid_code"] for r in rows}) >= 40
    assert await Conflict.count() >= 5
    # The mobile demo may add township plans (JY-2026-YD-*) when the random draw passed a
    # demo officer by; these assertions are about the inspections demo's own plans.
    plans = await InspectionPlan.select().run()
    statuses = {r["code"]: r["status"] for r in plans if r["code"].startswith("JY-2026-SSJ")}
    assert statuses == {"JY-2026-SSJ-01": "in_progress", "JY-2026-SSJ-02": "published"}

    listed = (await client.get("/public/draws")).json()
    draws = [d for d in listed if d["plan_code"].startswith("JY-2026-SSJ")]
    assert len(draws) == 1
    record = (await client.get(draws[0]["record_url"])).json()
    hashrank.verify(record)
    reasons = {s["reason"] for a in record["assignments"] for s in a["skipped"]}
    assert {"on_leave", "certificate"} & reasons
    results = (await client.get("/public/results")).json()
    assert results["total"] == 6  # three tasks, two items each

    events = await AuditEvent.count()
    await run_demo(password="demo-pass-1")
    assert await AuditEvent.count() == events
