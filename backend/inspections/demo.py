"""Demo data: 2,000 subjects over the demo townships, an item list, conflicts of interest,
a joint plan that is published and drawn (its public record verifies), a few completed and
published inspections, and a second plan published with only its commitment. Idempotent:
each step checks what exists and does only what is missing.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import uuid
from pathlib import Path
from typing import Any

from backend.core import clock
from backend.demo import DemoContext
from backend.inspections import credit_code, draws, service, subjects, tasks
from backend.inspections import schemas as s
from backend.inspections.tables import InspectionItem, InspectionPlan, InspectionTask, Subject
from backend.orgs import schemas as org_schemas
from backend.orgs import service as orgs
from backend.orgs.tables import Conflict

SUBJECTS = 2000
ITEMS = [
    (
        "SC-SP-001",
        "食品经营者许可及经营行为检查",
        "市场监管局",
        "market",
        "on_site",
        "《中华人民共和国食品安全法》第三十五条、第一百一十条",
        ["enterprise", "individual"],
        {"A": 0.03, "B": 0.05, "C": 0.10, "D": 0.30},
    ),
    (
        "SC-GS-002",
        "企业年度报告公示信息检查",
        "市场监管局",
        "market",
        "documents",
        "《企业信息公示暂行条例》第十条",
        ["enterprise"],
        {"A": 0.03, "B": 0.05},
    ),
    (
        "AJ-YJ-003",
        "安全生产条件及隐患排查检查",
        "应急管理局",
        "safety",
        "on_site",
        "《中华人民共和国安全生产法》第六十五条",
        ["enterprise"],
        {"C": 0.15, "D": 0.30},
    ),
    (
        "HB-PW-004",
        "排污许可执行情况检查",
        "生态环境局",
        "environment",
        "on_site",
        "《排污许可管理条例》第二十五条",
        ["enterprise"],
        {},
    ),
]
INDUSTRIES = ["餐饮", "食品销售", "零售", "住宿", "建材", "机械制造", "纺织", "化工", "娱乐"]
KINDS = [("enterprise", "有限公司"), ("individual", "经营部"), ("individual", "餐饮店")]
BRANDS = "华鑫恒通瑞丰盛达永泰兴隆鼎新宏远金源福海天和嘉禾万家长江澄江暨阳"
ROADS = ["人民路", "澄江路", "长江路", "虹桥路", "芙蓉大道", "滨江路", "延陵路", "通富路"]
PLAN_CODE = "JY-2026-SSJ-01"
NEXT_PLAN_CODE = "JY-2026-SSJ-02"
ENTROPY = "福彩3D 第2026300期 开奖号码 3 7 1（见证人：县司法局 王某、李某）"


def demo_subject_rows(ctx: DemoContext) -> list[list[str]]:
    """Deterministic subjects (same codes every run), spread over the demo base grids."""
    rng = random.Random(32100)
    town_names = {"JY-XXK": "徐霞客镇", "JY-XQ": "新桥镇", "JY-ZZ": "周庄镇", "JY-GX": "高新区"}
    rows: list[list[str]] = []
    seen: set[str] = set()
    while len(rows) < SUBJECTS:
        body = (
            "9"
            + rng.choice("123")
            + "320281"
            + "MA"
            + "".join(rng.choice(credit_code.ALPHABET) for _ in range(7))
        )
        code = credit_code.complete(body)
        if code in seen:
            continue
        seen.add(code)
        grid = rng.choice(ctx.orgs.base_grids)
        unit = grid.rsplit("-G", 1)[0]
        subject_type, suffix = rng.choice(KINDS)
        industry = rng.choice(INDUSTRIES)
        brand = rng.choice(BRANDS) + rng.choice(BRANDS)
        name = f"江阴市{town_names.get(unit, '')}{brand}{industry}{suffix}"
        risk = rng.choices("ABCD", weights=(40, 35, 18, 7))[0]
        abnormal = rng.random() < 0.015
        serious = rng.random() < 0.004
        rows.append(
            [
                code,
                name,
                subject_type,
                industry,
                f"江阴市{town_names.get(unit, '')}{rng.choice(ROADS)}{rng.randrange(1, 999)}号",
                f"{31.80 + rng.random() * 0.15:.6f}",
                f"{120.10 + rng.random() * 0.40:.6f}",
                unit,
                grid,
                risk,
                "1" if abnormal else "0",
                "1" if serious else "0",
                "active",
            ]
        )
    return rows


async def _seed_subjects(ctx: DemoContext, rows: list[list[str]]) -> None:
    codes = [r[0] for r in rows]
    present = await Subject.count().where(Subject.credit_code.is_in(codes)).run()
    if present >= len(codes):
        return
    header = list(subjects.FIELDS)
    import csv

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo-subjects.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        report = await subjects.import_subjects(
            principal=ctx.principal, path=path, source="demo-subjects.csv"
        )
    if not report.applied:
        raise RuntimeError(f"demo subjects rejected: {report.rejected[:3]}")


async def _seed_items(ctx: DemoContext) -> None:
    for code, name, dept, domain, method, basis, types, ratios in ITEMS:
        if await InspectionItem.exists().where(InspectionItem.code == code).run():
            continue
        await service.create_item(
            principal=ctx.principal,
            data=s.ItemIn(
                code=code,
                name=name,
                department=dept,
                domain=domain,
                method=method,  # type: ignore[arg-type]
                legal_basis=basis,
                subject_types=types,
                ratios=ratios,  # type: ignore[arg-type]
                frequency="每年一次",
            ),
        )


async def _seed_conflicts(ctx: DemoContext, rows: list[list[str]]) -> None:
    # An officer's relative runs a shop; another officer used to work for a firm.
    pairs = [
        (ctx.orgs.officers[n], rows[n * 37][0], reason)
        for n, reason in (
            (1, "近亲属系该主体经营者"),
            (7, "曾在该企业任职"),
            (13, "与该主体存在经济往来"),
            (20, "近亲属系该主体股东"),
            (25, "本人系该主体实际控制人的同学"),
        )
    ]
    for officer, code, reason in pairs:
        exists = (
            await Conflict.exists()
            .where((Conflict.officer == officer) & (Conflict.subject_code == code))
            .run()
        )
        if not exists:
            await orgs.record_conflict(
                principal=ctx.principal,
                data=org_schemas.ConflictIn(officer_id=officer, subject_code=code, reason=reason),
            )


async def _plan(ctx: DemoContext, code: str, name: str, items: list[str], **extra: Any) -> Any:
    row = (
        await InspectionPlan.select(InspectionPlan.id, InspectionPlan.status)
        .where(InspectionPlan.code == code)
        .first()
        .run()
    )
    if row is not None:
        return row["id"], row["status"]
    today = clock.local_today()
    plan = await service.create_plan(
        principal=ctx.principal,
        data=s.PlanIn(
            code=code,
            name=name,
            org_unit_id=ctx.orgs.county_id,
            item_codes=items,
            planned_start=today,
            planned_end=today + dt.timedelta(days=45),
            inspector_team_ids=sorted(ctx.orgs.teams.values(), key=str),
            **extra,
        ),
    )
    return plan.id, plan.status


async def _run_first_plan(ctx: DemoContext) -> None:
    plan_id, status = await _plan(
        ctx,
        PLAN_CODE,
        "2026年度市场监管、应急管理部门联合双随机抽查（第一批）",
        ["SC-SP-001", "AJ-YJ-003"],
        counts={"A": 8, "B": 8, "C": 6, "D": 5, "flagged": 4},
        team_size=2,
        workload_cap=5,
    )
    if status == "draft":
        await service.publish_plan(principal=ctx.principal, plan_id=plan_id)
        status = "published"
    if status == "published":
        await draws.draw_plan(principal=ctx.principal, plan_id=plan_id, entropy=ENTROPY)
    plan = await service.get_plan(principal=ctx.principal, plan_id=plan_id)
    ctx.shared["inspections"] = {"plan_id": plan_id, "draw_id": plan.draw_id}
    if (
        await InspectionTask.exists()
        .where((InspectionTask.plan == plan_id) & (InspectionTask.status == "completed"))
        .run()
    ):
        return
    # Three inspections already done and published, one with a finding (it opened a lead).
    rows = (
        await InspectionTask.select(InspectionTask.id)
        .where(InspectionTask.plan == plan_id)
        .order_by(InspectionTask.subject_code)
        .limit(3)
        .run()
    )
    outcomes = ["未发现问题", "发现问题已责令改正", "未按规定公示应当公示的信息"]
    yesterday = clock.local_today() - dt.timedelta(days=1)
    for row, category in zip(rows, outcomes, strict=False):
        task_id: uuid.UUID = row["id"]
        task = await tasks.check_in(principal=ctx.principal, task_id=task_id, version=1)
        task = await tasks.record_results(
            principal=ctx.principal,
            task_id=task_id,
            version=task.version,
            results=[
                s.ResultIn(item_code=r.item_code, category=category, note="演示数据")
                for r in task.results
            ],
        )
        await tasks.complete_task(
            principal=ctx.principal,
            task_id=task_id,
            version=task.version,
            inspection_date=yesterday,
        )
        await tasks.publish_task_results(principal=ctx.principal, task_id=task_id)


async def seed(ctx: DemoContext) -> None:
    rows = demo_subject_rows(ctx)
    await _seed_items(ctx)
    await _seed_subjects(ctx, rows)
    await _seed_conflicts(ctx, rows)
    await _run_first_plan(ctx)
    plan_id, status = await _plan(
        ctx,
        NEXT_PLAN_CODE,
        "2026年度企业年报公示信息双随机抽查",
        ["SC-GS-002"],
        scope_risk_classes=["A", "B"],
        team_size=2,
    )
    if status == "draft":
        await service.publish_plan(principal=ctx.principal, plan_id=plan_id)
