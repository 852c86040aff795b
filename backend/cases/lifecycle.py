"""The case lifecycle: ONE table of allowed transitions, with role guards and preconditions.

Pure logic: ``service.py`` gathers the ``CaseFacts`` of a case and calls
``unmet_preconditions``; a refused transition answers 409 listing every unmet one.

General procedure::

    filed → investigating → [legal_review] → prior_notice → [hearing] → decided → served
          → executing → closed → archived
    (+ no_penalty, suspended, transferred_out)

Simplified on-site procedure (当场处罚): new → decided → served → executing → closed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from backend.cases.rules import CaseRules

NEW = "new"
RESUME = ""  # target of ``resume``: the status before the suspension

GENERAL = frozenset({"general"})
SIMPLIFIED = frozenset({"simplified"})
BOTH = GENERAL | SIMPLIFIED

ACTIVE_STATUSES = frozenset(
    {"filed", "investigating", "legal_review", "prior_notice", "hearing", "decided", "served",
     "executing", "suspended"}
)  # fmt: skip
FINISHED_STATUSES = frozenset({"closed", "archived", "no_penalty", "transferred_out"})


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    roles: tuple[str, ...]
    checks: tuple[str, ...] = ()
    procedures: frozenset[str] = GENERAL
    # Document added to the case file (stage, kind, title), if any.
    document: tuple[str, str, str] | None = None


def _t(
    action: str,
    sources: set[str] | frozenset[str],
    target: str,
    roles: tuple[str, ...],
    checks: tuple[str, ...] = (),
    procedures: frozenset[str] = GENERAL,
    document: tuple[str, str, str] | None = None,
) -> Transition:
    return Transition(action, frozenset(sources), target, roles, checks, procedures, document)


LEADERS = ("squad_leader", "head")
TEAM = ("officer", "squad_leader", "head")
PRE_DECISION = {"filed", "investigating", "legal_review", "prior_notice", "hearing"}

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        _t("file", {NEW}, "filed", ("head",), ("matter_active", "limitation"),
           document=("filing", "filing_approval", "立案审批表")),
        _t("investigate", {"filed"}, "investigating", LEADERS, ("officers", "jurisdiction")),
        _t("submit_review", {"investigating"}, "legal_review", TEAM,
           ("officers", "penalty_proposed"), document=("review", "review_request", "法制审核申请")),
        _t("return_review", {"legal_review"}, "investigating", ("legal_reviewer",),
           document=("review", "review_returned", "法制审核意见（退回）")),
        _t("give_prior_notice", {"investigating", "legal_review"}, "prior_notice", TEAM,
           ("officers", "penalty_proposed", "review_passed_if_major", "jurisdiction"),
           document=("review", "prior_notice", "行政处罚事先告知书")),
        _t("request_hearing", {"prior_notice"}, "hearing", TEAM,
           ("hearing_offered", "hearing_window_open", "hearing_not_waived"),
           document=("review", "hearing_request", "听证申请")),
        _t("decide", {"prior_notice", "hearing"}, "decided", ("head",),
           ("officers", "prior_notice_given", "statement_period_over", "hearing_held_if_requested",
            "review_passed_if_major", "jurisdiction", "limitation"),
           document=("decision", "decision", "行政处罚决定书")),
        _t("decide_no_penalty", {"investigating", "legal_review", "prior_notice", "hearing"},
           "no_penalty", ("head",), ("officers",),
           document=("decision", "no_penalty_decision", "不予行政处罚决定书")),
        _t("decide_on_site", {NEW}, "decided", TEAM,
           ("officers", "simplified_limits", "jurisdiction", "matter_active"),
           procedures=SIMPLIFIED, document=("decision", "on_site_decision", "当场行政处罚决定书")),
        _t("serve", {"decided"}, "served", TEAM, ("decided",), procedures=BOTH,
           document=("service", "service_receipt", "送达回证")),
        _t("execute", {"served"}, "executing", TEAM, ("served",), procedures=BOTH,
           document=("execution", "execution_record", "执行记录")),
        _t("close", {"executing", "no_penalty"}, "closed", LEADERS, ("executed",),
           procedures=BOTH, document=("execution", "closing_report", "结案报告")),
        _t("archive", {"closed"}, "archived", ("head", "legal_reviewer", "admin"),
           procedures=BOTH),
        _t("suspend", PRE_DECISION, "suspended", ("head",),
           document=("investigation", "suspension", "中止调查决定书")),
        _t("resume", {"suspended"}, RESUME, ("head",),
           document=("investigation", "resumption", "恢复调查决定书")),
        _t("transfer_out", ACTIVE_STATUSES - {"suspended"}, "transferred_out", ("head",),
           procedures=BOTH, document=("execution", "police_transfer", "涉嫌犯罪案件移送书")),
    ]
}  # fmt: skip


@dataclass(frozen=True)
class Certified:
    """An officer assigned to the case, with the periods their certificates cover the domain."""

    officer_id: str
    name: str
    periods: tuple[tuple[dt.date, dt.date], ...]

    def certified_on(self, day: dt.date) -> bool:
        return any(start <= day <= end for start, end in self.periods)


@dataclass(frozen=True)
class CaseFacts:
    """What the preconditions read about one case, gathered by the service."""

    status: str
    procedure: str
    today: dt.date
    rules: CaseRules
    matter_code: str = ""
    matter_domain: str = ""
    matter_active: bool = True
    matter_major: bool = False
    matter_serious: bool = False
    hearing_threshold_individual: int | None = None
    hearing_threshold_organisation: int | None = None
    subject_kind: str = "organisation"
    penalty_kind: str = ""
    fine_amount: int | None = None
    confiscation_value: int | None = None
    officers: tuple[Certified, ...] = ()
    prior_notice_on: dt.date | None = None
    hearing_requested: bool = False
    hearing_held_on: dt.date | None = None
    decided_on: dt.date | None = None
    served_on: dt.date | None = None
    executed_on: dt.date | None = None
    review_status: str | None = None
    handling_unit_kind: str = "county"
    handling_unit_name: str = ""
    # Whether the matter is granted (on ``today``) to the handling unit / the area township.
    granted_to_handler: bool = False
    area_is_township: bool = False
    area_name: str = ""
    granted_to_area: bool = False
    flags: tuple[str, ...] = ()
    violation_on: dt.date | None = None
    violation_ended_on: dt.date | None = None
    # When the unit learned of the violation: the lead's receipt, else the filing (None: today).
    discovered_on: dt.date | None = None
    hearing_waived: bool = False
    # A transfer under way freezes the case until it is answered.
    transfer_pending: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    # -- derived rules ---------------------------------------------------------

    @property
    def hearing_threshold(self) -> int:
        if self.subject_kind == "individual":
            if self.hearing_threshold_individual is not None:
                return self.hearing_threshold_individual
            return self.rules.hearing_threshold_individual
        if self.hearing_threshold_organisation is not None:
            return self.hearing_threshold_organisation
        return self.rules.hearing_threshold_organisation

    @property
    def hearing_offered(self) -> bool:
        """听证: fine or confiscation at the threshold, revocation, suspension, practice ban."""
        if self.penalty_kind in ("permit_revocation", "suspension", "practice_ban"):
            return True
        amount = max(self.fine_amount or 0, self.confiscation_value or 0)
        return amount >= self.hearing_threshold

    @property
    def major(self) -> bool:
        """重大执法决定: the catalogue's flag, a hearing held, or a fine above the threshold."""
        threshold = (
            self.rules.major_fine_individual
            if self.subject_kind == "individual"
            else self.rules.major_fine_organisation
        )
        return (
            self.matter_major
            or self.hearing_held_on is not None
            or (self.fine_amount or 0) >= threshold
        )

    @property
    def hearing_window_ends(self) -> dt.date | None:
        if self.prior_notice_on is None:
            return None
        return self.prior_notice_on + dt.timedelta(days=self.rules.hearing_request_days)

    @property
    def limitation_ends(self) -> dt.date | None:
        start = self.violation_ended_on or self.violation_on
        if start is None:
            return None
        years = (
            self.rules.limitation_years_serious
            if self.matter_serious
            else (self.rules.limitation_years)
        )
        try:
            return start.replace(year=start.year + years)
        except ValueError:  # 29 February
            return start.replace(year=start.year + years, day=28)

    def certified_officers(self, day: dt.date) -> list[Certified]:
        return [o for o in self.officers if o.certified_on(day)]


# -- the preconditions: each returns the reasons it is unmet (empty when met) --------


def _officers(f: CaseFacts) -> list[str]:
    certified = f.certified_officers(f.today)
    if len(certified) >= f.rules.min_officers:
        return []
    missing = [o.name for o in f.officers if not o.certified_on(f.today)]
    reason = (
        f"at least {f.rules.min_officers} assigned officers need a certificate valid on "
        f"{f.today.isoformat()} for the domain {f.matter_domain!r}; {len(certified)} have one"
    )
    if missing:
        reason += f" (without: {', '.join(missing)})"
    return [reason]


def _jurisdiction(f: CaseFacts) -> list[str]:
    county_flags = [x for x in f.flags if x in f.rules.county_flags]
    if f.handling_unit_kind in ("township", "zone"):
        out = []
        if not f.granted_to_handler:
            out.append(
                f"matter {f.matter_code} is not granted to {f.handling_unit_name} on "
                f"{f.today.isoformat()}: escalate the case to the county"
            )
        if county_flags:
            out.append(
                f"the case is flagged {', '.join(county_flags)}: the county handles it; escalate"
            )
        return out
    if f.area_is_township and f.granted_to_area and not county_flags:
        return [
            f"matter {f.matter_code} is granted to {f.area_name} on {f.today.isoformat()}: "
            "the county no longer exercises it there; delegate the case"
        ]
    return []


def _matter_active(f: CaseFacts) -> list[str]:
    return [] if f.matter_active else [f"matter {f.matter_code} is no longer in the catalogue"]


def _limitation(f: CaseFacts) -> list[str]:
    """行政处罚法 art. 36: no penalty for a violation not discovered within the period; one
    discovered in time may still be decided after the period ends."""
    ends = f.limitation_ends
    discovered = f.discovered_on or f.today
    if ends is not None and discovered > ends:
        return [
            f"the limitation period ended on {ends.isoformat()}, before the violation was "
            f"discovered on {discovered.isoformat()}"
        ]
    return []


def _penalty_proposed(f: CaseFacts) -> list[str]:
    if not f.penalty_kind:
        return ["no penalty has been proposed yet"]
    if f.penalty_kind == "fine" and not f.fine_amount:
        return ["a fine needs an amount"]
    return []


def _review_passed_if_major(f: CaseFacts) -> list[str]:
    if f.major and f.review_status != "passed":
        return ["a major decision needs a passed legal review (法制审核) first"]
    return []


def _prior_notice_given(f: CaseFacts) -> list[str]:
    return [] if f.prior_notice_on else ["no prior notice (事先告知) was given"]


def _statement_period_over(f: CaseFacts) -> list[str]:
    """The party had its time to state its case or ask for a hearing."""
    ends = f.hearing_window_ends
    if f.hearing_requested or f.hearing_waived or ends is None:
        return []
    if f.hearing_offered and f.today <= ends:
        return [f"the party may still ask for a hearing until {ends.isoformat()}"]
    return []


def _hearing_held_if_requested(f: CaseFacts) -> list[str]:
    if f.hearing_requested and f.hearing_held_on is None:
        return ["the party asked for a hearing and it has not been held"]
    return []


def _hearing_offered(f: CaseFacts) -> list[str]:
    if f.hearing_offered:
        return []
    return [
        f"the proposed penalty does not reach the hearing threshold ({f.hearing_threshold} yuan)"
    ]


def _hearing_window_open(f: CaseFacts) -> list[str]:
    ends = f.hearing_window_ends
    if ends is not None and f.today > ends:
        return [f"the hearing request window ended on {ends.isoformat()}"]
    return []


def _hearing_not_waived(f: CaseFacts) -> list[str]:
    return ["the party has waived the hearing"] if f.hearing_waived else []


def _hearing_not_requested(f: CaseFacts) -> list[str]:
    return ["the party has asked for a hearing"] if f.hearing_requested else []


# A step that keeps the status: the party declines the hearing within its window, so the case
# may be decided before the window ends (see ``_statement_period_over``).
WAIVE_HEARING = Transition(
    "waive_hearing", frozenset({"prior_notice"}), "prior_notice", TEAM,
    ("prior_notice_given", "hearing_offered", "hearing_window_open", "hearing_not_requested",
     "hearing_not_waived"),
    document=("review", "hearing_waiver", "放弃听证声明"),
)  # fmt: skip

# What a case's next-actions list offers: every transition, and the steps that keep the status
# but have preconditions of their own (``POST /cases/{id}/hearing/waive``).
NEXT_ACTIONS: tuple[Transition, ...] = (*TRANSITIONS.values(), WAIVE_HEARING)


# Next actions posted elsewhere than ``/api/v1/cases/{id}/transitions/{action}``: below the
# case, or (``{review}``) on the case's pending legal review.
ACTION_PATHS = {
    "waive_hearing": "/api/v1/cases/{case}/hearing/waive",
    "submit_review": "/api/v1/cases/{case}/reviews",
    "transfer_out": "/api/v1/cases/{case}/transfers",
    "return_review": "/api/v1/legal-reviews/{review}/return",
}


def action_path(action: str, case_id: object, review_id: object = None) -> str:
    """Where a next action is posted (empty when it needs a review the case does not have)."""
    template = ACTION_PATHS.get(action, "/api/v1/cases/{case}/transitions/" + action)
    if "{review}" in template and review_id is None:
        return ""
    return template.format(case=case_id, review=review_id)


@dataclass(frozen=True)
class CaseWrite:
    """A write on a case that keeps its status, and the roles that may make it."""

    action: str
    what: str
    roles: tuple[str, ...]


# Who may make each write that is not a status change (the transitions above say it for
# those): the case team for investigation work, the head or a squad leader for approvals.
# The case's scope is checked as well (404 outside it).
CASE_WRITES: dict[str, CaseWrite] = {
    w.action: w
    for w in [
        CaseWrite("propose_penalty", "proposing a penalty", TEAM),
        CaseWrite("record_action", "recording an on-site action", TEAM),
        CaseWrite("attach_action_evidence", "attaching recordings to an action", TEAM),
        CaseWrite("schedule_hearing", "scheduling a hearing", TEAM),
        CaseWrite("waive_hearing", "recording a hearing waiver", WAIVE_HEARING.roles),
        CaseWrite("record_hearing", "recording a hearing", TEAM),
        CaseWrite("start_clock_stop", "stopping the decision clock", TEAM),
        CaseWrite("end_clock_stop", "ending a clock stop", TEAM),
        CaseWrite("publish_decision", "publishing the decision", TEAM),
        # RULES.md: +30 days with the head's approval (further ones by collective decision).
        CaseWrite("extend_decision", "extending the decision limit", ("head",)),
        CaseWrite("assign_team", "confirming or overriding the case team", LEADERS),
        CaseWrite("police_hand_over", "handing the case over to the police", TEAM),
        CaseWrite("police_decision", "recording the police decision", TEAM),
    ]
}


def _simplified_limits(f: CaseFacts) -> list[str]:
    if f.penalty_kind == "warning":
        return []
    limit = (
        f.rules.simplified_max_fine_individual
        if f.subject_kind == "individual"
        else f.rules.simplified_max_fine_organisation
    )
    if f.penalty_kind != "fine" or not f.fine_amount:
        return ["the simplified procedure allows only a warning or a fine"]
    if f.fine_amount > limit:
        return [
            f"a fine of {f.fine_amount} yuan on an {f.subject_kind} exceeds the simplified "
            f"procedure's limit of {limit} yuan"
        ]
    return []


def _decided(f: CaseFacts) -> list[str]:
    return [] if f.decided_on else ["there is no decision to serve"]


def _served(f: CaseFacts) -> list[str]:
    return [] if f.served_on else ["the decision must be served before execution"]


def _executed(f: CaseFacts) -> list[str]:
    if f.status == "no_penalty" or f.executed_on:
        return []
    return ["execution has not been recorded"]


CHECKS: dict[str, Callable[[CaseFacts], list[str]]] = {
    "officers": _officers,
    "jurisdiction": _jurisdiction,
    "matter_active": _matter_active,
    "limitation": _limitation,
    "penalty_proposed": _penalty_proposed,
    "review_passed_if_major": _review_passed_if_major,
    "prior_notice_given": _prior_notice_given,
    "statement_period_over": _statement_period_over,
    "hearing_held_if_requested": _hearing_held_if_requested,
    "hearing_offered": _hearing_offered,
    "hearing_window_open": _hearing_window_open,
    "hearing_not_waived": _hearing_not_waived,
    "hearing_not_requested": _hearing_not_requested,
    "simplified_limits": _simplified_limits,
    "decided": _decided,
    "served": _served,
    "executed": _executed,
}


@dataclass(frozen=True)
class Unmet:
    check: str
    detail: str


def unmet_preconditions(transition: Transition, facts: CaseFacts) -> list[Unmet]:
    """Every reason the transition cannot happen now (status, procedure, preconditions)."""
    out: list[Unmet] = []
    if facts.status not in transition.sources:
        allowed = ", ".join(sorted(transition.sources))
        out.append(
            Unmet("status", f"a case in status {facts.status} cannot {transition.action} "
                            f"(allowed from: {allowed})")
        )  # fmt: skip
    if facts.procedure not in transition.procedures:
        out.append(
            Unmet(
                "procedure", f"{transition.action} is not part of the {facts.procedure} procedure"
            )
        )
    if facts.transfer_pending and transition.action != "transfer_out":
        out.append(Unmet("transfer", "a transfer of the case is waiting for an answer"))
    for name in transition.checks:
        out.extend(Unmet(name, reason) for reason in CHECKS[name](facts))
    return out


def target_of(transition: Transition, suspended_from: str) -> str:
    return suspended_from if transition.target == RESUME else transition.target
