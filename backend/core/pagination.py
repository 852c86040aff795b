"""Limit/offset pages for list endpoints."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from backend.core.errors import BadRequest

T = TypeVar("T")

MAX_LIMIT = 500


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", code="request.bad_limit")
    if offset < 0:
        raise BadRequest("offset must not be negative", code="request.bad_offset")
