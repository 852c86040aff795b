"""The evidence record; its bytes live in the object store under ``object_key``."""

from piccolo.columns import (
    JSON,
    UUID,
    BigInt,
    Boolean,
    DoublePrecision,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from backend.orgs.tables import OrgUnit


class Evidence(Table, tablename="evidence"):
    """One photo, video, audio or document and its upload session, seal and withdrawal."""

    id = UUID(primary_key=True)
    # Chosen by the phone at capture: the same client_id twice is the same evidence.
    client_id = UUID(unique=True)
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    # What it is evidence for, e.g. ("task", id) or ("case", id); resolved by the owning domain.
    target_kind = Varchar(length=30)
    target_id = UUID(index=True)
    kind = Varchar(length=20)
    content_type = Varchar(length=120)
    size = BigInt()
    sha256 = Varchar(length=64)
    object_key = Varchar(length=300)
    version_id = Varchar(length=200, null=True, default=None)
    status = Varchar(length=20, index=True)
    upload_id = Varchar(length=300, null=True, default=None)
    part_size = Integer(null=True, default=None)
    captured_at = Timestamptz()
    device_id = Varchar(length=100, default="")
    uploaded_via_device = Varchar(length=100, null=True, default=None)
    gps_lat = DoublePrecision(null=True, default=None)
    gps_lon = DoublePrecision(null=True, default=None)
    gps_accuracy = DoublePrecision(null=True, default=None)
    created_by = Varchar(length=200)
    created_at = Timestamptz()
    uploaded_at = Timestamptz(null=True, default=None)
    seal_claimed_at = Timestamptz(null=True, default=None)
    sealed_at = Timestamptz(null=True, default=None)
    retain_until = Timestamptz(null=True, default=None)
    legal_hold = Boolean(default=False)
    reject_reason = Text(default="")
    flags = JSON(default=[])
    media = JSON(default={})
    withdrawn_at = Timestamptz(null=True, default=None)
    withdrawn_by = Varchar(length=200, null=True, default=None)
    withdraw_reason = Text(default="")


class EvidenceCaseLink(Table, tablename="evidence_case_link"):
    """An item attached to a case after capture (e.g. a task photo that becomes evidence of
    a case). Items uploaded for the case itself need no link. Never removed; unique per
    (evidence, case) by an index made in a migration."""

    id = UUID(primary_key=True)
    evidence = ForeignKey(references=Evidence, on_delete=OnDelete.restrict, null=False, index=True)
    case_id = UUID(index=True)
    attached_at = Timestamptz()
    attached_by = Varchar(length=200)
