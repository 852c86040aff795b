"""Leads (线索) and cases (案件) with their officers, deadlines, transfers, reviews and scores."""

from piccolo.columns import (
    UUID,
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

from backend.orgs.tables import Grid, OrgUnit


class Lead(Table, tablename="lead"):
    """A reported possible violation, waiting for the decision to file a case or not."""

    id = UUID(primary_key=True)
    number = Varchar(length=40, unique=True)
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


class CaseRuleSetting(Table, tablename="case_rule_setting"):
    """A local value of one rule of RULES.md (the defaults live in backend/cases/rules.py)."""

    id = UUID(primary_key=True)
    key = Varchar(length=80, unique=True)
    # JSON text of the value.
    value = Text()
    updated_by = Varchar(length=80, default="")
    updated_at = Timestamptz()
