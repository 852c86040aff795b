"""The public draw records served by the API agree with an independent hashrank-v1 reference.

A random county (strata, flagged and deregistered subjects, out-of-scope subjects, officers
on leave, with expired or other-domain certificates, conflicts of interest, a previous
inspection's lead inspector, a workload cap that bites) is drawn twice through the API; each
record at ``GET /public/draws/{id}`` must equal what tests/unit/test_draw_contract.py computes
from DESIGN.md alone, and ``fieldcase draw verify`` must reject it with one selected id changed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from typing import Any

from backend import cli
from backend.core import clock
from backend.core.auth import system_principal
from backend.inspections import subjects
from backend.orgs import schemas as os_
from backend.orgs import service as orgs
from backend.orgs.tables import Conflict
from tests.factories import build_world, login
from tests.integration.test_contracts_api import check_audit_chains
from tests.unit.test_draw_contract import (
    Blocked,
    check_record,
    credit_code,
    inspector_score,
    quota_of,
    reference_draw,
    subject_score,
)

ENTROPY = "福彩3D 第2026321期 开奖号码 5 8 1"


async def _special_officers(world: Any, today: dt.date) -> dict[str, set[str]]:
    """Officers that can never be taken, each for one kind of reason, in the county team."""
    sysp = system_principal("test")
    made: dict[str, set[str]] = {}
    year = dt.timedelta(days=365)
    specs = [
        ("on_leave", "on_leave", ["market"], today - year, today + year, {"on_leave"}),
        ("expired", "on_duty", ["market"], today - 2 * year, today - dt.timedelta(days=3), None),
        ("future", "on_duty", ["market"], today + dt.timedelta(days=90), today + year, None),
        ("urban", "on_duty", ["urban"], today - year, today + year, {"domain"}),
        ("nocert", "on_duty", None, None, None, None),
    ]
    for n, (label, status, domains, start, end, reasons) in enumerate(specs):
        officer = await orgs.create_officer(
            principal=sysp,
            data=os_.OfficerIn(
                name=f"特殊{label}", badge_no=f"X-{n:03d}", org_unit_id=world.county, status=status
            ),
        )
        if domains is not None:
            await orgs.add_certificate(
                principal=sysp,
                officer_id=officer.id,
                data=os_.CertificateIn(
                    number=f"CERT-X-{n}", domains=domains, valid_from=start, valid_to=end
                ),
            )
        # No valid certificate: "certificate" (a reading that checks the domain first may say
        # "domain"; DESIGN.md does not order the constraints, so both are accepted).
        made[str(officer.id)] = reasons or {"certificate", "domain"}
    members = [os_.TeamMemberIn(officer_id=o, role="member") for o in world.officers_county]
    members += [os_.TeamMemberIn(officer_id=uuid.UUID(o)) for o in made]
    await orgs.set_team_members(
        principal=sysp, team_id=world.team_county, data=os_.TeamMembersIn(members=members)
    )
    return made


HEADER = "credit_code,name,org_unit,grid_code,risk_class,abnormal,serious_violation,status,industry"


async def _import(tmp_path: Any, rows: list[str]) -> None:
    path = tmp_path / "subjects.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    report = await subjects.import_subjects(principal=system_principal("test"), path=path)
    assert report.applied, report


async def _seed_subjects(
    tmp_path: Any, rng: random.Random
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Subjects by category (A–D, flagged, and the ones no draw may see) and their CSV rows."""
    layout = {"A": 8, "B": 6, "C": 26, "D": 4, "abnormal": 2, "serious": 2}
    rows: dict[str, str] = {}
    groups: dict[str, list[str]] = {"A": [], "B": [], "C": [], "D": [], "flagged": [], "out": []}

    def add(group: str, risk: str, abnormal: int, serious: int, status: str, unit: str) -> None:
        code = credit_code(rng)
        grid = f"{unit}-G1-01" if unit != "C" else ""
        rows[code] = f"{code},主体{len(rows)},{unit},{grid},{risk},{abnormal},{serious},{status}"
        groups[group].append(code)

    for group, count in layout.items():
        for _ in range(count):
            unit = rng.choice(["C-A", "C-B"])
            risk = rng.choice("ABCD")
            if group == "abnormal":
                add("flagged", risk, 1, 0, "active", unit)
            elif group == "serious":
                add("flagged", risk, 0, 1, "active", unit)
            else:
                add(group, group, 0, 0, "active", unit)
    # Excluded: deregistered (one of them flagged too) and outside the plans' org units.
    add("out", "A", 0, 0, "deregistered", "C-A")
    add("out", "C", 1, 0, "deregistered", "C-B")
    add("out", "D", 0, 0, "active", "C")
    add("out", "B", 0, 1, "active", "C")
    await _import(tmp_path, [f"{row},零售" for row in rows.values()])
    return groups, rows


async def _draw(
    client: Any, headers: dict[str, str], body: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    response = await client.post("/api/v1/inspection-plans", headers=headers, json=body)
    assert response.status_code == 201, response.text
    plan_id = response.json()["id"]
    response = await client.post(f"/api/v1/inspection-plans/{plan_id}/publish", headers=headers)
    assert response.status_code == 200, response.text
    commitment = response.json()["commitment"]
    public = {p["plan_id"]: p for p in (await client.get("/public/plans")).json()}
    assert public[plan_id]["commitment"] == commitment
    response = await client.post(
        f"/api/v1/inspection-plans/{plan_id}/draw", headers=headers, json={"entropy": ENTROPY}
    )
    assert response.status_code == 201, response.text
    draw_id = response.json()["draw_id"]
    response = await client.get(f"/public/draws/{draw_id}")
    assert response.status_code == 200
    record = response.json()
    assert record["draw_id"] == draw_id and record["plan_id"] == plan_id
    dt.datetime.fromisoformat(record["drawn_at"])
    return record, commitment


async def _complete_tasks(
    client: Any, headers: dict[str, str], record: dict[str, Any], item: str
) -> dict[str, str]:
    """Inspect every subject of a draw; returns each subject's lead inspector."""
    leads = {a["subject_id"]: a["inspectors"][0] for a in record["assignments"]}
    tasks = await client.get(
        "/api/v1/inspection-tasks", headers=headers, params={"plan_id": record["plan_id"]}
    )
    assert tasks.status_code == 200, tasks.text
    assert len(tasks.json()["items"]) == len(leads)
    for task in tasks.json()["items"]:
        assert task["inspectors"][0]["officer_id"] == leads[task["subject_code"]]
        url = f"/api/v1/inspection-tasks/{task['id']}"
        results = [{"item_code": item, "category": "未发现问题"}]
        response = await client.post(
            f"{url}/results", headers=headers, json={"version": 1, "results": results}
        )
        assert response.status_code == 200, response.text
        response = await client.post(f"{url}/complete", headers=headers, json={"version": 2})
        assert response.status_code == 200, response.text
    return leads


async def test_public_draw_records_match_an_independent_reference(
    client: Any, db: Any, tmp_path: Any, capsys: Any
) -> None:
    rng = random.Random()
    world = await build_world(officers_per_team=5)
    today = clock.now().date()
    special = await _special_officers(world, today)
    groups, rows = await _seed_subjects(tmp_path, rng)
    normal = [str(o) for o in world.officers_a + world.officers_b + world.officers_county]
    everyone = normal + list(special)
    pools = {g: groups[g] for g in ("A", "B", "C", "D", "flagged")}
    conflicts = {
        (subject, officer)
        for pool in pools.values()
        for subject in pool
        for officer in rng.sample(normal, rng.randint(0, 2))
    }
    first_conflict, *more = sorted(conflicts)
    await orgs.record_conflict(
        principal=system_principal("test"),
        data=os_.ConflictIn(
            officer_id=uuid.UUID(first_conflict[1]), subject_code=first_conflict[0]
        ),
    )
    now = clock.now()
    rows_ = [Conflict(officer=uuid.UUID(o), subject_code=c, recorded_at=now) for c, o in more]
    await Conflict.insert(*rows_).run()
    headers = await login(client, "supervisor")
    for code in ("SC-X", "SC-Y"):
        item = {"code": code, "name": f"事项{code}", "department": "市场监管"}
        item |= {"domain": "market", "method": "on_site"}
        response = await client.post("/api/v1/inspection-items", headers=headers, json=item)
        assert response.status_code == 201, response.text
    plan = {
        "name": "双随机抽查",
        "org_unit_id": str(world.county),
        "scope_org_unit_ids": [str(world.town_a), str(world.town_b)],
        "planned_start": today.isoformat(),
        "planned_end": (today + dt.timedelta(days=20)).isoformat(),
        "inspector_team_ids": [str(world.team_a), str(world.team_b), str(world.team_county)],
    }
    reasons_seen: set[str] = set()

    def blocked_by(previous_lead: dict[str, str]) -> Blocked:
        def blocked(subject: str, officer: str) -> set[str]:
            if officer in special:
                return special[officer]
            reasons = {"conflict"} if (subject, officer) in conflicts else set()
            if previous_lead.get(subject) == officer:
                reasons.add("previous_lead")
            return reasons

        return blocked

    async def draw_and_check(
        body: dict[str, Any], pools: dict[str, list[str]], quotas: dict[str, int], leads: Any
    ) -> dict[str, Any]:
        record, commitment = await _draw(client, headers, plan | body)
        expected = reference_draw(
            secret=bytes.fromhex(record["secret"]),
            entropy=ENTROPY,
            pools=pools,
            quotas=quotas,
            inspectors=everyone,
            team_size=body["team_size"],
            workload_cap=body["workload_cap"],
            blocked=blocked_by(leads),
        )
        assert expected.commitment == commitment
        check_record(record, expected, entropy=ENTROPY)
        assert sorted(record["inspector_pool"]) == sorted(everyone)
        for stratum in record["strata"]:
            assert sorted(stratum["pool"]) == sorted(pools[stratum["name"]])
        reasons_seen.update(s["reason"] for a in record["assignments"] for s in a["skipped"])
        return record

    # Draw 1: a fixed count per stratum and a workload cap of one subject per inspector.
    counts = dict.fromkeys(pools, 1)
    body = {"code": "P-1", "item_codes": ["SC-X"], "counts": counts}
    first = await draw_and_check(body | {"team_size": 2, "workload_cap": 1}, pools, counts, {})
    leads = await _complete_tasks(client, headers, first, "SC-X")

    # Draw 2: the subjects just inspected (marked by industry) for another item, by teams of
    # 12: the walk passes nearly every inspector, including each subject's previous lead.
    await _import(tmp_path, [f"{rows[c]},复查" for c in leads])
    again = {n: [c for c in ids if c in leads] for n, ids in pools.items()}
    body = {"code": "P-2", "item_codes": ["SC-Y"], "scope_industries": ["复查"]}
    body |= {"ratios": dict.fromkeys(pools, 1), "team_size": 12, "workload_cap": 12}
    await draw_and_check(body, again, dict.fromkeys(pools, 1), leads)

    # Draw 3: the same item as draw 1, so its subjects are out (no-repeat window); ratios with
    # C at 0.28 × 25 = 7 exactly, `flagged` at its default 100 %.
    rest = {n: [c for c in ids if c not in leads] for n, ids in pools.items()}
    ratios = {"A": 0.25, "B": 0.5, "C": 0.28, "D": 0.5}
    quotas = {n: quota_of(ratios.get(n, 1), len(ids)) for n, ids in rest.items()}
    assert len(rest["C"]) == 25 and quotas["C"] == 7
    body = {"code": "P-3", "item_codes": ["SC-X"], "ratios": ratios}
    third = await draw_and_check(body | {"team_size": 2, "workload_cap": 3}, rest, quotas, {})
    assert {"conflict", "previous_lead", "on_leave", "workload"} <= reasons_seen
    assert reasons_seen & {"certificate", "domain"}

    # `fieldcase draw verify` on the served record, then with one selected id changed.
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(third, ensure_ascii=False), encoding="utf-8")
    assert cli.main(["draw", "verify", str(path)]) == 0
    assert capsys.readouterr().out.startswith("OK")
    stratum = next(s for s in third["strata"] if s["name"] == "C")
    stratum["selected"][3] = next(c for c in stratum["pool"] if c not in stratum["selected"])
    path.write_text(json.dumps(third, ensure_ascii=False), encoding="utf-8")
    assert cli.main(["draw", "verify", str(path)]) == 1
    assert "OK" not in capsys.readouterr().out

    # Every audit stream the draws wrote recomputes from the API (DESIGN.md, "Audit log").
    streams = await check_audit_chains(client)
    assert {f"plan:{r['plan_id']}" for r in (first, third)} <= set(streams)


async def test_replacements_reuse_the_ranking_under_the_workload_cap(
    client: Any, db: Any, tmp_path: Any
) -> None:
    """Nine inspectors, four subjects by two, one subject each: one inspector is left free."""
    rng = random.Random()
    world = await build_world(officers_per_team=3)
    everyone = [str(o) for o in world.officers_a + world.officers_b + world.officers_county]
    codes = [credit_code(rng) for _ in range(5)]
    await _import(
        tmp_path, [f"{c},主体{n},C-A,C-A-G1-01,A,0,0,active," for n, c in enumerate(codes)]
    )
    headers = await login(client, "supervisor")
    item = {"code": "SC-R", "name": "事项", "department": "市场监管", "domain": "market"}
    response = await client.post(
        "/api/v1/inspection-items", headers=headers, json=item | {"method": "on_site"}
    )
    assert response.status_code == 201, response.text
    today = clock.now().date().isoformat()
    body = {
        "code": "P-R",
        "name": "替换",
        "org_unit_id": str(world.county),
        "item_codes": ["SC-R"],
        "planned_start": today,
        "planned_end": today,
        "counts": {"A": 4},
        "team_size": 2,
        "workload_cap": 1,
        "inspector_team_ids": [str(world.team_a), str(world.team_b), str(world.team_county)],
    }
    record, _ = await _draw(client, headers, body)
    seed = bytes.fromhex(record["seed"])
    busy = {o for a in record["assignments"] for o in a["inspectors"]}
    (free,) = set(everyone) - busy
    tasks = await client.get(
        "/api/v1/inspection-tasks", headers=headers, params={"plan_id": record["plan_id"]}
    )
    first, second = tasks.json()["items"][:2]

    # The one inspector under the cap replaces whoever leaves, wherever it ranks.
    leaving = first["inspectors"][0]["officer_id"]
    url = f"/api/v1/inspection-tasks/{first['id']}/replace-inspector"
    response = await client.post(
        url, headers=headers, json={"officer_id": leaving, "reason": "病假"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["replacement"] == free
    response = await client.post(
        url, headers=headers, json={"officer_id": free, "reason": "再次请假"}
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "draw.no_replacement"

    # A replaced subject frees its team: the next subject of the ranking is staffed from the
    # inspectors now under the cap, in its own walk order.
    response = await client.post(
        f"/api/v1/inspection-tasks/{second['id']}/replace-subject",
        headers=headers,
        json={"reason": "主体已注销"},
    )
    assert response.status_code == 201, response.text
    newcomer = response.json()["replacement"]
    (stratum,) = record["strata"]
    assert newcomer == next(
        c
        for c in sorted(stratum["pool"], key=lambda c: subject_score(seed, "A", c))
        if c not in stratum["selected"]
    )
    available = {leaving} | {i["officer_id"] for i in second["inspectors"]}
    walk = sorted(everyone, key=lambda o: inspector_score(seed, newcomer, o))
    tasks = await client.get(
        "/api/v1/inspection-tasks", headers=headers, params={"plan_id": record["plan_id"]}
    )
    task = next(t for t in tasks.json()["items"] if t["subject_code"] == newcomer)
    assert [i["officer_id"] for i in task["inspectors"]] == [o for o in walk if o in available][:2]
    replacements = (await client.get(f"/public/draws/{record['draw_id']}/replacements")).json()
    assert [(r["kind"], r["reason"]) for r in replacements] == [
        ("inspector", "病假"),
        ("subject", "主体已注销"),
    ]
    assert (await client.get(f"/public/draws/{record['draw_id']}")).json() == record
