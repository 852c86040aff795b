"""The demo county: the shape the README promises, loaded idempotently, with an intact audit log."""

from __future__ import annotations

import datetime as dt

from backend.audit.service import verify_chain
from backend.audit.tables import AuditEvent
from backend.core import clock
from backend.demo import run_demo
from backend.orgs.tables import Certificate, Grid, Officer, OrgUnit, Team, User
from tests.mobile_helpers import device_login

ROLES = {"officer", "squad_leader", "head", "supervisor", "legal_reviewer", "admin", "auditor"}


async def test_demo_county_is_complete_and_idempotent(client, db):  # type: ignore[no-untyped-def]
    result = await run_demo(password="demo-pass-1")
    assert result.created
    kinds = [r["kind"] for r in await OrgUnit.select(OrgUnit.kind).run()]
    assert kinds.count("county") == 1
    assert kinds.count("township") == 3
    assert kinds.count("zone") == 1
    levels = [r["level"] for r in await Grid.select(Grid.level).run()]
    assert set(levels) == {1, 2, 3}
    assert levels.count(3) >= 40
    assert await Team.count() == 5
    officers = await Officer.select(Officer.id, Officer.status).run()
    assert len(officers) == 30
    assert any(o["status"] == "on_leave" for o in officers)
    today = clock.local_today()
    certs = await Certificate.select(Certificate.valid_to).run()
    assert any(c["valid_to"] < today for c in certs)
    assert sum(c["valid_to"] >= today + dt.timedelta(days=30) for c in certs) >= 25
    users = await User.select(User.username, User.roles).run()
    names = {u["username"] for u in users}
    assert {"admin", "supervisor", "head", "legal", "auditor", "leader1"} <= names
    assert {f"officer{i}" for i in range(1, 7)} <= names
    assert ROLES <= {role for u in users for role in u["roles"]}

    events = await AuditEvent.count()
    again = await run_demo(password="demo-pass-1")
    assert not again.created
    extra = (
        await AuditEvent.select(AuditEvent.action, AuditEvent.stream)
        .where(AuditEvent.id > events)
        .run()
    )
    assert await AuditEvent.count() == events, extra  # nothing created twice
    _, checked, broken = await verify_chain()
    assert broken is None and checked == events

    response = await client.post(
        "/api/v1/auth/login", json={"username": "leader1", "password": "demo-pass-1"}
    )
    assert response.status_code == 200, response.text

    # Every demo officer can try the app at once: an open inspection task and an open case.
    for n in range(1, 7):
        phone = await device_login(client, f"officer{n}", password="demo-pass-1")
        page = await client.get("/mobile/v1/work?limit=1000", headers=phone["headers"])
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        open_tasks = [
            i for i in items if i["kind"] == "task" and "task.check_in" in i["next_actions"]
        ]
        open_cases = [i for i in items if i["kind"] == "case" and i["next_actions"]]
        assert open_tasks and open_cases, (f"officer{n}", [(i["kind"], i["status"]) for i in items])
