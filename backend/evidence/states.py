"""The evidence status machine: one table of allowed transitions (contract in DESIGN.md)."""

from __future__ import annotations

from backend.core.errors import Conflict

PENDING = "pending"
UPLOADED = "uploaded"
SEALED = "sealed"
REJECTED = "rejected"
EXPIRED = "expired"

TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({UPLOADED, REJECTED, EXPIRED}),
    UPLOADED: frozenset({SEALED, REJECTED}),
    SEALED: frozenset(),
    REJECTED: frozenset(),
    EXPIRED: frozenset(),
}


def check_transition(current: str, new: str) -> None:
    if new not in TRANSITIONS[current]:
        raise Conflict(
            f"evidence that is {current} cannot become {new}", code="evidence.bad_transition"
        )
