"""Mobile API: device login and revocation, /me, exactly-once writes, sync batches, transport."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import uuid
from datetime import timedelta

from backend.audit import service as audit
from backend.core import clock
from backend.onsite.tables import OnsiteRecord
from mobile_api.operations import purge_expired
from mobile_api.tables import MobileOperation
from tests.factories import build_world, login
from tests.mobile_helpers import device_login, key, onsite_case, record_body


async def test_device_login_me_refresh_and_revocation(client, db, settings):
    world = await build_world()
    # A certificate close to its end shows a warning.
    from backend.core.auth import system_principal
    from backend.orgs import schemas as os_
    from backend.orgs import service as orgs

    today = clock.today(settings.timezone)  # certificates count local days
    await orgs.add_certificate(
        principal=system_principal("test"),
        officer_id=world.officers_a[1],
        data=os_.CertificateIn(
            number="CERT-SOON",
            domains=["market"],
            valid_from=today - timedelta(days=300),
            valid_to=today + timedelta(days=10),
        ),
    )
    phone = await device_login(client, "officer_a", device_id="phone-A1")
    me = await client.get("/mobile/v1/me", headers=phone["headers"])
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["officer"]["id"] == str(world.officers_a[1])
    assert body["device_id"] == "phone-A1"
    assert [t["id"] for t in body["teams"]] == [str(world.team_a)]
    soon = next(c for c in body["certificates"] if c["number"] == "CERT-SOON")
    assert soon["status"] == "expiring" and soon["days_left"] == 10 and soon["warning"]
    assert any("CERT-SOON" in w for w in body["warnings"])
    assert "onsite_record.create" in body["permissions"]
    assert "work.read" in body["permissions"]
    work = await client.get("/mobile/v1/work", headers=phone["headers"])
    assert work.status_code == 200, work.text
    assert set(work.json()) == {"items", "removed", "cursor", "has_more"}
    bad_cursor = await client.get("/mobile/v1/work?since=abc", headers=phone["headers"])
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["code"] == "work.bad_cursor"

    # Refresh works only from the device the token was issued to, and rotates.
    wrong = await client.post(
        "/mobile/v1/auth/refresh",
        json={"refresh_token": phone["refresh_token"], "device_id": "phone-XX"},
    )
    assert wrong.status_code == 401
    rotated = await client.post(
        "/mobile/v1/auth/refresh",
        json={"refresh_token": phone["refresh_token"], "device_id": "phone-A1"},
    )
    assert rotated.status_code == 200
    new_headers = {"Authorization": f"Bearer {rotated.json()['access_token']}"}

    # The township admin revokes the phone: its tokens stop at once, and it cannot log in.
    admin = await login(client, "admin_a")
    devices = await client.get(
        "/api/v1/devices", params={"user_id": str(world.users["officer_a"])}, headers=admin
    )
    device = next(d for d in devices.json() if d["device_id"] == "phone-A1")
    revoked = await client.post(f"/api/v1/devices/{device['id']}/revoke", headers=admin)
    assert revoked.status_code == 200
    for headers in (phone["headers"], new_headers):
        after = await client.get("/mobile/v1/me", headers=headers)
        assert after.status_code == 401
        assert after.json()["code"] == "auth.session_ended"
    again = await client.post(
        "/mobile/v1/auth/login",
        json={"username": "officer_a", "password": "correct-horse-9", "device_id": "phone-A1"},
    )
    assert again.status_code == 401
    assert again.json()["code"] == "auth.device_revoked"


async def test_write_replayed_returns_the_first_response_and_changes_nothing(client, db):
    world = await build_world()
    case_id = await onsite_case(world)
    phone = await device_login(client, "officer_a")
    body = record_body(world, case_id)
    k = key()
    headers = {**phone["headers"], "Idempotency-Key": k}
    # Three copies at once (a flaky network retrying): one effect.
    first, second, third = await asyncio.gather(
        *[client.post("/mobile/v1/onsite-records", json=body, headers=headers) for _ in range(3)]
    )
    assert {r.status_code for r in (first, second, third)} == {201}
    assert first.json() == second.json() == third.json()
    assert sorted(r.headers["idempotent-replayed"] for r in (first, second, third)) == [
        "false",
        "true",
        "true",
    ]
    assert await OnsiteRecord.count().run() == 1
    assert await MobileOperation.count().run() == 1
    events = await audit.list_events(stream=f"onsite_record:{body['id']}")
    assert [e["action"] for e in events] == ["onsite_record.created"]

    # The same key with another body is refused; a write without a key too.
    other = await client.post(
        "/mobile/v1/onsite-records", json={**body, "place": "别处"}, headers=headers
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency.key_reused"
    missing = await client.post(
        "/mobile/v1/onsite-records", json=record_body(world, case_id), headers=phone["headers"]
    )
    assert missing.status_code == 400
    assert "Idempotency-Key" in missing.json()["detail"]

    # A domain refusal is stored too: the replay gives the same 400 and nothing is written.
    refused = record_body(world, case_id, signature="refused", signature_evidence_id=None)
    h2 = {**phone["headers"], "Idempotency-Key": key()}
    r1 = await client.post("/mobile/v1/onsite-records", json=refused, headers=h2)
    r2 = await client.post("/mobile/v1/onsite-records", json=refused, headers=h2)
    assert r1.status_code == r2.status_code == 400
    assert r1.json() == r2.json()
    assert r1.json()["code"] == "onsite_record.refusal_unrecorded"
    assert await OnsiteRecord.count().run() == 1

    # ETag on the detail: unchanged → 304.
    got = await client.get(f"/mobile/v1/onsite-records/{body['id']}", headers=phone["headers"])
    assert got.status_code == 200
    again = await client.get(
        f"/mobile/v1/onsite-records/{body['id']}",
        headers={**phone["headers"], "If-None-Match": got.headers["etag"]},
    )
    assert again.status_code == 304
    # An officer of another township does not see it.
    other_town = await device_login(client, "officer_b", device_id="phone-B1")
    hidden = await client.get(
        f"/mobile/v1/onsite-records/{body['id']}", headers=other_town["headers"]
    )
    assert hidden.status_code == 404
    # Nor may they write a record against town A's case, or a task that is not theirs.
    for target in ({}, {"case_id": None, "task_id": str(uuid.uuid4())}):
        foreign = await client.post(
            "/mobile/v1/onsite-records",
            json={**record_body(world, case_id), **target},
            headers={**other_town["headers"], "Idempotency-Key": key()},
        )
        assert foreign.status_code == 404, foreign.text
        assert foreign.json()["code"] in ("case.not_found", "task.not_found")
    assert await OnsiteRecord.count().run() == 1

    # Stored responses are kept 7 days, then purged.
    with clock.travel_to(clock.now() + timedelta(days=6, hours=23)):
        assert await purge_expired() == 0
    with clock.travel_to(clock.now() + timedelta(days=7, minutes=1)):
        assert await purge_expired() == 4  # two writes of officer_a, two refusals of officer_b


async def test_sync_batch_in_order_with_dependencies_conflicts_and_skew(client, db):
    world = await build_world()
    case_id = await onsite_case(world)
    phone = await device_login(client, "officer_a")
    rec = record_body(world, case_id)
    # The same officer twice: valid in shape, refused by the two-officer rule.
    bad = record_body(world, case_id, officer_ids=[str(world.officers_a[1])] * 2)
    k_create, k_bad, k_dep, k_update, k_stale, k_after = (key() for _ in range(6))
    late = clock.now() + timedelta(minutes=9)
    batch = {
        "device_time": clock.iso(late),
        "operations": [
            {"idempotency_key": k_create, "op": "onsite_record.create", "body": rec},
            {"idempotency_key": k_bad, "op": "onsite_record.create", "body": bad},
            {
                "idempotency_key": k_dep,
                "op": "onsite_record.update",
                "target": bad["id"],
                "body": {"version": 1, "findings": "补充"},
                "depends_on": [k_bad],
            },
            {
                "idempotency_key": k_update,
                "op": "onsite_record.update",
                "target": rec["id"],
                "body": {"version": 1, "findings": "发现灭火器过期，已责令改正"},
                "depends_on": [k_create],
                "device_time": clock.iso(clock.now()),
            },
            {
                "idempotency_key": k_stale,
                "op": "onsite_record.update",
                "target": rec["id"],
                "body": {"version": 1, "place": "旧版本上的修改"},
            },
            {"idempotency_key": k_after, "op": "no.such_op", "body": {}},
        ],
    }
    response = await client.post("/mobile/v1/sync", json=batch, headers=phone["headers"])
    assert response.status_code == 200, response.text
    out = response.json()
    assert [r["outcome"] for r in out["results"]] == [
        "applied",
        "failed",
        "dependency_failed",
        "applied",
        "failed",
        "rejected",
    ]
    assert [r["status"] for r in out["results"]] == [201, 400, 424, 200, 409, 400]
    assert out["results"][1]["body"]["code"] == "onsite_record.too_few_officers"
    assert k_bad in out["results"][2]["body"]["detail"]
    assert out["results"][3]["body"]["version"] == 2
    stale = out["results"][4]["body"]
    assert stale["code"] == "onsite_record.stale"
    assert stale["current"]["version"] == 2
    assert stale["current"]["findings"] == "发现灭火器过期，已责令改正"
    assert out["clock_skew_flagged"] is True and 530 <= out["clock_skew_seconds"] <= 545
    assert out["results"][0]["clock_skew_flagged"] is True
    # Device and server time are recorded on the action and in the audit chain.
    row = await MobileOperation.select().where(MobileOperation.idempotency_key == k_update).first()
    assert row["clock_skew_flagged"] is True
    assert row["device_time"] is not None and row["server_time"] is not None
    events = await audit.list_events(stream=f"mobile_op:{row['id']}")
    assert events[0]["payload"]["clock_skew_flagged"] is True

    # The same batch again (the answer was lost): nothing new happens.
    again = await client.post("/mobile/v1/sync", json=batch, headers=phone["headers"])
    results = again.json()["results"]
    assert [r["outcome"] for r in results] == [
        "replayed",
        "replayed",
        "dependency_failed",
        "replayed",
        "replayed",
        "rejected",
    ]
    assert [r["body"] for r in results[:2]] == [r["body"] for r in out["results"][:2]]
    assert results[3]["body"] == out["results"][3]["body"]
    assert await OnsiteRecord.count().run() == 1
    stored = await OnsiteRecord.select(OnsiteRecord.version).first()
    assert stored["version"] == 2

    # An HTTP replay of an op first sent in a batch gives the batch's answer.
    direct = await client.post(
        "/mobile/v1/onsite-records",
        json=rec,
        headers={**phone["headers"], "Idempotency-Key": k_create},
    )
    assert direct.status_code == 201
    assert direct.json() == out["results"][0]["body"]


async def test_gzip_both_ways_and_clear_413(client, db, monkeypatch):
    world = await build_world()
    case_id = await onsite_case(world)
    phone = await device_login(client, "officer_a")
    batch = {
        "operations": [
            {
                "idempotency_key": key(),
                "op": "onsite_record.create",
                "body": record_body(world, case_id),
            }
            for _ in range(3)
        ]
    }
    packed = gzip.compress(json.dumps(batch).encode())
    response = await client.post(
        "/mobile/v1/sync",
        content=packed,
        headers={
            **phone["headers"],
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Accept-Encoding": "gzip",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["applied"] == 3  # httpx inflates it
    assert "x-server-time" in response.headers

    # 9 MiB of zeros gzip to a few KiB: refused after inflating past the 8 MiB limit.
    bomb = gzip.compress(b'{"operations": [' + b" " * (9 * 1024 * 1024) + b"]}")
    too_big = await client.post(
        "/mobile/v1/sync",
        content=bomb,
        headers={
            **phone["headers"],
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "request.too_large"
    assert "8388608 bytes" in too_big.json()["detail"]
    plain = await client.post(
        "/mobile/v1/sync",
        content=b" " * (8 * 1024 * 1024 + 1),
        headers={**phone["headers"], "Content-Type": "application/json"},
    )
    assert plain.status_code == 413
    assert plain.json()["code"] == "request.too_large"
    broken = await client.post(
        "/mobile/v1/sync",
        content=b"not gzip at all",
        headers={
            **phone["headers"],
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "request.bad_gzip"
    assert await OnsiteRecord.count().run() == 3
    assert dt.datetime.fromisoformat(response.headers["x-server-time"].replace("Z", "+00:00"))
    assert uuid.UUID(str(world.team_a))


async def test_openapi_describes_every_mobile_endpoint(client, db):
    if db.kind != "sqlite":
        return  # the document does not depend on the database
    doc = (await client.get("/schema/openapi.json")).json()
    mobile = {p: ops for p, ops in doc["paths"].items() if p.startswith("/mobile/v1")}
    assert {"/mobile/v1/auth/login", "/mobile/v1/me", "/mobile/v1/sync", "/mobile/v1/work"} <= set(
        mobile
    )
    for path, ops in mobile.items():
        for method, op in ops.items():
            assert op.get("operationId"), (path, method)
            if method in ("post", "patch", "put") and not path.endswith("/logout"):
                assert "requestBody" in op, (path, method)
            ok = [c for c in op["responses"] if c.startswith("2")]
            assert ok, (path, method)
            if ok[0] != "204":
                assert "content" in op["responses"][ok[0]], (path, method, ok)
    sync_params = {p["name"] for p in mobile["/mobile/v1/onsite-records"]["post"]["parameters"]}
    assert "Idempotency-Key" in sync_params
