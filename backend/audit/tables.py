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


class AuditAnchor(Table, tablename="audit_anchor"):
    """A Merkle root over every stream head, also written to the object store under retention."""

    id = BigSerial(primary_key=True)
    seq = Integer(unique=True)
    created_at = Timestamptz()
    root = Varchar(length=64)
    prev_root = Varchar(length=64, default="")
    streams = Integer()
    changed = Integer()
    object_key = Varchar(length=200)
    object_sha256 = Varchar(length=64)


class AnchoredHead(Table, tablename="audit_anchored_head"):
    """The head of each stream as of the latest anchor, to find what changed since."""

    id = BigSerial(primary_key=True)
    stream = Varchar(length=200, unique=True)
    seq = Integer()
    hash = Varchar(length=64)
