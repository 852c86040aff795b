"""案卷评查: scoring closed case files with the template of RULES.md, and statistics.

Veto items (any one scores the file 0) are pre-filled from the legal review's
pre-check; form and completeness carry 20 points, substance 80.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any, Literal

import msgspec

from backend.cases import review
from backend.cases import service as cases
from backend.cases.rules import load_rules
from backend.cases.tables import Case, FileScore
from backend.core import clock
from backend.core.auth import Principal
from backend.core.db import write_tx
from backend.core.errors import BadRequest, Conflict
from backend.core.schemas import Input, Output
from backend.orgs.tables import OrgUnit, Team

VETO_ITEMS: dict[str, str] = {
    "no_authority": "无执法主体资格或超越职权",
    "certificate_invalid": "执法人员无执法证",
    "fewer_than_two_officers": "执法人员少于两人",
    "facts_unclear": "事实不清",
    "evidence_insufficient": "证据不足",
    "wrong_legal_basis": "适用法律错误",
    "illegal_procedure": "程序违法",
    "limitation_expired": "超过追责时效",
    "should_have_transferred": "应移送而未移送",
}
# What each pre-check finding means on the score sheet.
PRECHECK_TO_VETO = {
    "no_authority": "no_authority",
    "certificate_invalid": "certificate_invalid",
    "fewer_than_two_officers": "fewer_than_two_officers",
    "recording_missing": "illegal_procedure",
    "no_prior_notice": "illegal_procedure",
    "hearing_not_offered": "illegal_procedure",
    "limitation_expired": "limitation_expired",
}
FORM_ITEMS: dict[str, tuple[str, int]] = {
    "standard_documents": ("文书规范齐全", 5),
    "one_case_per_file": ("一案一卷", 5),
    "table_of_contents": ("卷内目录完整", 5),
    "page_order": ("按立案→调查→审查→决定→送达→执行排序", 5),
}
SUBSTANCE_ITEMS: dict[str, tuple[str, int]] = {
    "discretion_applied": ("正确适用裁量基准", 20),
    "reasoned_decision": ("决定书说理充分", 20),
    "fine_collection_separate": ("罚缴分离", 20),
    "execution_recorded": ("执行情况记录完整", 20),
}
Grade = Literal["excellent", "pass", "fail"]


class SheetItem(Output):
    code: str
    label: str
    max_points: int
    suggested: int


class ScoreSheetOut(Output):
    case_id: uuid.UUID
    veto_items: dict[str, str]
    veto_prefilled: list[str]
    precheck: list[review.VetoItem]
    form: list[SheetItem]
    substance: list[SheetItem]


class ScoreIn(Input):
    veto: list[str] = msgspec.field(default_factory=list)
    points: dict[str, int] = msgspec.field(default_factory=dict)
    notes: str = ""


class ScoreOut(Output):
    case_id: uuid.UUID
    veto_items: list[str]
    form_points: int
    substance_points: int
    total: int
    grade: str
    scorer: str
    scored_at: dt.datetime


class StatOut(Output):
    group_id: uuid.UUID | None
    group_name: str
    files: int
    average: float
    excellent: int
    passed: int
    failed: int


async def score_sheet(*, principal: Principal, case_id: uuid.UUID) -> ScoreSheetOut:
    """The template with veto items pre-filled from the pre-check and suggested points."""
    row = await cases.load_case(principal, case_id, write=False)
    found = await review.precheck(case_id, row=row)
    prefilled = sorted({PRECHECK_TO_VETO.get(i.item, "illegal_procedure") for i in found})
    executed = bool(row.get("executed_on")) or row["status"] == "no_penalty"
    form = [SheetItem(code=k, label=v[0], max_points=v[1], suggested=v[1]) for k, v in
            FORM_ITEMS.items()]  # fmt: skip
    substance = [
        SheetItem(code=k, label=v[0], max_points=v[1],
                  suggested=v[1] if k != "execution_recorded" or executed else 0)
        for k, v in SUBSTANCE_ITEMS.items()
    ]  # fmt: skip
    return ScoreSheetOut(
        case_id=case_id,
        veto_items=VETO_ITEMS,
        veto_prefilled=prefilled,
        precheck=found,
        form=form,
        substance=substance,
    )


def grade_of(total: int, *, excellent: int, passing: int) -> Grade:
    if total >= excellent:
        return "excellent"
    if total >= passing:
        return "pass"
    return "fail"


async def score_case(*, principal: Principal, case_id: uuid.UUID, data: ScoreIn) -> ScoreOut:
    cases.require_case_role(principal, ("legal_reviewer",), "scoring a case file")
    unknown_veto = sorted(set(data.veto) - set(VETO_ITEMS))
    if unknown_veto:
        raise BadRequest(f"unknown veto items: {', '.join(unknown_veto)}", code="score.bad_item")
    template = {**FORM_ITEMS, **SUBSTANCE_ITEMS}
    for code, points in data.points.items():
        if code not in template:
            raise BadRequest(f"unknown score item {code!r}", code="score.bad_item")
        if not 0 <= points <= template[code][1]:
            raise BadRequest(
                f"{code} takes 0 to {template[code][1]} points", code="score.bad_points"
            )
    rules = await load_rules()
    sheet = await score_sheet(principal=principal, case_id=case_id)
    veto = sorted(set(data.veto) | set(sheet.veto_prefilled))
    form = sum(data.points.get(k, 0) for k in FORM_ITEMS)
    substance = sum(data.points.get(k, 0) for k in SUBSTANCE_ITEMS)
    total = 0 if veto else form + substance
    grade = grade_of(total, excellent=rules.score_excellent, passing=rules.score_pass)
    now = clock.now()
    async with write_tx():
        row = await cases.load_case(principal, case_id, write=False)
        if row["status"] not in ("closed", "archived"):
            raise Conflict("only closed case files are scored", code="case.bad_status")
        if await FileScore.exists().where(FileScore.case == case_id):
            raise Conflict("this case file is already scored", code="score.exists")
        items = [{"code": k, "points": data.points.get(k, 0)} for k in template]
        await FileScore.insert(
            FileScore(
                id=uuid.uuid4(),
                case=case_id,
                org_unit=row["org_unit_id"],
                team=row["team_id"],
                veto_items=json.dumps(veto),
                items=json.dumps(items),
                form_points=form,
                substance_points=substance,
                total=total,
                grade=grade,
                scorer=principal.actor,
                scored_at=now,
            )
        ).run()
        await Case.update({Case.updated_at: now}).where(Case.id == case_id).run()
        await cases.record_case_event(
            row,
            action="case.scored",
            actor=principal.actor,
            payload={"veto": veto, "form": form, "substance": substance, "total": total,
                     "grade": grade, "notes": data.notes},
        )  # fmt: skip
    return ScoreOut(
        case_id=case_id, veto_items=veto, form_points=form, substance_points=substance,
        total=total, grade=grade, scorer=principal.actor, scored_at=now,
    )  # fmt: skip


async def score_statistics(*, principal: Principal, by: str) -> list[StatOut]:
    """Scores per team or per org unit (township) within the principal's scope."""
    if by not in ("team", "org_unit"):
        raise BadRequest("by must be team or org_unit", code="score.bad_group")
    rules = await load_rules()
    query = FileScore.select(FileScore.org_unit, FileScore.team, FileScore.total)
    if not principal.unrestricted:
        query = query.where(
            FileScore.org_unit.is_in(list(principal.scope_org_ids) or [uuid.UUID(int=0)])
        )
    groups: dict[Any, list[int]] = {}
    for r in await query.run():
        groups.setdefault(r["team"] if by == "team" else r["org_unit"], []).append(r["total"])
    ids = [g for g in groups if g is not None]
    table: Any = Team if by == "team" else OrgUnit
    names = {
        r["id"]: r["name"]
        for r in await table.select(table.id, table.name).where(
            table.id.is_in(ids or [uuid.UUID(int=0)])
        )
    }
    out = []
    for group, totals in groups.items():
        grades = [grade_of(t, excellent=rules.score_excellent, passing=rules.score_pass)
                  for t in totals]  # fmt: skip
        out.append(
            StatOut(
                group_id=group,
                group_name=names.get(group, "（未分配）"),
                files=len(totals),
                average=round(sum(totals) / len(totals), 1),
                excellent=grades.count("excellent"),
                passed=grades.count("pass"),
                failed=grades.count("fail"),
            )
        )
    return sorted(out, key=lambda s: s.group_name)
