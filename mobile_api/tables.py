"""The mobile API's own bookkeeping: every write applied through it, with its stored response."""

from piccolo.columns import UUID, BigInt, Boolean, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class MobileOperation(Table, tablename="mobile_operation"):
    """One write sent by a phone, keyed by (user, Idempotency-Key); a replay returns ``response``.

    Written in the same transaction as the write's effect, so an operation is either
    applied and recorded, or neither.
    """

    id = UUID(primary_key=True)
    user_id = UUID(index=True)
    idempotency_key = Varchar(length=200)
    device_id = Varchar(length=100, default="")
    op = Varchar(length=80)
    target = Varchar(length=64, default="")
    # sha256 of the canonical request (op, target, body): the same key with another body is refused.
    request_hash = Varchar(length=64)
    status_code = Integer()
    response = Text()
    # The device's clock when the action happened, the server's when it was applied, and the
    # offset of the device clock measured when the request arrived (null if not sent).
    device_time = Timestamptz(null=True, default=None)
    server_time = Timestamptz()
    clock_skew_seconds = Integer(null=True, default=None)
    clock_skew_flagged = Boolean(default=False)
    expires_at = Timestamptz(index=True)


class MobileWorkEntry(Table, tablename="mobile_work_entry"):
    """What a user's work list held at each change: the base of delta sync and its removals.

    Each change (added, changed, removed) takes the next ``seq`` of the user; a device's
    cursor is the last ``seq`` it has seen, so "changes since the cursor" is exact and stable.
    """

    id = UUID(primary_key=True)
    user_id = UUID(index=True)
    kind = Varchar(length=20)
    item_id = UUID()
    # The source's change marker (version or update time); a new marker is a change.
    marker = Varchar(length=64)
    present = Boolean(default=True)
    seq = BigInt()
    changed_at = Timestamptz()


class MobileWorkFeed(Table, tablename="mobile_work_feed"):
    """Per user: when the work list was last brought up to date, so a poll only looks at news.

    ``checked_at``: tasks and cases changed after it (less a margin for transactions still
    committing) may differ from the entries; ``reconciled_at``: the last full comparison.
    """

    id = UUID(primary_key=True)
    user_id = UUID(unique=True)
    checked_at = Timestamptz()
    reconciled_at = Timestamptz()
