"""Optimistic concurrency: a row's ``version`` must be what the writer last read."""

from __future__ import annotations

import uuid
from typing import Any

from piccolo.table import Table

from backend.core import clock
from backend.core.errors import Conflict


async def bump_version(
    table: type[Table],
    row_id: uuid.UUID,
    *,
    seen: int,
    changes: dict[Any, Any],
    what: str,
) -> int:
    """Apply ``changes`` only if the row still has version ``seen``, else 409; the new version."""
    values = dict(changes)
    # ``table`` is any Table with ``version`` and ``updated_at`` columns; mypy sees only Table.
    values[table.version] = seen + 1  # type: ignore[attr-defined]
    values[table.updated_at] = clock.now()  # type: ignore[attr-defined]
    updated = (
        await table.update(values)
        .where(
            (table._meta.primary_key == row_id) & (table.version == seen)  # type: ignore[attr-defined]
        )
        .returning(table._meta.primary_key)
        .run()
    )
    if not updated:
        raise Conflict(
            f"the {what} was changed by someone else (version {seen} is stale); reload and retry",
            code=f"{what.replace(' ', '_')}.version_conflict",
        )
    return seen + 1
