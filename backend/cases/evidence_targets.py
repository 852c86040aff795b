"""What evidence can be attached to in this domain (the ``evidence_targets`` hook)."""

from __future__ import annotations

import uuid

from backend.cases.service import load_case
from backend.core.auth import Principal


async def resolve_case(principal: Principal, target_id: uuid.UUID) -> uuid.UUID:
    """The unit handling the case; 404 out of scope, 403 for a unit with read-only access."""
    row = await load_case(principal, target_id, write=True)
    return uuid.UUID(str(row["org_unit_id"]))


EVIDENCE_TARGETS = {"case": resolve_case}
