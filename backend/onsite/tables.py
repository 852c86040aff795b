"""On-site records: structured documents signed (or refused) by the party on site."""

from piccolo.columns import UUID, Array, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from backend.orgs.tables import OrgUnit


class OnsiteRecord(Table, tablename="onsite_record"):
    """A 现场检查笔录 (kind ``inspection``) or 询问笔录 (kind ``inquiry``).

    The id is the client's UUID, made on the phone when the record was written.
    """

    id = UUID(primary_key=True)
    kind = Varchar(length=20)
    org_unit = ForeignKey(references=OrgUnit, on_delete=OnDelete.restrict, index=True)
    # The inspection task or the case it belongs to (exactly one is set).
    task_id = UUID(null=True, default=None, index=True)
    case_id = UUID(null=True, default=None, index=True)
    place = Varchar(length=300)
    started_at = Timestamptz()
    ended_at = Timestamptz(null=True, default=None)
    officer_ids = Array(base_column=Varchar(length=36))
    # JSON: the party (name, id number, role, phone); findings or questions and answers.
    party = Text()
    content = Text()
    # "signed" (signature image in evidence) or "refused" (a recording in evidence).
    signature = Varchar(length=20)
    signature_evidence_id = UUID(null=True, default=None)
    recording_evidence_id = UUID(null=True, default=None)
    refusal_note = Text(default="")
    version = Integer(default=1)
    created_by = UUID()
    created_at = Timestamptz()
    updated_at = Timestamptz()
    # The device's clock when the officer wrote it.
    device_time = Timestamptz(null=True, default=None)
