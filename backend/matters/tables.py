"""The matters catalogue and the history of grants of matters to townships."""

from piccolo.columns import (
    UUID,
    Array,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from backend.orgs.tables import OrgUnit


class Matter(Table, tablename="matter"):
    """An enforcement power (执法事项) of the catalogue."""

    id = UUID(primary_key=True)
    code = Varchar(length=60, unique=True)
    name = Varchar(length=300)
    # penalty / coercive_measure / inspection
    category = Varchar(length=30)
    domain = Varchar(length=60, index=True)
    legal_basis = Text(default="")
    fine_min = Integer(null=True, default=None)
    fine_max = Integer(null=True, default=None)
    # Local hearing thresholds for this matter; null means the rule's default.
    hearing_threshold_individual = Integer(null=True, default=None)
    hearing_threshold_organisation = Integer(null=True, default=None)
    # 重大执法决定: legal review is mandatory before the decision.
    major = Boolean(default=False)
    # Life, health or financial safety: the 5-year limitation applies.
    serious = Boolean(default=False)
    # On-site actions that must be audio/video recorded (seizure, sealing...).
    recorded_actions = Array(base_column=Varchar(length=40))
    active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class JurisdictionGrant(Table, tablename="jurisdiction_grant"):
    """A matter granted to a township (or zone) from a date, maybe until a later date.

    A withdrawal sets ``effective_to``; rows are never deleted, so every check can
    use the grant in force on the day that matters.
    """

    id = UUID(primary_key=True)
    matter = ForeignKey(references=Matter, on_delete=OnDelete.restrict, index=True)
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    effective_from = Date()
    # Last day in force; null while in force.
    effective_to = Date(null=True, default=None)
    basis = Text(default="")
    withdrawal_reason = Text(default="")
    created_by = Varchar(length=80, default="")
    created_at = Timestamptz()
