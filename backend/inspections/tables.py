"""Item list, subject directory, plans, draws, tasks and results."""

from piccolo.columns import (
    JSON,
    UUID,
    Array,
    Boolean,
    Bytea,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from backend.orgs.tables import Officer, OrgUnit


class InspectionItem(Table, tablename="inspection_item"):
    """An entry of the item list (抽查事项清单): what may be inspected, how, by whom."""

    id = UUID(primary_key=True)
    code = Varchar(length=60, unique=True)
    name = Varchar(length=200)
    department = Varchar(length=200)
    # The enforcement domain; inspectors need a certificate valid for it.
    domain = Varchar(length=60)
    legal_basis = Text(default="")
    subject_types = Array(base_column=Varchar(length=60))
    method = Varchar(length=20)
    # Default sampling ratio per stratum, {"A": 0.03, ..., "flagged": 1.0}.
    ratios = JSON()
    frequency = Varchar(length=100, default="")
    result_categories = Array(base_column=Varchar(length=60))
    active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Subject(Table, tablename="subject"):
    """A market subject of the directory (检查对象名录库), keyed by its credit code."""

    id = UUID(primary_key=True)
    credit_code = Varchar(length=18, unique=True)
    name = Varchar(length=200)
    subject_type = Varchar(length=60, default="")
    industry = Varchar(length=100, default="")
    address = Varchar(length=300, default="")
    lat = DoublePrecision(null=True, default=None)
    lon = DoublePrecision(null=True, default=None)
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    grid_code = Varchar(length=60, default="", index=True)
    risk_class = Varchar(length=1, default="B")
    abnormal = Boolean(default=False)
    serious_violation = Boolean(default=False)
    status = Varchar(length=20, default="active")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class InspectionPlan(Table, tablename="inspection_plan"):
    """A random-inspection plan (抽查计划) over one or more items."""

    id = UUID(primary_key=True)
    code = Varchar(length=60, unique=True)
    name = Varchar(length=200)
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    item_codes = Array(base_column=Varchar(length=60))
    # Scope filters; an empty list means no restriction.
    scope_org_unit_ids = Array(base_column=Varchar(length=36))
    scope_grid_codes = Array(base_column=Varchar(length=60))
    scope_industries = Array(base_column=Varchar(length=100))
    scope_subject_types = Array(base_column=Varchar(length=60))
    scope_risk_classes = Array(base_column=Varchar(length=10))
    # Per stratum: a ratio in [0, 1] or a fixed count; strata absent from both use the items'.
    ratios = JSON()
    counts = JSON()
    exclusion_days = Integer(default=365)
    team_size = Integer(default=2)
    workload_cap = Integer(default=20)
    inspector_team_ids = Array(base_column=Varchar(length=36))
    inspector_org_unit_ids = Array(base_column=Varchar(length=36))
    planned_start = Date()
    planned_end = Date()
    status = Varchar(length=30, default="draft", index=True)
    # hashrank-v1: the secret stays private until the draw; the commitment is public.
    secret = Varchar(length=64, default="", secret=True)
    commitment = Varchar(length=64, default="")
    entropy = Text(default="")
    published_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class InspectionDraw(Table, tablename="inspection_draw"):
    """An immutable draw; ``record_zstd`` is the public record exactly as published (its
    UTF-8 JSON, zstd-compressed: a pool of a million ids is 20 MB of JSON, 0.3 MB here)."""

    id = UUID(primary_key=True)
    plan = ForeignKey(references=InspectionPlan, on_delete=OnDelete.restrict, unique=True)
    drawn_at = Timestamptz()
    actor = Varchar(length=200)
    pool_size = Integer()
    selected = Integer()
    record_sha256 = Varchar(length=64)
    record_zstd = Bytea()


class DrawReplacement(Table, tablename="draw_replacement"):
    """A change after a draw (officer on leave, subject deregistered), reusing its ranking."""

    id = UUID(primary_key=True)
    draw = ForeignKey(references=InspectionDraw, on_delete=OnDelete.restrict, index=True)
    kind = Varchar(length=20)  # subject | inspector
    task = UUID(index=True)
    replaced = Varchar(length=60)
    replacement = Varchar(length=60)
    reason = Text()
    actor = Varchar(length=200)
    created_at = Timestamptz()


class InspectionTask(Table, tablename="inspection_task"):
    """One visit to one selected subject by a team (抽查任务)."""

    id = UUID(primary_key=True)
    plan = ForeignKey(references=InspectionPlan, on_delete=OnDelete.restrict, index=True)
    draw = ForeignKey(references=InspectionDraw, on_delete=OnDelete.restrict, index=True)
    subject = ForeignKey(references=Subject, on_delete=OnDelete.restrict, index=True)
    subject_code = Varchar(length=18, index=True)
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    stratum = Varchar(length=10)
    status = Varchar(length=20, default="assigned", index=True)
    due_date = Date(index=True)
    checked_in_at = Timestamptz(null=True, default=None)
    check_in_lat = DoublePrecision(null=True, default=None)
    check_in_lon = DoublePrecision(null=True, default=None)
    inspection_date = Date(null=True, default=None)
    completed_at = Timestamptz(null=True, default=None)
    publication_due = Date(null=True, default=None, index=True)
    published_on = Date(null=True, default=None)
    cancel_reason = Text(default="")
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz(index=True)


class TaskInspector(Table, tablename="task_inspector"):
    """An inspector of a task's team, in the order drawn (position 0 leads)."""

    id = UUID(primary_key=True)
    task = ForeignKey(references=InspectionTask, on_delete=OnDelete.restrict, index=True)
    officer = ForeignKey(references=Officer, on_delete=OnDelete.restrict, index=True)
    position = Integer()
    active = Boolean(default=True)


class InspectionResult(Table, tablename="inspection_result"):
    """The result of one item at one task; empty until recorded."""

    id = UUID(primary_key=True)
    task = ForeignKey(references=InspectionTask, on_delete=OnDelete.restrict, index=True)
    item_code = Varchar(length=60)
    # Denormalised for the no-repeat exclusion window.
    subject_code = Varchar(length=18, index=True)
    drawn_on = Date()
    category = Varchar(length=60, null=True, default=None)
    note = Text(default="")
    recorded_at = Timestamptz(null=True, default=None)
    recorded_by = UUID(null=True, default=None)
