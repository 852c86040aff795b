"""Contracts of DESIGN.md checked from the outside: the audit chain recomputed from the API,
and the error shape of one bad request per router."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import defaultdict
from typing import Any

from backend.core import clock
from tests.factories import build_world, login

DOTTED = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")


def canonical(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8 (DESIGN.md, "Audit log")."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


async def check_audit_chains(client: Any) -> dict[str, list[dict[str, Any]]]:
    """Read every audit event through the API and recompute every stream's hash chain."""
    auditor = await login(client, "auditor")
    events: list[dict[str, Any]] = []
    while True:
        response = await client.get(
            "/api/v1/audit", headers=auditor, params={"limit": 100, "offset": len(events)}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        events += page
        if len(page) < 100:
            break
    streams: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        streams[event["stream"]].append(event)
    for stream, chain in streams.items():
        assert [e["seq"] for e in chain] == list(range(1, len(chain) + 1)), stream
        for n, event in enumerate(chain):
            body = {k: v for k, v in event.items() if k != "hash"}
            digest = hashlib.sha256(event["prev_hash"].encode() + canonical(body)).hexdigest()
            assert event["hash"] == digest, f"{stream} seq {event['seq']}: {event}"
            if n:
                assert event["prev_hash"] == chain[n - 1]["hash"], f"{stream} seq {event['seq']}"
    return streams


async def test_audit_chain_recomputes_from_the_api(client: Any, db: Any) -> None:
    world = await build_world(officers_per_team=2)
    admin = await login(client, "admin")
    for status in ("on_leave", "on_duty"):
        response = await client.patch(
            f"/api/v1/officers/{world.officers_a[0]}", headers=admin, json={"status": status}
        )
        assert response.status_code == 200, response.text
    response = await client.patch(
        f"/api/v1/org-units/{world.town_a}", headers=admin, json={"name": '甲镇 "新"\\n'}
    )
    assert response.status_code == 200, response.text

    streams = await check_audit_chains(client)
    assert f"officer:{world.officers_a[0]}" in streams and f"org_unit:{world.town_a}" in streams


async def test_every_router_answers_bad_requests_with_the_error_shape(client: Any, db: Any) -> None:
    world = await build_world(officers_per_team=2)
    admin = await login(client, "admin")
    admin_a = await login(client, "admin_a")
    supervisor = await login(client, "supervisor")
    auditor = await login(client, "auditor")
    nowhere = uuid.uuid4()
    today = clock.now().date().isoformat()
    # (method, url, headers, json, expected status, a word the detail must contain)
    cases: list[tuple[str, str, dict[str, str], Any, int, str]] = [
        # unknown fields
        ("post", "/api/v1/auth/login", {}, {"username": "a", "password": "b", "x": 1}, 400, "x"),
        (
            "post",
            "/api/v1/org-units",
            admin,
            {
                "code": "Z",
                "name": "z",
                "kind": "township",
                "parent_id": str(world.county),
                "colour": 1,
            },
            400,
            "colour",
        ),
        ("post", "/api/v1/matters", admin, {"bogus_field": 1}, 400, "bogus_field"),
        ("post", "/api/v1/escalation-rules", admin, {"bogus_field": 1}, 400, "bogus_field"),
        ("post", "/api/v1/inspection-items", supervisor, {"bogus_field": 1}, 400, "bogus_field"),
        ("post", "/mobile/v1/auth/login", {}, {"bogus_field": 1}, 400, "bogus_field"),
        # wrong types
        ("patch", f"/api/v1/officers/{world.officers_a[0]}", admin, {"status": 5}, 400, "status"),
        ("post", "/api/v1/leads", supervisor, {"subject_code": 5}, 400, ""),
        ("post", "/api/v1/webhooks", admin, {"url": 5}, 400, ""),
        ("post", "/api/v1/subjects", supervisor, {"credit_code": 5}, 400, "credit_code"),
        (
            "post",
            "/api/v1/inspection-plans",
            supervisor,
            {
                "code": "P",
                "name": "p",
                "org_unit_id": str(world.county),
                "item_codes": ["X"],
                "planned_start": today,
                "planned_end": today,
                "team_size": "two",
            },
            400,
            "team_size",
        ),
        ("get", "/api/v1/audit?limit=many", auditor, None, 400, "limit"),
        ("get", "/api/v1/calendar/days?start=yesterday", admin, None, 400, "start"),
        # out of scope or unknown objects
        ("get", f"/api/v1/officers/{world.officers_b[0]}", admin_a, None, 404, ""),
        ("get", f"/api/v1/org-units/{world.town_b}", admin_a, None, 404, ""),
        ("get", f"/api/v1/leads/{nowhere}", supervisor, None, 404, ""),
        ("get", f"/api/v1/matters/{nowhere}", admin, None, 404, ""),
        ("get", f"/api/v1/onsite-records/{nowhere}", admin, None, 404, ""),
        ("get", f"/api/v1/inspection-plans/{nowhere}", supervisor, None, 404, ""),
        ("get", f"/api/v1/inspection-tasks/{nowhere}", supervisor, None, 404, ""),
        ("get", "/api/v1/escalation-rules/nonexistent", admin, None, 404, ""),
        ("get", f"/public/draws/{nowhere}", {}, None, 404, ""),
        ("get", f"/mobile/v1/onsite-records/{nowhere}", {}, None, 401, ""),
        ("get", "/api/v1/auth/me", {}, None, 401, ""),
    ]
    failures = []
    for method, url, headers, body, status, word in cases:
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["json"] = body
        response = await getattr(client, method)(url, **kwargs)
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        ok = (
            response.status_code == status
            and isinstance(payload, dict)
            and set(payload) == {"status", "code", "detail"}
            and payload["status"] == status
            and isinstance(payload["code"], str)
            and DOTTED.match(payload["code"]) is not None
            and isinstance(payload["detail"], str)
            and word in payload["detail"]
        )
        if not ok:
            failures.append(f"{method.upper()} {url}: {response.status_code} {payload}")
    assert not failures, "\n".join(failures)
