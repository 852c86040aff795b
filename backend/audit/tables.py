from piccolo.columns import JSON, UUID, BigSerial, Integer, Timestamptz, Varchar
from piccolo.table import Table


class AuditEvent(Table, tablename="audit_event"):
    """One link of a per-stream hash chain; (stream, seq) is unique."""

    id = BigSerial(primary_key=True)
    stream = Varchar(length=200, index=True)
    seq = Integer()
    at = Timestamptz()
    actor = Varchar(length=200)
    action = Varchar(length=120)
    payload = JSON()
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64)
    # Not part of the hash: only decides who may read the event.
    org_unit_id = UUID(null=True, default=None, index=True)
