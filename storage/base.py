"""The object-store protocol that evidence, anchors and exports are written through.

Two implementations: ``storage.minio_store.MinioStore`` (production, S3 API) and
``storage.local.LocalStore`` (embedded default). Clients upload bytes straight to the
store through short-lived presigned requests; the API never buffers a whole file.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

# S3 refuses parts below 5 MiB (except the last) and more than 10,000 parts.
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10_000
READ_CHUNK = 1024 * 1024


class StorageError(Exception):
    """The object store failed or refused an operation."""


class ObjectMissing(StorageError):
    """No object (or upload) under that key."""


class ObjectLocked(StorageError):
    """The object is under retention or legal hold: it cannot be changed or deleted."""


@dataclass(frozen=True)
class PresignedRequest:
    """An HTTP request a client makes straight to the store (method, URL, headers to send)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    content_type: str
    version_id: str | None = None
    retention_mode: str | None = None
    retain_until: dt.datetime | None = None
    legal_hold: bool = False


class ByteStream(Protocol):
    """Chunks of an object's bytes; ``aclose()`` frees the read even if nothing was read."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ObjectReader:
    """An open read of one object: what the store said about it, then its bytes.

    ``info`` comes from the GET response itself (size, version, lock state), so a
    verifying read needs no separate HEAD. ``chunks`` must be consumed or closed.
    """

    info: ObjectInfo
    chunks: ByteStream


@dataclass(frozen=True)
class PartInfo:
    number: int
    etag: str
    size: int


def sha256_b64(hex_digest: str) -> str:
    """The ``x-amz-checksum-sha256`` form (base64 of the raw digest) of a hex SHA-256."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def clean_etag(etag: str) -> str:
    return etag.strip().strip('"')


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

    async def stat(self, key: str, *, version_id: str | None = None) -> ObjectInfo:
        """Size, etag, version and lock state; ``ObjectMissing`` if absent."""

    def iter_object(
        self, key: str, *, version_id: str | None = None, chunk_size: int = READ_CHUNK
    ) -> AsyncIterator[bytes]:
        """Stream an object's bytes in chunks (never the whole object in memory)."""

    async def open_object(
        self, key: str, *, version_id: str | None = None, chunk_size: int = READ_CHUNK
    ) -> ObjectReader:
        """Start reading an object: its facts at once, its bytes as they stream in."""

    async def presign_put(
        self, key: str, *, sha256_hex: str, content_type: str, expires: dt.timedelta
    ) -> PresignedRequest:
        """A single PUT the client makes; the store refuses bytes whose SHA-256 differs."""

    async def presign_get(
        self,
        key: str,
        *,
        version_id: str | None = None,
        expires: dt.timedelta,
        filename: str | None = None,
    ) -> str:
        """A GET URL valid for ``expires``."""

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        """Open a multipart upload; returns its upload id."""

    async def presign_part(
        self, key: str, *, upload_id: str, number: int, expires: dt.timedelta
    ) -> str:
        """A PUT URL for part ``number`` (1-based) of an open multipart upload."""

    async def list_parts(self, key: str, *, upload_id: str) -> list[PartInfo]:
        """The parts that arrived so far, by number; ``ObjectMissing`` if the upload is gone."""

    async def complete_multipart(self, key: str, *, upload_id: str, parts: list[PartInfo]) -> None:
        """Assemble the parts (in number order) into the object."""

    async def abort_multipart(self, key: str, *, upload_id: str) -> None:
        """Drop an open multipart upload and its parts (no error if already gone)."""

    async def set_retention(
        self, key: str, *, until: dt.datetime, version_id: str | None = None
    ) -> None:
        """COMPLIANCE retention: nobody can delete or overwrite the version before ``until``."""

    async def set_legal_hold(self, key: str, *, on: bool, version_id: str | None = None) -> None:
        """A legal hold keeps the version until it is lifted, whatever the retention date."""

    async def delete(self, key: str, *, version_id: str | None = None) -> None:
        """Delete a version; ``ObjectLocked`` while retention or a legal hold applies."""
