"""Org-unit scope: a user reads and changes only its own unit and the units below it.

Every controller goes through these helpers. Out of scope answers 404, so a
user never learns that an object of another unit exists.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from piccolo.columns import Column
from piccolo.query import Count, Select
from piccolo.table import Table

from backend.core.auth import Principal
from backend.core.errors import NotFound

Q = TypeVar("Q", bound=Select | Count)


def restrict(query: Q, principal: Principal, org_column: Column) -> Q:
    """Limit ``query`` to rows whose ``org_column`` lies in the principal's scope."""
    if principal.unrestricted:
        return query
    condition = org_column.is_in(list(principal.scope_org_ids) or [uuid.UUID(int=0)])
    return query.where(condition)  # type: ignore[return-value]


def require(principal: Principal, org_unit_id: uuid.UUID | str | None, *, what: str) -> None:
    """Raise 404 unless ``org_unit_id`` is in the principal's scope."""
    if not principal.sees_org(org_unit_id):
        raise NotFound(f"{what} not found", code=f"{what.replace(' ', '_')}.not_found")


async def fetch(
    table: type[Table],
    ident: Any,
    principal: Principal,
    *,
    org_column: Column,
    what: str,
    columns: list[Any] | None = None,
) -> dict[str, Any]:
    """Fetch one row by primary key, or 404 if it is missing or out of scope."""
    query = table.select(*(columns or table.all_columns()), org_column.as_alias("_scope_org"))
    row = await query.where(table._meta.primary_key == ident).first().run()
    if row is None:
        raise NotFound(f"{what} not found", code=f"{what.replace(' ', '_')}.not_found")
    require(principal, row.pop("_scope_org"), what=what)
    return row
