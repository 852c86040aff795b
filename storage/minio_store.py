"""MinIO store on the ``minio`` SDK (synchronous: every call runs in a worker thread).

The evidence bucket has object lock (and so versioning): a sealed version is kept under
COMPLIANCE retention or a legal hold, and MinIO itself refuses to delete or change it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any, TypeVar

from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.retention import Retention

from storage.base import (
    READ_CHUNK,
    ObjectInfo,
    ObjectLocked,
    ObjectMissing,
    ObjectReader,
    PartInfo,
    PresignedRequest,
    StorageError,
    clean_etag,
    sha256_b64,
)
from storage.minio_multipart import MultipartCalls

T = TypeVar("T")

MISSING_CODES = {"NoSuchKey", "NotFound", "NoSuchObject", "NoSuchUpload", "NoSuchVersion"}
LOCKED_CODES = {"AccessDenied", "ObjectLocked", "InvalidRequest", "MethodNotAllowed"}


def _parse_lock_date(raw: str | None) -> dt.datetime | None:
    if not raw:
        return None
    return dt.datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(dt.UTC)


def _info(key: str, headers: Any) -> ObjectInfo:
    """Object facts from the headers of a HEAD or GET (both carry the lock state)."""
    return ObjectInfo(
        key=key,
        size=int(headers.get("content-length") or 0),
        etag=clean_etag(headers.get("etag") or ""),
        content_type=headers.get("content-type") or "application/octet-stream",
        version_id=headers.get("x-amz-version-id"),
        retention_mode=headers.get("x-amz-object-lock-mode"),
        retain_until=_parse_lock_date(headers.get("x-amz-object-lock-retain-until-date")),
        legal_hold=headers.get("x-amz-object-lock-legal-hold") == "ON",
    )


class _Body:
    """The body of a GET, chunk by chunk off the event loop. Closing it, read or not,
    releases the connection (a generator never started would skip its ``finally``)."""

    def __init__(self, response: Any, chunk_size: int) -> None:
        self._response = response
        self._chunks = response.stream(chunk_size)
        self._closed = False

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        try:
            chunk = await asyncio.to_thread(next, self._chunks, None)
        except BaseException:
            await self.aclose()
            raise
        if chunk is None:
            await self.aclose()
            raise StopAsyncIteration
        return bytes(chunk)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._response.close()
            self._response.release_conn()


class MinioStore:
    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = False,
        region: str | None = None,
    ) -> None:
        self.bucket = bucket
        # A fixed region spares the SDK a GetBucketLocation call before each presign.
        self.client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region or "us-east-1",
        )
        self.multipart = MultipartCalls(self.client, bucket)

    async def _call(self, what: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(func, *args, **kwargs)
        except S3Error as exc:
            if exc.code in MISSING_CODES:
                raise ObjectMissing(f"{what}: {exc.code}") from exc
            raise StorageError(f"{what}: {exc.code} {exc.message}") from exc

    async def ping(self) -> None:
        try:
            exists = await asyncio.to_thread(self.client.bucket_exists, self.bucket)
        except Exception as exc:  # the SDK raises many types for a dead endpoint
            raise StorageError(f"object store unreachable: {exc}") from exc
        if not exists:
            raise StorageError(f"bucket {self.bucket} does not exist")

    async def ensure_bucket(self, *, retention_days: int | None = None) -> None:
        """Create the bucket with object lock if it does not exist yet.

        With ``retention_days`` a new bucket gets a default COMPLIANCE retention rule, so
        that every object written is locked from its first byte and sealing needs no
        per-object retention request. An existing bucket is left as it is: sealing sees
        the lock state of each object in its verifying read and sets retention itself
        where no default applied.
        """
        if await asyncio.to_thread(self.client.bucket_exists, self.bucket):
            return
        await self._call(
            f"create bucket {self.bucket}", self.client.make_bucket, self.bucket, object_lock=True
        )
        if retention_days:
            await self._call(
                f"set default retention of {self.bucket}",
                self.client.set_object_lock_config,
                self.bucket,
                ObjectLockConfig(COMPLIANCE, retention_days, DAYS),
            )

    async def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        retain_until: dt.datetime | None = None,
    ) -> None:
        retention = Retention(COMPLIANCE, retain_until) if retain_until else None
        import hashlib

        # Object-lock buckets require an integrity header on every PUT.
        checksum = sha256_b64(hashlib.sha256(data).hexdigest())
        await self._call(
            f"cannot write {key}",
            self.client.put_object,
            self.bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
            retention=retention,
            metadata={
                "x-amz-checksum-sha256": checksum,
                # Some S3 servers (moto) also want the algorithm named for object-lock PUTs.
                "x-amz-sdk-checksum-algorithm": "SHA256",
            },
        )

    async def get_bytes(self, key: str) -> bytes:
        def read() -> bytes:
            response = self.client.get_object(self.bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return await self._call(f"cannot read {key}", read)

    async def exists(self, key: str) -> bool:
        try:
            await self.stat(key)
        except ObjectMissing:
            return False
        return True

    async def stat(self, key: str, *, version_id: str | None = None) -> ObjectInfo:
        obj = await self._call(
            f"cannot stat {key}",
            self.client.stat_object,
            self.bucket,
            key,
            version_id=version_id,
        )
        # GetObjectRetention is not everywhere (moto lacks it); HEAD carries the lock state.
        return _info(key, obj.metadata or {})

    async def open_object(
        self, key: str, *, version_id: str | None = None, chunk_size: int = READ_CHUNK
    ) -> ObjectReader:
        response = await self._call(
            f"cannot read {key}",
            self.client.get_object,
            self.bucket,
            key,
            version_id=version_id,
        )
        return ObjectReader(info=_info(key, response.headers), chunks=_Body(response, chunk_size))

    async def iter_object(
        self, key: str, *, version_id: str | None = None, chunk_size: int = READ_CHUNK
    ) -> AsyncIterator[bytes]:
        reader = await self.open_object(key, version_id=version_id, chunk_size=chunk_size)
        async with aclosing(reader.chunks) as chunks:
            async for chunk in chunks:
                yield chunk

    async def presign_put(
        self, key: str, *, sha256_hex: str, content_type: str, expires: dt.timedelta
    ) -> PresignedRequest:
        url = await self._call(
            f"cannot presign {key}",
            self.client.get_presigned_url,
            "PUT",
            self.bucket,
            key,
            expires=expires,
        )
        # The client sends the checksum; MinIO refuses bytes that do not match it. Naming
        # the algorithm too satisfies servers (moto) that want it for a locked bucket's PUT.
        headers = {
            "x-amz-checksum-sha256": sha256_b64(sha256_hex),
            "x-amz-sdk-checksum-algorithm": "SHA256",
            "Content-Type": content_type,
        }
        return PresignedRequest(method="PUT", url=url, headers=headers)

    async def presign_get(
        self,
        key: str,
        *,
        version_id: str | None = None,
        expires: dt.timedelta,
        filename: str | None = None,
    ) -> str:
        response_headers = (
            {"response-content-disposition": f'attachment; filename="{filename}"'}
            if filename
            else None
        )
        return await self._call(
            f"cannot presign {key}",
            self.client.get_presigned_url,
            "GET",
            self.bucket,
            key,
            expires=expires,
            version_id=version_id,
            response_headers=response_headers,
        )

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        return await self._call(
            f"cannot start upload of {key}", self.multipart.create, key, content_type=content_type
        )

    async def presign_part(
        self, key: str, *, upload_id: str, number: int, expires: dt.timedelta
    ) -> str:
        return await self._call(
            f"cannot presign {key}",
            self.client.get_presigned_url,
            "PUT",
            self.bucket,
            key,
            expires=expires,
            extra_query_params={"partNumber": str(number), "uploadId": upload_id},
        )

    async def list_parts(self, key: str, *, upload_id: str) -> list[PartInfo]:
        def collect() -> list[PartInfo]:
            parts: list[PartInfo] = []
            marker: str | None = None
            while True:
                page = self.multipart.list_page(key, upload_id=upload_id, marker=marker)
                parts.extend(
                    PartInfo(number=number, etag=clean_etag(etag), size=size)
                    for number, etag, size in page.parts
                )
                if page.next_marker is None:
                    return parts
                marker = page.next_marker

        return await self._call(f"cannot list parts of {key}", collect)

    async def complete_multipart(self, key: str, *, upload_id: str, parts: list[PartInfo]) -> None:
        ordered = [(p.number, p.etag) for p in sorted(parts, key=lambda p: p.number)]
        await self._call(
            f"cannot complete upload of {key}",
            self.multipart.complete,
            key,
            upload_id=upload_id,
            parts=ordered,
        )

    async def abort_multipart(self, key: str, *, upload_id: str) -> None:
        try:
            await self._call(
                f"cannot abort upload of {key}", self.multipart.abort, key, upload_id=upload_id
            )
        except ObjectMissing:
            return

    async def set_retention(
        self, key: str, *, until: dt.datetime, version_id: str | None = None
    ) -> None:
        await self._call(
            f"cannot set retention on {key}",
            self.client.set_object_retention,
            self.bucket,
            key,
            Retention(COMPLIANCE, until.astimezone(dt.UTC)),
            version_id=version_id,
        )

    async def set_legal_hold(self, key: str, *, on: bool, version_id: str | None = None) -> None:
        func = self.client.enable_object_legal_hold if on else self.client.disable_object_legal_hold
        await self._call(
            f"cannot set legal hold on {key}", func, self.bucket, key, version_id=version_id
        )

    async def delete(self, key: str, *, version_id: str | None = None) -> None:
        try:
            await asyncio.to_thread(
                self.client.remove_object, self.bucket, key, version_id=version_id
            )
        except S3Error as exc:
            if exc.code in LOCKED_CODES:
                raise ObjectLocked(f"{key} is locked: {exc.code} {exc.message}") from exc
            if exc.code in MISSING_CODES:
                raise ObjectMissing(f"no object {key}") from exc
            raise StorageError(f"cannot delete {key}: {exc.code}") from exc
