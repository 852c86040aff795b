"""法制审核: the legal review of a case before a major decision, with its automatic pre-check.

The pre-check lists veto items (否决项); a review with open veto items cannot pass.
The reviewer is a ``legal_reviewer`` who is not an investigator on the case.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec

from backend.calendar.service import due_in_working_days, load_calendar
from backend.cases import lifecycle
from backend.cases import service as cases
from backend.cases.leads import local_day
from backend.cases.rules import load_rules
from backend.cases.tables import CaseAction, LegalReview
from backend.core import clock
from backend.core.auth import Principal
from backend.core.db import write_tx
from backend.core.errors import BadRequest, Conflict, Forbidden, NotFound
from backend.core.schemas import Input, Output
from backend.matters.tables import Matter

REVIEWERS = ("legal_reviewer",)


class VetoItem(Output):
    item: str
    detail: str


class ReviewOut(Output):
    id: uuid.UUID
    case_id: uuid.UUID
    status: str
    due_on: dt.date
    due_provisional: bool
    extended: bool
    precheck: list[VetoItem]
    issues: list[str]
    opinion: str
    requested_at: dt.datetime
    decided_at: dt.datetime | None


class ReviewRequestIn(Input):
    version: int | None = None
    note: str = ""


class ReviewPassIn(Input):
    opinion: str = ""


class ReviewReturnIn(Input):
    issues: list[str]
    opinion: str = ""


@dataclass(frozen=True)
class _Action:
    kind: str
    day: dt.date
    officer_ids: tuple[str, ...]
    evidence_ids: tuple[str, ...]


async def precheck(case_id: uuid.UUID, *, row: dict[str, Any] | None = None) -> list[VetoItem]:
    """The veto items of a case as it stands (also pre-fills the file scoring)."""
    if row is None:
        from backend.cases.tables import Case

        found = await Case.select(*cases._case_columns()).where(Case.id == case_id).first().run()
        if found is None:
            raise NotFound("case not found", code="case.not_found")
        row = found
    decided_on = row.get("decided_on")
    facts = await cases.gather_facts(row, on=decided_on or cases.today())
    matter = (
        await Matter.select(Matter.recorded_actions, Matter.domain)
        .where(Matter.id == row["matter_id"])
        .first()
    )
    assert matter is not None
    required = set(matter["recorded_actions"] or [])
    out: list[VetoItem] = []
    certified_now = facts.certified_officers(facts.today)
    if len(certified_now) < facts.rules.min_officers:
        out.append(VetoItem(item="fewer_than_two_officers", detail="; ".join(
            lifecycle.CHECKS["officers"](facts))))  # fmt: skip
    actions = [
        _Action(
            kind=a["kind"],
            day=local_day(a["at"]),
            officer_ids=tuple(a["officer_ids"] or ()),
            evidence_ids=tuple(a["evidence_ids"] or ()),
        )
        for a in await CaseAction.select(
            CaseAction.kind, CaseAction.at, CaseAction.officer_ids, CaseAction.evidence_ids
        )
        .where(CaseAction.case == case_id)
        .order_by(CaseAction.at)
    ]
    all_officers = {o for a in actions for o in a.officer_ids}
    certs = {
        c.officer_id: c
        for c in await cases._certified([uuid.UUID(o) for o in all_officers], matter["domain"])
    }
    for a in actions:
        label = f"{a.kind} on {a.day.isoformat()}"
        if len(a.officer_ids) < facts.rules.min_officers:
            out.append(VetoItem(
                item="fewer_than_two_officers",
                detail=f"{label}: {len(a.officer_ids)} officer(s) present",
            ))  # fmt: skip
        for officer_id in a.officer_ids:
            cert = certs.get(officer_id)
            if cert is None or not cert.certified_on(a.day):
                name = cert.name if cert else officer_id
                out.append(VetoItem(
                    item="certificate_invalid",
                    detail=f"{label}: {name} had no valid certificate for {matter['domain']}",
                ))  # fmt: skip
        if a.kind in required and not await _has_recording(a.evidence_ids):
            out.append(VetoItem(
                item="recording_missing",
                detail=f"{label}: the matter requires an audio/video recording of {a.kind}",
            ))  # fmt: skip
    past_notice = row["status"] not in ("filed", "investigating", "legal_review")
    if past_notice and row["procedure"] == "general" and not row.get("prior_notice_on"):
        out.append(VetoItem(item="no_prior_notice", detail="no prior notice (事先告知) was given"))
    ends = facts.hearing_window_ends
    if (
        decided_on
        and facts.hearing_offered
        and not facts.hearing_requested
        and ends is not None
        and decided_on <= ends
    ):
        out.append(VetoItem(
            item="hearing_not_offered",
            detail=f"decided on {decided_on.isoformat()} before the hearing window ended "
                   f"({ends.isoformat()})",
        ))  # fmt: skip
    if lifecycle.CHECKS["limitation"](facts):
        out.append(VetoItem(item="limitation_expired", detail=lifecycle.CHECKS["limitation"](
            facts)[0]))  # fmt: skip
    if facts.handling_unit_kind in ("township", "zone") and not facts.granted_to_handler:
        out.append(VetoItem(
            item="no_authority",
            detail=f"matter {facts.matter_code} was not granted to {facts.handling_unit_name} "
                   f"on {facts.today.isoformat()}",
        ))  # fmt: skip
    return out


async def _has_recording(evidence_ids: tuple[str, ...]) -> bool:
    """A recording: an attached, sealed, not withdrawn audio or video item (when the evidence
    domain is installed)."""
    if not evidence_ids:
        return False
    try:
        from backend.evidence.tables import Evidence  # the evidence domain, when installed
    except ImportError:
        return True
    ids = []
    for e in evidence_ids:
        try:
            ids.append(uuid.UUID(e))
        except ValueError:
            continue
    rows = await Evidence.select(Evidence.kind, Evidence.status, Evidence.withdrawn_at).where(
        Evidence.id.is_in(ids or [uuid.UUID(int=0)]))  # fmt: skip
    return any(
        r["kind"] in ("video", "audio") and r["status"] == "sealed" and r["withdrawn_at"] is None
        for r in rows
    )


def _to_out(row: dict[str, Any]) -> ReviewOut:
    return msgspec.convert(
        {
            **row,
            "precheck": json.loads(row["precheck"] or "[]"),
            "issues": json.loads(row["issues"] or "[]"),
        },
        ReviewOut,
        strict=False,
    )


def _columns() -> list[Any]:
    return [
        LegalReview.id,
        LegalReview.case.as_alias("case_id"),
        LegalReview.status,
        LegalReview.due_on,
        LegalReview.due_provisional,
        LegalReview.extended,
        LegalReview.precheck,
        LegalReview.issues,
        LegalReview.opinion,
        LegalReview.requested_at,
        LegalReview.decided_at,
    ]


async def list_reviews(*, principal: Principal, case_id: uuid.UUID) -> list[ReviewOut]:
    await cases.load_case(principal, case_id, write=False)
    rows = (
        await LegalReview.select(*_columns())
        .where(LegalReview.case == case_id)
        .order_by(LegalReview.requested_at)
    )
    return [_to_out(r) for r in rows]


async def request_review(
    *, principal: Principal, case_id: uuid.UUID, version: int | None = None, note: str = ""
) -> ReviewOut:
    """Send the case to the legal office: the case moves to ``legal_review``."""
    rules = await load_rules()
    cal = await load_calendar()
    review_id = uuid.uuid4()
    now = clock.now()
    due = due_in_working_days(cal, local_day(now), rules.legal_review_wd, rule="legal review")
    async with write_tx():
        row = await cases.apply_transition(
            principal=principal, case_id=case_id, action="submit_review", version=version,
            note=note, payload={"review_id": review_id, "due_on": due.date},
        )  # fmt: skip
        items = await precheck(case_id, row={**row, "status": "legal_review"})
        await LegalReview.insert(
            LegalReview(
                id=review_id,
                case=case_id,
                status="pending",
                requested_by=principal.actor,
                requested_at=now,
                due_on=due.date,
                due_provisional=due.provisional,
                precheck=json.dumps([msgspec.to_builtins(i) for i in items], ensure_ascii=False),
                updated_at=now,
            )
        ).run()
    return await _get(review_id)


async def _get(review_id: uuid.UUID) -> ReviewOut:
    row = await LegalReview.select(*_columns()).where(LegalReview.id == review_id).first().run()
    if row is None:
        raise NotFound("legal review not found", code="legal_review.not_found")
    return _to_out(row)


async def _pending_review(principal: Principal, review_id: uuid.UUID) -> dict[str, Any]:
    review = await LegalReview.select(*_columns()).where(LegalReview.id == review_id).first().run()
    if review is None:
        raise NotFound("legal review not found", code="legal_review.not_found")
    await cases.load_case(principal, review["case_id"], write=False)
    cases.require_case_role(principal, REVIEWERS, "deciding or extending a legal review")
    if principal.officer_id and principal.officer_id in await cases.active_officer_ids(
        review["case_id"]
    ):
        raise Forbidden(
            "an investigator of the case cannot review it", code="legal_review.investigator"
        )
    if review["status"] != "pending":
        raise Conflict(f"the review is already {review['status']}", code="legal_review.decided")
    return review


async def pass_review(*, principal: Principal, review_id: uuid.UUID, opinion: str) -> ReviewOut:
    async with write_tx():
        review = await _pending_review(principal, review_id)
        case_id = review["case_id"]
        row = await cases.load_case(principal, case_id, write=False)
        items = await precheck(case_id, row=row)
        if items:
            raise Conflict(
                "the pre-check found veto items: " + "; ".join(i.detail for i in items),
                code="legal_review.veto",
                extra={"unmet": [{"check": i.item, "detail": i.detail} for i in items]},
            )
        now = clock.now()
        await (
            LegalReview.update(
                {
                    LegalReview.status: "passed",
                    LegalReview.opinion: opinion,
                    LegalReview.reviewer_user_id: principal.user_id,
                    LegalReview.decided_at: now,
                    LegalReview.updated_at: now,
                    LegalReview.precheck: "[]",
                }
            )
            .where(LegalReview.id == review_id)
            .run()
        )
        from backend.cases.tables import Case

        await Case.update({Case.updated_at: now}).where(Case.id == case_id).run()
        await cases.add_document(
            case_id=case_id,
            stage="review",
            kind="review_passed",
            title="法制审核意见（通过）",
            body=opinion or "审核通过",
            actor=principal.actor,
        )
        await cases.record_case_event(
            row,
            action="case.review_passed",
            actor=principal.actor,
            payload={"review_id": review_id, "opinion": opinion},
        )
    return await _get(review_id)


async def return_review(
    *, principal: Principal, review_id: uuid.UUID, issues: list[str], opinion: str
) -> ReviewOut:
    """Return the case to the investigators with numbered issues."""
    cleaned = [i.strip() for i in issues if i.strip()]
    if not cleaned:
        raise BadRequest("a returned review lists at least one issue", code="legal_review.issues")
    numbered = [f"{n}. {text}" for n, text in enumerate(cleaned, start=1)]
    async with write_tx():
        review = await _pending_review(principal, review_id)
        now = clock.now()
        await (
            LegalReview.update(
                {
                    LegalReview.status: "returned",
                    LegalReview.issues: json.dumps(numbered, ensure_ascii=False),
                    LegalReview.opinion: opinion,
                    LegalReview.reviewer_user_id: principal.user_id,
                    LegalReview.decided_at: now,
                    LegalReview.updated_at: now,
                }
            )
            .where(LegalReview.id == review_id)
            .run()
        )
        await cases.apply_transition(
            principal=principal,
            case_id=review["case_id"],
            action="return_review",
            version=None,
            note="\n".join(numbered),
            payload={"review_id": review_id, "issues": numbered},
            load_write=False,
        )
    return await _get(review_id)


async def extend_review(*, principal: Principal, review_id: uuid.UUID) -> ReviewOut:
    """+3 working days, once."""
    rules = await load_rules()
    cal = await load_calendar()
    async with write_tx():
        review = await _pending_review(principal, review_id)
        if review["extended"]:
            raise Conflict("the review was already extended", code="legal_review.extended")
        due = due_in_working_days(
            cal, review["due_on"], rules.legal_review_extension_wd, rule="review extension"
        )
        await (
            LegalReview.update(
                {
                    LegalReview.due_on: due.date,
                    LegalReview.due_provisional: due.provisional,
                    LegalReview.extended: True,
                    LegalReview.updated_at: clock.now(),
                }
            )
            .where(LegalReview.id == review_id)
            .run()
        )
        row = await cases.load_case(principal, review["case_id"], write=False)
        await cases.record_case_event(
            row,
            action="case.review_extended",
            actor=principal.actor,
            payload={"review_id": review_id, "due_on": due.date},
        )
    return await _get(review_id)
