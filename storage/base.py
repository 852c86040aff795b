"""The object-store protocol that evidence, anchors and exports are written through."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class StorageError(Exception):
    """The object store failed or refused an operation."""


class ObjectStore(Protocol):
    async def ping(self) -> None:
        """Raise ``StorageError`` unless the store is reachable and writable."""

    async def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        retain_until: dt.datetime | None = None,
    ) -> None:
        """Write a small object; with ``retain_until`` it is locked (COMPLIANCE) until then."""

    async def get_bytes(self, key: str) -> bytes:
        """Read a whole small object."""

    async def exists(self, key: str) -> bool:
        """Whether an object exists under ``key``."""
