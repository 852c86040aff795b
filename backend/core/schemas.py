"""Base classes for API bodies: unknown fields are rejected, fields are keyword-only."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec


class Input(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body. Unknown fields and wrong types are rejected with the field's name."""


class Output(msgspec.Struct, kw_only=True):
    """A response body."""


S = TypeVar("S", bound=msgspec.Struct)


def to_struct(struct: type[S], row: dict[str, Any]) -> S:
    """Build a response struct from a database row (ids and dates converted)."""
    return msgspec.convert(row, struct, strict=False)
