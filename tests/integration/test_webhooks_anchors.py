"""Webhooks with retries and signatures; audit anchors catch a rewritten database."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

from backend import cli
from backend.audit import service as audit
from backend.audit.anchors import anchor_now, verify_anchors
from backend.audit.tables import AuditEvent
from backend.core import clock
from backend.core.db import bind_engine, current_engine, write_tx
from backend.escalations.sweep import run_sweep
from backend.escalations.webhooks import SIGNATURE_HEADER, deliver_due
from storage import LocalStore
from tests.factories import build_world, login
from tests.integration.test_escalations import FakeCases, local_noon

TZ = ZoneInfo("Asia/Shanghai")


async def run_cli(*argv: str) -> int:
    """``fieldcase ARGV`` in a thread (it runs its own loop), then rebind the test's engine."""
    engine = current_engine()
    try:
        return await asyncio.to_thread(cli.main, list(argv))
    finally:
        bind_engine(engine)


class Receiver:
    """An SMS-gateway stand-in on loopback that fails ``failures`` times, then accepts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                failing = len(receiver.received) <= receiver.failures
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_webhook_failing_twice_gets_the_escalation_on_the_third_try_signed(client, db):
    world = await build_world()
    admin = await login(client, "admin")
    with Receiver(failures=2) as receiver:
        created = await client.post(
            "/api/v1/webhooks",
            headers=admin,
            json={"name": "短信网关", "url": receiver.url, "levels": ["overdue"]},
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        secret = hook["secret"]
        assert len(secret) >= 32
        listed = (await client.get("/api/v1/webhooks", headers=admin)).json()
        assert listed[0]["secret"] is None  # shown once only
        bad = await client.post(
            "/api/v1/webhooks", headers=admin, json={"name": "x", "url": "ftp://nowhere"}
        )
        assert bad.status_code == 400 and "url" in bad.json()["detail"]

        cases = FakeCases()
        cases.org_unit = world.town_a
        cases.officers = (world.officers_a[1],)
        case_id = str(uuid.uuid4())
        cases.due[case_id] = dt.date(2026, 10, 9)
        start = local_noon(dt.date(2026, 10, 10))
        with clock.travel_to(start):
            await run_sweep(tz=TZ, providers={"cases": cases.provide})
            first = await deliver_due()
        assert (first.delivered, first.retrying) == (0, 1)
        # Not due again before the 30 s backoff; then 60 s after the second failure.
        with clock.travel_to(start + dt.timedelta(seconds=20)):
            assert (await deliver_due()).retrying == 0
        with clock.travel_to(start + dt.timedelta(seconds=31)):
            assert (await deliver_due()).retrying == 1
        with clock.travel_to(start + dt.timedelta(seconds=31 + 50)):
            assert (await deliver_due()).delivered == 0
        with clock.travel_to(start + dt.timedelta(seconds=31 + 61)):
            assert (await deliver_due()).delivered == 1
            assert (await deliver_due()).delivered == 0

    assert len(receiver.received) == 3
    headers, body = receiver.received[-1]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected
    assert [h["X-Fieldcase-Attempt"] for h, _ in receiver.received] == ["1", "2", "3"]
    payload = json.loads(body)
    assert payload["level"] == "overdue" and payload["target_id"] == case_id
    assert {r["username"] for r in payload["recipients"]} == {"officer_a", "leader_a"}

    with clock.travel_to(start + dt.timedelta(seconds=100)):
        admin = await login(client, "admin")
        page = (await client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin)).json()
    delivery = page["items"][0]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3
    assert [(a["attempt"], a["status_code"]) for a in delivery["history"]] == [
        (1, 503),
        (2, 503),
        (3, 204),
    ]
    events = await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.stream == f"webhook_delivery:{delivery['id']}"
    )
    assert [e["action"] for e in events] == [
        "webhook.attempt_failed",
        "webhook.attempt_failed",
        "webhook.delivered",
    ]


async def test_rules_are_data_an_admin_changes(client, db):
    await build_world()
    admin = await login(client, "admin")
    rules = (await client.get("/api/v1/escalation-rules", headers=admin)).json()
    kinds = {r["kind"]: r for r in rules}
    assert kinds["lead.filing_decision"]["warning_working_days"] == 3
    assert kinds["case.decision"]["recipients"]["escalated"] == [
        "assignees",
        "squad_leader",
        "head",
        "command_centre",
    ]
    changed = await client.patch(
        "/api/v1/escalation-rules/case.decision",
        headers=admin,
        json={
            "warning_working_days": 5,
            "recipients": {
                "warning": ["squad_leader"],
                "overdue": ["head"],
                "escalated": ["command_centre"],
            },
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["warning_working_days"] == 5
    bad = await client.patch(
        "/api/v1/escalation-rules/case.decision",
        headers=admin,
        json={"warning_working_days": -1},
    )
    assert bad.status_code == 400 and "warning_working_days" in bad.json()["detail"]
    bad = await client.patch(
        "/api/v1/escalation-rules/case.decision",
        headers=admin,
        json={"recipients": {"warning": ["mayor"], "overdue": [], "escalated": []}},
    )
    assert bad.status_code == 400
    officer = await login(client, "officer_a")
    denied = await client.patch(
        "/api/v1/escalation-rules/case.decision", headers=officer, json={"active": False}
    )
    assert denied.status_code == 403
    missing = await client.get("/api/v1/escalation-rules/no.such", headers=admin)
    assert missing.status_code == 404
    body = {"kind": "case.payment", "name": "罚款缴纳 15 日", "target_kind": "case_deadline"}
    created = await client.post("/api/v1/escalation-rules", headers=admin, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["recipients"]["overdue"] == ["assignees", "squad_leader"]
    again = await client.post("/api/v1/escalation-rules", headers=admin, json=body)
    assert again.status_code == 409 and again.json()["code"] == "escalation_rule.exists"
    events = await AuditEvent.select(AuditEvent.action).where(
        AuditEvent.action == "escalation_rule.updated"
    )
    assert len(events) == 1


async def test_audit_verify_catches_a_rewrite_that_recomputed_every_hash(
    client, db, settings, monkeypatch, capsys
):
    await build_world()
    store = LocalStore(root=settings.storage.path, secret=settings.secret_key)
    first = await anchor_now(store=store)
    assert first is not None and first.seq == 1
    assert await anchor_now(store=store) is None  # nothing moved
    async with write_tx():
        await audit.record(stream="case:x", action="case.filed", actor="user:1", payload={})
    second = await anchor_now(store=store)
    assert second is not None and second.changed == 1
    assert await verify_anchors(store=store) == (2, None)

    public = (await client.get("/public/anchors")).json()
    assert [a["seq"] for a in public] == [2, 1]
    assert public[0]["root"] == second.root

    monkeypatch.setenv("FIELDCASE_DATABASE_URL", db.url_text)
    monkeypatch.setenv("FIELDCASE_STORAGE_URL", f"file://{settings.storage.path}")
    assert await run_cli("audit", "verify") == 0
    assert "2 anchors match" in capsys.readouterr().out
    # The operator's job tools: list the jobs, run one once.
    assert await run_cli("scheduler", "list") == 0
    listing = capsys.readouterr().out
    for job in ("escalations.sweep", "escalations.webhooks", "audit.anchor", "calendar.check"):
        assert job in listing
    assert await run_cli("scheduler", "run", "audit.anchor") == 0
    assert "no stream moved" in capsys.readouterr().out
    assert await run_cli("scheduler", "run", "no.such.job") == 1
    assert "no job 'no.such.job'" in capsys.readouterr().err

    # Rewrite history: change an old event and recompute the whole chain after it.
    rows = await AuditEvent.select().where(AuditEvent.stream == "case:x").order_by(AuditEvent.seq)
    prev = audit.GENESIS_HASH
    for row in rows:
        payload = {"fine": 1}
        digest = audit.event_hash(
            stream=row["stream"],
            seq=row["seq"],
            at=clock.iso(row["at"]),
            actor=row["actor"],
            action=row["action"],
            payload=payload,
            prev_hash=prev,
        )
        await AuditEvent.update(
            {
                AuditEvent.payload: json.dumps(payload),
                AuditEvent.hash: digest,
                AuditEvent.prev_hash: prev,
            }
        ).where(AuditEvent.id == row["id"])
        prev = digest
    *_, broken = await audit.verify_chain()
    assert broken is None  # the chain alone cannot tell
    assert await run_cli("audit", "verify") == 1
    err = capsys.readouterr().err
    assert "case:x" in err and "anchored by anchor 2" in err
