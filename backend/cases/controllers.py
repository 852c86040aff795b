"""Web API of leads and cases (thin: every rule lives in the service modules)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.response import Stream

from backend.cases import casefile, leads, review, rules, scoring, service, transfers
from backend.cases import schemas as s
from backend.core.auth import Principal, require_roles
from backend.core.pagination import Page, check_page

WRITERS = [require_roles("officer", "squad_leader", "head", "supervisor", "admin")]


class LeadController(Controller):
    path = "/leads"
    tags = ["leads"]

    @get("/", operation_id="listLeads")
    async def list_leads(
        self,
        request: Request[Principal, Any, Any],
        status: str | None = None,
        source: str | None = None,
        org_unit_id: uuid.UUID | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page[s.LeadOut]:
        check_page(limit, offset)
        items, total = await leads.list_leads(
            principal=request.user,
            status=status,
            source=source,
            org_unit_id=org_unit_id,
            limit=limit,
            offset=offset,
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @post("/", operation_id="createLead", guards=WRITERS)
    async def create(self, data: s.LeadIn, request: Request[Principal, Any, Any]) -> s.LeadOut:
        return await leads.create_lead(
            principal=request.user,
            org_unit_id=data.org_unit_id,
            source=data.source,
            description=data.description,
            source_ref=data.source_ref,
            grid_id=data.grid_id,
            location=data.location,
            longitude=data.longitude,
            latitude=data.latitude,
            subject_code=data.subject_code,
            subject_name=data.subject_name,
            matter_code=data.matter_code,
        )

    @get("/{lead_id:uuid}", operation_id="getLead")
    async def get_one(self, lead_id: uuid.UUID, request: Request[Principal, Any, Any]) -> s.LeadOut:
        return await leads.get_lead(principal=request.user, lead_id=lead_id)

    @post("/{lead_id:uuid}/not-filed", operation_id="decideLeadNotFiled", status_code=200)
    async def not_filed(
        self, lead_id: uuid.UUID, data: s.LeadNotFiledIn, request: Request[Principal, Any, Any]
    ) -> s.LeadOut:
        """不予立案: close the lead without a case, with the reasons."""
        return await leads.decide_not_to_file(
            principal=request.user, lead_id=lead_id, reason=data.reason, version=data.version
        )

    @post("/{lead_id:uuid}/extend", operation_id="extendLeadDecision", status_code=200)
    async def extend(
        self, lead_id: uuid.UUID, data: s.LeadExtendIn, request: Request[Principal, Any, Any]
    ) -> s.LeadOut:
        """The head approves 15 more working days for the decision to file."""
        return await leads.extend_lead_decision(
            principal=request.user, lead_id=lead_id, reason=data.reason, version=data.version
        )

    @post("/{lead_id:uuid}/clock-stops", operation_id="stopLeadClock", status_code=200)
    async def stop_clock(
        self, lead_id: uuid.UUID, data: s.LeadClockStopIn, request: Request[Principal, Any, Any]
    ) -> s.LeadOut:
        """Testing or appraisal starts: it does not count toward the decision to file."""
        return await leads.stop_lead_clock(principal=request.user, lead_id=lead_id, data=data)

    @post("/{lead_id:uuid}/clock-stops/end", operation_id="resumeLeadClock", status_code=200)
    async def resume_clock(
        self, lead_id: uuid.UUID, data: s.LeadClockResumeIn, request: Request[Principal, Any, Any]
    ) -> s.LeadOut:
        """Testing or appraisal ended: the decision deadline moves by the working days it took."""
        return await leads.resume_lead_clock(principal=request.user, lead_id=lead_id, data=data)


class CaseRuleController(Controller):
    path = "/case-rules"
    tags = ["cases"]

    @get("/", operation_id="listCaseRules")
    async def list_rules(self) -> list[s.RuleOut]:
        """Every rule of RULES.md that cases use: its local value and its default."""
        current = await rules.load_rules()
        return [
            s.RuleOut(
                key=key,
                value=rules.plain(getattr(current, key)),
                default=rules.plain(getattr(rules.DEFAULTS, key)),
            )
            for key in rules.FIELDS
        ]

    @put("/{key:str}", operation_id="setCaseRule", guards=[require_roles("admin")])
    async def set_rule(
        self, key: str, data: s.RuleIn, request: Request[Principal, Any, Any]
    ) -> s.RuleOut:
        value = await rules.set_rule(principal=request.user, key=key, value=data.value)
        return s.RuleOut(key=key, value=value, default=rules.plain(getattr(rules.DEFAULTS, key)))


class CaseController(Controller):
    path = "/cases"
    tags = ["cases"]

    @get("/", operation_id="listCases")
    async def list_cases(
        self,
        request: Request[Principal, Any, Any],
        status: str | None = None,
        org_unit_id: uuid.UUID | None = None,
        officer_id: uuid.UUID | None = None,
        team_id: uuid.UUID | None = None,
        changed_since: dt.datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page[s.CaseOut]:
        check_page(limit, offset)
        items, total = await service.list_cases(
            principal=request.user,
            status=status,
            org_unit_id=org_unit_id,
            officer_id=officer_id,
            team_id=team_id,
            changed_since=changed_since,
            limit=limit,
            offset=offset,
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @post("/", operation_id="fileCase")
    async def file_case(
        self, data: s.CaseFileIn, request: Request[Principal, Any, Any]
    ) -> s.CaseOut:
        """立案: open a case (general procedure), usually from a lead."""
        return await service.file_case(principal=request.user, data=data)

    @post("/on-site", operation_id="decideOnSite")
    async def on_site(
        self, data: s.OnSiteDecisionIn, request: Request[Principal, Any, Any]
    ) -> s.CaseOut:
        """当场处罚: the simplified procedure (warning, or a fine within the limits)."""
        return await service.decide_on_site(principal=request.user, data=data)

    @get("/{case_id:uuid}", operation_id="getCase")
    async def get_one(self, case_id: uuid.UUID, request: Request[Principal, Any, Any]) -> s.CaseOut:
        return await service.get_case(principal=request.user, case_id=case_id)

    @post("/{case_id:uuid}/transitions/{action:str}", operation_id="transitionCase",
          status_code=200)  # fmt: skip
    async def transition(
        self,
        case_id: uuid.UUID,
        action: str,
        data: s.TransitionIn,
        request: Request[Principal, Any, Any],
    ) -> s.CaseOut:
        """Move the case; 403 for the wrong role, 409 listing every unmet precondition."""
        return await service.transition_case(
            principal=request.user,
            case_id=case_id,
            action=action,
            version=data.version,
            note=data.note,
        )

    @get("/{case_id:uuid}/next-actions", operation_id="caseNextActions")
    async def next_actions(
        self, case_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> list[s.NextActionOut]:
        return await service.next_actions(principal=request.user, case_id=case_id)

    @get("/{case_id:uuid}/deadlines", operation_id="caseDeadlines")
    async def deadlines(
        self, case_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> list[s.DeadlineOut]:
        """Current time limits, how each was computed, and whether it is provisional."""
        return await service.case_deadlines(principal=request.user, case_id=case_id)

    @post("/{case_id:uuid}/penalty", operation_id="proposePenalty", status_code=200)
    async def penalty(
        self, case_id: uuid.UUID, data: s.PenaltyIn, request: Request[Principal, Any, Any]
    ) -> s.CaseOut:
        return await service.propose_penalty(principal=request.user, case_id=case_id, data=data)

    @get("/{case_id:uuid}/actions", operation_id="listCaseActions")
    async def actions(
        self, case_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> list[s.ActionOut]:
        return await service.list_actions(principal=request.user, case_id=case_id)

    @post("/{case_id:uuid}/actions", operation_id="recordCaseAction")
    async def record_action(
        self, case_id: uuid.UUID, data: s.ActionIn, request: Request[Principal, Any, Any]
    ) -> s.ActionOut:
        return await service.record_action(principal=request.user, case_id=case_id, data=data)

    @post("/{case_id:uuid}/actions/{action_id:uuid}/evidence", operation_id="attachActionEvidence",
          status_code=200)  # fmt: skip
    async def attach_evidence(
        self,
        case_id: uuid.UUID,
        action_id: uuid.UUID,
        data: s.ActionEvidenceIn,
        request: Request[Principal, Any, Any],
    ) -> s.ActionOut:
        return await service.attach_action_evidence(
            principal=request.user,
            case_id=case_id,
            action_id=action_id,
            evidence_ids=data.evidence_ids,
        )

    @post("/{case_id:uuid}/hearing/schedule", operation_id="scheduleHearing", status_code=200)
    async def schedule_hearing(
        self, case_id: uuid.UUID, data: s.HearingScheduleIn, request: Request[Principal, Any, Any]
    ) -> s.CaseOut:
        return await service.schedule_hearing(principal=request.user, case_id=case_id, data=data)

    @post("/{case_id:uuid}/hearing/waive", operation_id="waiveHearing", status_code=200)
    async def waive_hearing(
        self, case_id: uuid.UUID, data: s.HearingWaiverIn, request: Request[Principal, Any, Any]
    ) -> s.CaseOut:
        """放弃听证: the party declined the hearing in writing within its request window."""
        return await service.waive_hearing(principal=request.user, case_id=case_id, data=data)

    @post("/{case_id:uuid}/hearing/record", operation_id="recordHearing", status_code=200)
    async def record_hearing(
        self, case_id: uuid.UUID, data: s.HearingRecordIn, request: Request[Principal, Any, Any]
    ) -> s.CaseOut:
        return await service.record_hearing(principal=request.user, case_id=case_id, data=data)

    @post("/{case_id:uuid}/clock-stops", operation_id="startClockStop")
    async def start_stop(
        self, case_id: uuid.UUID, data: s.ClockStopIn, request: Request[Principal, Any, Any]
    ) -> s.ClockStopOut:
        return await service.start_clock_stop(principal=request.user, case_id=case_id, data=data)

    @post("/{case_id:uuid}/clock-stops/{stop_id:uuid}/end", operation_id="endClockStop",
          status_code=200)  # fmt: skip
    async def end_stop(
        self,
        case_id: uuid.UUID,
        stop_id: uuid.UUID,
        data: s.ClockStopEndIn,
        request: Request[Principal, Any, Any],
    ) -> s.ClockStopOut:
        return await service.end_clock_stop(
            principal=request.user, case_id=case_id, stop_id=stop_id, data=data
        )

    @post("/{case_id:uuid}/extensions", operation_id="extendCaseDecision", status_code=200)
    async def extend(
        self, case_id: uuid.UUID, data: s.ExtensionIn, request: Request[Principal, Any, Any]
    ) -> s.CaseOut:
        """+30 days by the head; any further extension needs a collective decision."""
        return await service.extend_decision(principal=request.user, case_id=case_id, data=data)

    @post("/{case_id:uuid}/publish", operation_id="publishDecision", status_code=200)
    async def publish(
        self, case_id: uuid.UUID, data: s.TransitionIn, request: Request[Principal, Any, Any]
    ) -> s.CaseOut:
        return await service.publish_decision(
            principal=request.user, case_id=case_id, version=data.version
        )

    @get("/{case_id:uuid}/team-proposal", operation_id="proposeCaseTeam")
    async def team_proposal(
        self, case_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> s.TeamProposalOut:
        """The team the system proposes: grid coverage, domain competence, open load."""
        return await service.propose_team(principal=request.user, case_id=case_id)

    @post("/{case_id:uuid}/team", operation_id="assignCaseTeam", status_code=200)
    async def assign_team(
        self, case_id: uuid.UUID, data: s.TeamAssignIn, request: Request[Principal, Any, Any]
    ) -> s.CaseOut:
        return await service.assign_team(principal=request.user, case_id=case_id, data=data)

    @get("/{case_id:uuid}/precheck", operation_id="casePrecheck")
    async def precheck(
        self, case_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> list[review.VetoItem]:
        """The legal review's automatic pre-check: veto items of the case as it stands."""
        row = await service.load_case(request.user, case_id, write=False)
        return await review.precheck(case_id, row=row)

    @get("/{case_id:uuid}/file", operation_id="getCaseFile")
    async def case_file(
        self, case_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> casefile.CaseFileOut:
        """电子卷宗: summary, documents in file order, evidence and custody, timeline."""
        return await casefile.assemble(principal=request.user, case_id=case_id)

    @get("/{case_id:uuid}/file/export", operation_id="exportCaseFile")
    async def export_case_file(
        self, case_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> Stream:
        """The case file as a zip with manifest.json, streamed (never held whole in memory)."""
        chunks = await casefile.export_bundle(
            principal=request.user, case_id=case_id, store=request.app.state.store
        )
        return Stream(
            chunks,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="case-{case_id}.zip"'},
        )

    @get("/{case_id:uuid}/transfers", operation_id="listCaseTransfers")
    async def case_transfers(
        self, case_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> list[transfers.TransferOut]:
        return await transfers.list_transfers(principal=request.user, case_id=case_id)

    @post("/{case_id:uuid}/transfers", operation_id="requestCaseTransfer")
    async def request_transfer(
        self, case_id: uuid.UUID, data: transfers.TransferIn,
        request: Request[Principal, Any, Any],
    ) -> transfers.TransferOut:  # fmt: skip
        """Escalate, delegate, move laterally or hand to the police, with the file's manifest."""
        return await transfers.request_transfer(principal=request.user, case_id=case_id, data=data)

    @get("/{case_id:uuid}/score-sheet", operation_id="caseScoreSheet")
    async def score_sheet(
        self, case_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> scoring.ScoreSheetOut:
        """案卷评查 template with veto items pre-filled from the pre-check."""
        return await scoring.score_sheet(principal=request.user, case_id=case_id)

    @post("/{case_id:uuid}/score", operation_id="scoreCaseFile")
    async def score(
        self, case_id: uuid.UUID, data: scoring.ScoreIn, request: Request[Principal, Any, Any]
    ) -> scoring.ScoreOut:
        return await scoring.score_case(principal=request.user, case_id=case_id, data=data)

    @get("/{case_id:uuid}/reviews", operation_id="listLegalReviews")
    async def reviews(
        self, case_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> list[review.ReviewOut]:
        return await review.list_reviews(principal=request.user, case_id=case_id)

    @post("/{case_id:uuid}/reviews", operation_id="requestLegalReview")
    async def request_review(
        self, case_id: uuid.UUID, data: review.ReviewRequestIn,
        request: Request[Principal, Any, Any],
    ) -> review.ReviewOut:  # fmt: skip
        return await review.request_review(
            principal=request.user, case_id=case_id, version=data.version, note=data.note
        )


class LegalReviewController(Controller):
    path = "/legal-reviews"
    tags = ["cases"]

    @post("/{review_id:uuid}/pass", operation_id="passLegalReview", status_code=200)
    async def pass_review(
        self, review_id: uuid.UUID, data: review.ReviewPassIn,
        request: Request[Principal, Any, Any],
    ) -> review.ReviewOut:  # fmt: skip
        return await review.pass_review(
            principal=request.user, review_id=review_id, opinion=data.opinion
        )

    @post("/{review_id:uuid}/return", operation_id="returnLegalReview", status_code=200)
    async def return_review(
        self, review_id: uuid.UUID, data: review.ReviewReturnIn,
        request: Request[Principal, Any, Any],
    ) -> review.ReviewOut:  # fmt: skip
        return await review.return_review(
            principal=request.user, review_id=review_id, issues=data.issues, opinion=data.opinion
        )

    @post("/{review_id:uuid}/extend", operation_id="extendLegalReview", status_code=200)
    async def extend(
        self, review_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> review.ReviewOut:
        return await review.extend_review(principal=request.user, review_id=review_id)


class FileScoreController(Controller):
    path = "/file-scores"
    tags = ["cases"]

    @get("/stats", operation_id="fileScoreStats")
    async def stats(
        self, request: Request[Principal, Any, Any], by: str = "team"
    ) -> list[scoring.StatOut]:
        """Scores per team (``by=team``) or per township (``by=org_unit``)."""
        return await scoring.score_statistics(principal=request.user, by=by)


class TransferController(Controller):
    path = "/transfers"
    tags = ["cases"]

    @get("/", operation_id="listIncomingTransfers")
    async def incoming(self, request: Request[Principal, Any, Any]) -> list[transfers.TransferOut]:
        """Transfers waiting for the principal's units to accept or reject."""
        return await transfers.list_transfers(principal=request.user, incoming=True)

    @get("/{transfer_id:uuid}/manifest", operation_id="getTransferManifest")
    async def manifest(
        self, transfer_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> dict[str, Any]:
        return await transfers.get_manifest(principal=request.user, transfer_id=transfer_id)

    @post("/{transfer_id:uuid}/accept", operation_id="acceptTransfer", status_code=200)
    async def accept(
        self, transfer_id: uuid.UUID, data: transfers.TransferAnswerIn,
        request: Request[Principal, Any, Any],
    ) -> transfers.TransferOut:  # fmt: skip
        return await transfers.accept_transfer(
            principal=request.user, transfer_id=transfer_id, reason=data.reason
        )

    @post("/{transfer_id:uuid}/reject", operation_id="rejectTransfer", status_code=200)
    async def reject(
        self, transfer_id: uuid.UUID, data: transfers.TransferAnswerIn,
        request: Request[Principal, Any, Any],
    ) -> transfers.TransferOut:  # fmt: skip
        return await transfers.reject_transfer(
            principal=request.user, transfer_id=transfer_id, reason=data.reason
        )

    @post("/{transfer_id:uuid}/approve", operation_id="approvePoliceTransfer", status_code=200)
    async def approve(
        self, transfer_id: uuid.UUID, data: transfers.TransferAnswerIn,
        request: Request[Principal, Any, Any],
    ) -> transfers.TransferOut:  # fmt: skip
        """The head approves a police transfer (hand-over due within 24 hours)."""
        return await transfers.decide_police_transfer(
            principal=request.user, transfer_id=transfer_id, approve=True, reason=data.reason
        )

    @post("/{transfer_id:uuid}/refuse", operation_id="refusePoliceTransfer", status_code=200)
    async def refuse(
        self, transfer_id: uuid.UUID, data: transfers.TransferAnswerIn,
        request: Request[Principal, Any, Any],
    ) -> transfers.TransferOut:  # fmt: skip
        return await transfers.decide_police_transfer(
            principal=request.user, transfer_id=transfer_id, approve=False, reason=data.reason
        )

    @post("/{transfer_id:uuid}/hand-over", operation_id="handOverToPolice", status_code=200)
    async def hand_over(
        self, transfer_id: uuid.UUID, request: Request[Principal, Any, Any]
    ) -> transfers.TransferOut:
        return await transfers.hand_over_to_police(principal=request.user, transfer_id=transfer_id)

    @post("/{transfer_id:uuid}/police-decision", operation_id="recordPoliceDecision",
          status_code=200)  # fmt: skip
    async def police_decision(
        self, transfer_id: uuid.UUID, data: transfers.PoliceDecisionIn,
        request: Request[Principal, Any, Any],
    ) -> transfers.TransferOut:  # fmt: skip
        return await transfers.record_police_decision(
            principal=request.user, transfer_id=transfer_id, data=data
        )


CONTROLLERS = [
    FileScoreController,
    TransferController,
    LeadController,
    CaseRuleController,
    CaseController,
    LegalReviewController,
]
