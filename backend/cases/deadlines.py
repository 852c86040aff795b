"""The time limits of a case, computed on the working-day calendar, with how they were computed.

Pure functions (``compute_case_deadlines``) plus the provider the escalation
sweep calls (``provide``, the ``deadlines`` hook of backend/core/deadlines.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from backend.calendar.service import Due, WorkCalendar, due_in_days, due_in_working_days
from backend.cases.rules import CaseRules
from backend.core.deadlines import DeadlineItem, end_of_day, watched_ids


@dataclass(frozen=True)
class StopPeriod:
    reason: str
    started_on: dt.date
    ended_on: dt.date | None


@dataclass(frozen=True)
class CaseDates:
    procedure: str
    filed_on: dt.date
    extension_days: int = 0
    extensions: int = 0
    prior_notice_on: dt.date | None = None
    hearing_offered: bool = False
    hearing_requested: bool = False
    hearing_waived_on: dt.date | None = None
    decided_on: dt.date | None = None
    served_on: dt.date | None = None
    published_on: dt.date | None = None
    executed_on: dt.date | None = None
    penalty: bool = True
    finished_on: dt.date | None = None  # no_penalty / transferred out: the decision limit is met


@dataclass(frozen=True)
class Deadline:
    kind: str
    due_on: dt.date
    provisional: bool
    basis: tuple[str, ...]
    met_on: dt.date | None = None
    paused: bool = False


def _stopped_days(stops: Sequence[StopPeriod], today: dt.date) -> tuple[int, list[str], bool]:
    """Calendar days under a clock stop (overlaps counted once), the notes, and if one is open."""
    spans = sorted(
        ((s.started_on, s.ended_on or today, s) for s in stops),
        key=lambda span: (span[0], span[1], span[2].reason),  # stops themselves do not compare
    )
    total = 0
    notes: list[str] = []
    paused = False
    covered_until: dt.date | None = None
    for start, end, stop in spans:
        if covered_until is not None and start < covered_until:
            start = covered_until
        days = max((end - start).days, 0)
        total += days
        if covered_until is None or end > covered_until:
            covered_until = end
        if stop.ended_on is None:
            paused = True
            notes.append(
                f"+{days} days: clock stopped for {stop.reason} since "
                f"{stop.started_on.isoformat()} (still stopped; counted to {today.isoformat()})"
            )
        else:
            notes.append(
                f"+{days} days: clock stopped for {stop.reason} from "
                f"{stop.started_on.isoformat()} to {stop.ended_on.isoformat()}"
            )
    return total, notes, paused


def decision_deadline(
    dates: CaseDates,
    stops: Sequence[StopPeriod],
    *,
    rules: CaseRules,
    cal: WorkCalendar,
    today: dt.date,
) -> Deadline:
    stopped, stop_notes, paused = _stopped_days(stops, today)
    days = rules.decision_days + dates.extension_days + stopped
    due = due_in_days(cal, dates.filed_on, days, rule="decision")
    basis = [f"{rules.decision_days} days from filing on {dates.filed_on.isoformat()}"]
    if dates.extension_days:
        basis.append(
            f"+{dates.extension_days} days: {dates.extensions} approved extension(s) "
            f"(the first by the head, any further by collective decision)"
        )
    basis.extend(stop_notes)
    if "moved from rest day" in due.basis:
        basis.append(due.basis.split(", ", 1)[1])
    if due.provisional:
        basis.append("provisional: the holiday schedule of a year in this span is not loaded")
    met = dates.decided_on or dates.finished_on
    return Deadline("decision", due.date, due.provisional, tuple(basis), met, paused and not met)


def compute_case_deadlines(
    dates: CaseDates,
    stops: Sequence[StopPeriod],
    *,
    rules: CaseRules,
    cal: WorkCalendar,
    today: dt.date,
) -> list[Deadline]:
    """Every current time limit of the case, in the order they arise."""
    if dates.procedure == "general":
        out = [decision_deadline(dates, stops, rules=rules, cal=cal, today=today)]
    else:
        out = []
    if dates.prior_notice_on and dates.hearing_offered:
        due = due_in_days(cal, dates.prior_notice_on, rules.hearing_request_days, rule="hearing")
        # The party's window: "met" once it asked or declined, or once the decision was taken.
        met = (
            dates.prior_notice_on
            if dates.hearing_requested
            else dates.hearing_waived_on or dates.decided_on
        )
        out.append(_from_due("hearing_request", due, met))
    if dates.decided_on and dates.penalty:
        service = due_in_days(cal, dates.decided_on, rules.service_days, rule="service")
        out.append(_from_due("service", service, dates.served_on))
        publication = due_in_working_days(
            cal, dates.decided_on, rules.publication_wd, rule="publication of the decision"
        )
        out.append(_from_due("publication", publication, dates.published_on))
    if dates.served_on and dates.penalty:
        payment = due_in_days(cal, dates.served_on, rules.payment_days, rule="payment")
        out.append(_from_due("payment", payment, dates.executed_on))
    return out


def _from_due(kind: str, due: Due, met_on: dt.date | None) -> Deadline:
    basis = [due.basis]
    if due.provisional:
        basis.append("provisional: the holiday schedule of a year in this span is not loaded")
    return Deadline(kind, due.date, due.provisional, tuple(basis), met_on)


# ---------------------------------------------------------------------------
# Provider for the escalation sweep

CASE_RULE_KINDS = {
    "decision": "case.decision",
    "service": "case.service",
    "publication": "case.publication",
}


def last_day_within(horizon: dt.datetime, tz: dt.tzinfo) -> dt.date:
    """The day ``horizon`` ends (or falls in: tracking a day early is harmless)."""
    return (horizon - dt.timedelta(microseconds=1)).astimezone(tz).date()


async def provide(*, horizon: dt.datetime, watched: Sequence[str]) -> AsyncIterator[DeadlineItem]:
    """Open case, lead, transfer and legal-review deadlines due by ``horizon`` (or watched)."""
    from backend.cases.tables import (
        CaseDeadline,
        CaseOfficer,
        Lead,
        LeadClockStop,
        LegalReview,
        Transfer,
    )
    from backend.settings import get_settings

    tz = get_settings().timezone
    last_day = last_day_within(horizon, tz)
    ids = watched_ids(watched)
    probe = ids or [uuid.UUID(int=0)]

    rows = (
        await CaseDeadline.select(
            CaseDeadline.id,
            CaseDeadline.kind,
            CaseDeadline.due_on,
            CaseDeadline.met_on,
            CaseDeadline.case.as_alias("case_id"),
            CaseDeadline.case.number.as_alias("number"),
            CaseDeadline.case.org_unit.as_alias("org_unit_id"),
        )
        .where(CaseDeadline.kind.is_in(list(CASE_RULE_KINDS)))
        .where(
            (CaseDeadline.met_on.is_null() & (CaseDeadline.due_on <= last_day))
            | CaseDeadline.id.is_in(probe)
        )
        .run()
    )
    officers: dict[str, tuple[uuid.UUID, ...]] = {}
    case_ids = list({r["case_id"] for r in rows})
    if case_ids:
        for o in (
            await CaseOfficer.select(CaseOfficer.case, CaseOfficer.officer)
            .where(CaseOfficer.case.is_in(case_ids))
            .where(CaseOfficer.removed_at.is_null())
            .run()
        ):
            key = str(o["case"])
            officers[key] = (*officers.get(key, ()), uuid.UUID(str(o["officer"])))
    for r in rows:
        yield DeadlineItem(
            target_kind="case_deadline",
            target_id=str(r["id"]),
            rule_kind=CASE_RULE_KINDS[r["kind"]],
            due_at=end_of_day(r["due_on"], tz),
            org_unit_id=r["org_unit_id"],
            officer_ids=officers.get(str(r["case_id"]), ()),
            resolved=r["met_on"] is not None,
            title=f"案件 {r['number']}",
            details={"case_id": str(r["case_id"]), "kind": r["kind"]},
        )

    # A lead under testing/appraisal is paused: its due date moves when the stop ends.
    paused = {
        str(r["lead"])
        for r in await LeadClockStop.select(LeadClockStop.lead)
        .where(LeadClockStop.ended_on.is_null())
        .run()
    }
    for lead in (
        await Lead.select(
            Lead.id, Lead.number, Lead.status, Lead.decision_due, Lead.org_unit, Lead.subject_name
        )
        .where(((Lead.status == "open") & (Lead.decision_due <= last_day)) | Lead.id.is_in(probe))
        .run()
    ):
        if str(lead["id"]) in paused and str(lead["id"]) not in {str(i) for i in ids}:
            continue
        yield DeadlineItem(
            target_kind="lead",
            target_id=str(lead["id"]),
            rule_kind="lead.filing_decision",
            due_at=end_of_day(lead["decision_due"], tz),
            org_unit_id=lead["org_unit"],
            resolved=lead["status"] != "open",
            title=f"线索 {lead['number']} {lead['subject_name']}".strip(),
        )

    for review in (
        await LegalReview.select(
            LegalReview.id,
            LegalReview.status,
            LegalReview.due_on,
            LegalReview.case.number.as_alias("number"),
            LegalReview.case.org_unit.as_alias("org_unit_id"),
        )
        .where(
            ((LegalReview.status == "pending") & (LegalReview.due_on <= last_day))
            | LegalReview.id.is_in(probe)
        )
        .run()
    ):
        yield DeadlineItem(
            target_kind="legal_review",
            target_id=str(review["id"]),
            rule_kind="legal_review.decision",
            due_at=end_of_day(review["due_on"], tz),
            org_unit_id=review["org_unit_id"],
            resolved=review["status"] != "pending",
            title=f"法制审核 {review['number']}",
        )

    for transfer in (
        await Transfer.select(
            Transfer.id,
            Transfer.kind,
            Transfer.status,
            Transfer.respond_by,
            Transfer.handover_due_at,
            Transfer.from_org,
            Transfer.to_org,
            Transfer.case.number.as_alias("number"),
        )
        .where(
            (
                Transfer.status.is_in(["requested", "approved"])
                & ((Transfer.respond_by <= last_day) | (Transfer.handover_due_at <= horizon))
            )
            | Transfer.id.is_in(probe)
        )
        .run()
    ):
        police = transfer["kind"] == "to_police"
        if police and transfer["status"] == "approved":
            rule, due_at = "police_transfer.handover", transfer["handover_due_at"]
            resolved = False
        elif police:
            rule, due_at = "police_transfer.approval", end_of_day(transfer["respond_by"], tz)
            resolved = transfer["status"] != "requested"
        else:
            rule, due_at = "transfer.acceptance", end_of_day(transfer["respond_by"], tz)
            resolved = transfer["status"] != "requested"
        if police and transfer["status"] not in ("requested", "approved"):
            resolved = True
        yield DeadlineItem(
            target_kind="transfer",
            target_id=str(transfer["id"]),
            rule_kind=rule,
            due_at=due_at,
            org_unit_id=transfer["to_org"] if not police else transfer["from_org"],
            resolved=resolved,
            title=f"移送 {transfer['number']}",
        )
