from __future__ import annotations

import datetime as dt
from typing import Any

from backend.core.schemas import Output


class AuditEventOut(Output):
    stream: str
    seq: int
    at: dt.datetime
    actor: str
    action: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class AnchorOut(Output):
    seq: int
    created_at: dt.datetime
    root: str
    prev_root: str
    streams: int
    changed: int
    object_key: str
    object_sha256: str
