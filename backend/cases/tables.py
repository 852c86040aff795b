"""Leads (线索) and cases (案件) with their officers, deadlines, transfers, reviews and scores."""

from piccolo.columns import (
    UUID,
    Array,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Real,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from backend.matters.tables import Matter
from backend.orgs.tables import Grid, Officer, OrgUnit, Team


class Lead(Table, tablename="lead"):
    """A reported possible violation, waiting for the decision to file a case or not."""

    id = UUID(primary_key=True)
    # "<org unit code>-<year>-XS-<seq>", e.g. XQ-2026-XS-0012 (older leads: XS<date>-<hex>).
    number = Varchar(length=80, unique=True)
    # grid / hotline / complaint / inspection / patrol / referral
    source = Varchar(length=20, index=True)
    # What the source calls it: an inspection task id, a 12345 ticket number...
    source_ref = Varchar(length=100, default="", index=True)
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    grid = ForeignKey(references=Grid, on_delete=OnDelete.restrict, null=True, default=None)
    location = Text(default="")
    longitude = Real(null=True, default=None)
    latitude = Real(null=True, default=None)
    subject_code = Varchar(length=18, default="", index=True)
    subject_name = Varchar(length=200, default="")
    matter_code = Varchar(length=60, default="")
    description = Text()
    # open → filed | not_filed
    status = Varchar(length=20, default="open", index=True)
    received_at = Timestamptz()
    decision_due = Date(index=True)
    decision_due_provisional = Boolean(default=False)
    decision_extended = Boolean(default=False)
    decided_at = Timestamptz(null=True, default=None)
    decided_by = Varchar(length=80, default="")
    not_filed_reason = Text(default="")
    case_id = UUID(null=True, default=None)
    created_by = Varchar(length=80, default="")
    created_at = Timestamptz()
    updated_at = Timestamptz(index=True)
    version = Integer(default=1)


class LeadClockStop(Table, tablename="lead_clock_stop"):
    """Testing or appraisal time, which does not count toward the decision to file."""

    id = UUID(primary_key=True)
    lead = ForeignKey(references=Lead, on_delete=OnDelete.restrict, index=True)
    # testing / appraisal
    reason = Varchar(length=30)
    started_on = Date()
    ended_on = Date(null=True, default=None)
    note = Text(default="")
    # Working days the decision deadline moved when the stop ended.
    shifted_wd = Integer(default=0)
    created_by = Varchar(length=80, default="")
    created_at = Timestamptz()


class CaseRuleSetting(Table, tablename="case_rule_setting"):
    """A local value of one rule of RULES.md (the defaults live in backend/cases/rules.py)."""

    id = UUID(primary_key=True)
    key = Varchar(length=80, unique=True)
    # JSON text of the value.
    value = Text()
    updated_by = Varchar(length=80, default="")
    updated_at = Timestamptz()


class CaseNumberCounter(Table, tablename="case_number_counter"):
    """The last sequence number given per org unit, year and series (AJ general, JY on-site,
    XS leads).

    Incremented in the filing's write transaction, so numbers have no gaps and no repeats.
    """

    id = UUID(primary_key=True)
    # "<org unit id>:<year>:<series>": one row per counter (a single-column unique key).
    key = Varchar(length=120, unique=True)
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    year = Integer()
    series = Varchar(length=10)
    last = Integer(default=0)


class Case(Table, tablename="enforcement_case"):
    """An administrative penalty case; its status moves only through backend/cases/lifecycle."""

    id = UUID(primary_key=True)
    # "<org unit code>-<year>-<series>-<seq>", e.g. XQ-2026-AJ-0007 (older cases: AJ<date>-<hex>).
    number = Varchar(length=80, unique=True)
    lead_id = UUID(null=True, default=None, index=True)
    matter = ForeignKey(references=Matter, on_delete=OnDelete.restrict, index=True)
    # The unit handling the case now (changes on an accepted transfer).
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    # The township (or county) where the violation happened: decides jurisdiction.
    area_org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    grid = ForeignKey(references=Grid, on_delete=OnDelete.restrict, null=True, default=None)
    team = ForeignKey(references=Team, on_delete=OnDelete.restrict, null=True, default=None)
    # general / simplified
    procedure = Varchar(length=20, default="general")
    status = Varchar(length=20, index=True)
    suspended_from = Varchar(length=20, default="")
    subject_code = Varchar(length=18, default="", index=True)
    subject_name = Varchar(length=200, default="")
    # individual / organisation
    subject_kind = Varchar(length=20, default="organisation")
    location = Text(default="")
    description = Text(default="")
    # cross_township / urgent_hazardous / special_technical ...
    flags = Array(base_column=Varchar(length=40))
    violation_on = Date(null=True, default=None)
    violation_ended_on = Date(null=True, default=None)
    filed_on = Date()
    filed_at = Timestamptz()
    # fine / warning / confiscation / permit_revocation / suspension / practice_ban
    penalty_kind = Varchar(length=30, default="")
    fine_amount = Integer(null=True, default=None)
    confiscation_value = Integer(null=True, default=None)
    facts = Text(default="")
    prior_notice_on = Date(null=True, default=None)
    hearing_requested = Boolean(default=False)
    # The party declined the hearing (in writing) within its request window.
    hearing_waived_on = Date(null=True, default=None)
    hearing_notice_on = Date(null=True, default=None)
    hearing_on = Date(null=True, default=None)
    hearing_held_on = Date(null=True, default=None)
    decided_on = Date(null=True, default=None)
    decision_text = Text(default="")
    served_on = Date(null=True, default=None)
    published_on = Date(null=True, default=None)
    executed_on = Date(null=True, default=None)
    closed_on = Date(null=True, default=None)
    archived_on = Date(null=True, default=None)
    # Days added to the 90-day decision limit: +30 by the head, more by collective decision.
    extension_days = Integer(default=0)
    extensions = Integer(default=0)
    created_by = Varchar(length=80, default="")
    created_at = Timestamptz()
    updated_at = Timestamptz(index=True)
    version = Integer(default=1)


class CaseOfficer(Table, tablename="case_officer"):
    """An officer assigned to a case; removed assignments keep their row."""

    id = UUID(primary_key=True)
    case = ForeignKey(references=Case, on_delete=OnDelete.restrict, index=True)
    officer = ForeignKey(references=Officer, on_delete=OnDelete.restrict, index=True)
    role = Varchar(length=20, default="investigator")
    assigned_at = Timestamptz()
    removed_at = Timestamptz(null=True, default=None)


class CaseAction(Table, tablename="case_action"):
    """An on-site action (inspection, seizure, sealing, evidence-taking, service...)."""

    id = UUID(primary_key=True)
    case = ForeignKey(references=Case, on_delete=OnDelete.restrict, index=True)
    kind = Varchar(length=40)
    at = Timestamptz()
    officer_ids = Array(base_column=Varchar(length=36))
    evidence_ids = Array(base_column=Varchar(length=36))
    note = Text(default="")
    recorded_by = Varchar(length=80, default="")
    created_at = Timestamptz()


class CaseDocument(Table, tablename="case_document"):
    """A document (文书) of the case file, in the stage where the index lists it."""

    id = UUID(primary_key=True)
    case = ForeignKey(references=Case, on_delete=OnDelete.restrict, index=True)
    # filing / investigation / review / decision / service / execution
    stage = Varchar(length=20)
    kind = Varchar(length=40)
    title = Varchar(length=200)
    body = Text(default="")
    sha256 = Varchar(length=64)
    issued_on = Date()
    created_by = Varchar(length=80, default="")
    created_at = Timestamptz()


class ClockStop(Table, tablename="case_clock_stop"):
    """A period that does not count toward the decision limit (testing, hearing, notice...)."""

    id = UUID(primary_key=True)
    case = ForeignKey(references=Case, on_delete=OnDelete.restrict, index=True)
    # testing / appraisal / hearing / public_notice / suspension
    reason = Varchar(length=30)
    started_on = Date()
    ended_on = Date(null=True, default=None)
    note = Text(default="")


class CaseDeadline(Table, tablename="case_deadline"):
    """The current due date of one time limit of a case, recomputed on every change."""

    id = UUID(primary_key=True)
    case = ForeignKey(references=Case, on_delete=OnDelete.restrict, index=True)
    # decision / hearing_request / service / publication / payment
    kind = Varchar(length=30)
    due_on = Date(index=True)
    provisional = Boolean(default=False)
    basis = Text(default="")
    met_on = Date(null=True, default=None)
    updated_at = Timestamptz()


class CaseAccess(Table, tablename="case_access"):
    """Read-only access of another unit to a case (a sender keeps it, a receiver gets it)."""

    id = UUID(primary_key=True)
    case = ForeignKey(references=Case, on_delete=OnDelete.restrict, index=True)
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    transfer_id = UUID(null=True, default=None)
    granted_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class Transfer(Table, tablename="case_transfer"):
    """A case moved to another unit (escalate / delegate / lateral) or to the police.

    ``manifest`` is the JSON list of the whole file at the moment of sending
    (documents, evidence with hashes, audit trail); ``manifest_sha256`` its digest.
    """

    id = UUID(primary_key=True)
    case = ForeignKey(references=Case, on_delete=OnDelete.restrict, index=True)
    kind = Varchar(length=20)
    from_org = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    # Null for a transfer to the police (the agency is named in ``police_agency``).
    to_org = ForeignKey(
        references=OrgUnit, on_delete=OnDelete.restrict, null=True, default=None, index=True
    )
    police_agency = Varchar(length=200, default="")
    # requested → accepted | rejected; to_police: requested → approved | refused →
    # handed_over → police_accepted | police_rejected
    status = Varchar(length=20, index=True)
    reason = Text(default="")
    manifest = Text(default="")
    manifest_sha256 = Varchar(length=64, default="")
    case_status = Varchar(length=20, default="")
    requested_by = Varchar(length=80, default="")
    requested_at = Timestamptz()
    # Acceptance (3 WD) or, for the police, the head's decision (3 days).
    respond_by = Date(index=True)
    respond_by_provisional = Boolean(default=False)
    responded_at = Timestamptz(null=True, default=None)
    responded_by = Varchar(length=80, default="")
    response_reason = Text(default="")
    handover_due_at = Timestamptz(null=True, default=None)
    handed_over_at = Timestamptz(null=True, default=None)
    police_decision_by = Date(null=True, default=None)
    police_decided_at = Timestamptz(null=True, default=None)
    police_decision = Text(default="")
    updated_at = Timestamptz()
    version = Integer(default=1)


class LegalReview(Table, tablename="legal_review"):
    """法制审核 of a case before a major decision: pre-check, then pass or return."""

    id = UUID(primary_key=True)
    case = ForeignKey(references=Case, on_delete=OnDelete.restrict, index=True)
    # pending / passed / returned
    status = Varchar(length=20, index=True)
    requested_by = Varchar(length=80, default="")
    requested_at = Timestamptz()
    due_on = Date(index=True)
    due_provisional = Boolean(default=False)
    extended = Boolean(default=False)
    reviewer_user_id = UUID(null=True, default=None)
    # JSON list of veto items found by the automatic pre-check.
    precheck = Text(default="[]")
    # JSON list of numbered issues when returned.
    issues = Text(default="[]")
    opinion = Text(default="")
    decided_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()


class FileScore(Table, tablename="file_score"):
    """案卷评查: the score of a closed case file against the template of RULES.md."""

    id = UUID(primary_key=True)
    case = ForeignKey(references=Case, on_delete=OnDelete.restrict, unique=True)
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    team = ForeignKey(references=Team, on_delete=OnDelete.restrict, null=True, default=None)
    veto_items = Text(default="[]")
    items = Text(default="[]")
    form_points = Integer()
    substance_points = Integer()
    total = Integer()
    grade = Varchar(length=20)
    scorer = Varchar(length=80, default="")
    scored_at = Timestamptz()
