"""The audit log over the API: who may read it, and what a stream looks like."""

from __future__ import annotations

import itertools

from backend.audit.service import GENESIS_HASH, canonical_json
from tests.factories import build_world, login


async def test_auditor_reads_a_stream_as_a_chain_and_officer_is_refused(client, db):  # type: ignore[no-untyped-def]
    world = await build_world()
    admin = await login(client, "admin")
    stream = f"officer:{world.officers_a[0]}"
    for status in ("on_leave", "on_duty"):
        response = await client.patch(
            f"/api/v1/officers/{world.officers_a[0]}", headers=admin, json={"status": status}
        )
        assert response.status_code == 200, response.text

    auditor = await login(client, "auditor")
    response = await client.get("/api/v1/audit", params={"stream": stream}, headers=auditor)
    assert response.status_code == 200, response.text
    events = response.json()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["prev_hash"] == GENESIS_HASH
    for before, after in itertools.pairwise(events):
        assert after["prev_hash"] == before["hash"]
    changes = [e for e in events if e["payload"].get("status")]
    assert [e["payload"]["status"] for e in changes][-2:] == ["on_leave", "on_duty"]
    assert changes[-1]["actor"].startswith("user:")
    assert canonical_json({"b": 1, "a": "执法"}) == '{"a":"执法","b":1}'.encode()

    officer = await login(client, "officer_a")
    refused = await client.get("/api/v1/audit", params={"stream": stream}, headers=officer)
    assert refused.status_code == 403
    bad = await client.get("/api/v1/audit", params={"stream": "no-colon"}, headers=auditor)
    assert bad.status_code == 400
    assert bad.json()["code"] == "audit.bad_stream"


async def test_a_batch_continues_each_stream_from_its_head(db):
    """``record_many`` chains onto the last event of streams that already have many, and
    starts new ones at the genesis; the whole chain still verifies."""
    from backend.audit import service as audit
    from backend.core.db import write_tx

    async with write_tx():
        for n in range(5):
            await audit.record(stream="evidence:long", action="evidence.viewed", actor="t",
                               payload={"n": n})  # fmt: skip
    async with write_tx():
        out = await audit.record_many(
            [
                audit.PendingEvent(stream="evidence:long", action="evidence.exported",
                                   actor="t", payload={"n": 5}),
                audit.PendingEvent(stream="evidence:new", action="evidence.exported",
                                   actor="t", payload={}),
                audit.PendingEvent(stream="evidence:long", action="evidence.exported",
                                   actor="t", payload={"n": 6}),
            ]
        )  # fmt: skip
    assert [(r.stream, r.seq) for r in out] == [
        ("evidence:long", 6), ("evidence:new", 1), ("evidence:long", 7)
    ]  # fmt: skip
    events = await audit.events_by_stream(["evidence:long", "evidence:new"])
    long = events["evidence:long"]
    assert [e["seq"] for e in long] == list(range(1, 8))
    assert long[5]["prev_hash"] == long[4]["hash"] and long[6]["prev_hash"] == long[5]["hash"]
    assert events["evidence:new"][0]["prev_hash"] == GENESIS_HASH
    streams, count, broken = await audit.verify_chain()
    assert broken is None and count == 8 and streams == 2
