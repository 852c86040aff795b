"""MinIO store on the ``minio`` SDK (synchronous: every call runs in a worker thread).

The evidence bucket has object lock (and so versioning): a sealed version is kept under
COMPLIANCE retention or a legal hold, and MinIO itself refuses to delete or change it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.datatypes import Part
from minio.error import S3Error
from minio.retention import Retention

from storage.base import (
    READ_CHUNK,
    ObjectInfo,
    ObjectLocked,
    ObjectMissing,
    PartInfo,
    PresignedRequest,
    StorageError,
    clean_etag,
    sha256_b64,
)

T = TypeVar("T")

MISSING_CODES = {"NoSuchKey", "NotFound", "NoSuchObject", "NoSuchUpload", "NoSuchVersion"}
LOCKED_CODES = {"AccessDenied", "ObjectLocked", "InvalidRequest", "MethodNotAllowed"}


def _parse_lock_date(raw: str | None) -> dt.datetime | None:
    if not raw:
        return None
    return dt.datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(dt.UTC)


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

    async def ensure_bucket(self) -> None:
        """Create the bucket with object lock if it does not exist yet."""
        if await asyncio.to_thread(self.client.bucket_exists, self.bucket):
            return
        await self._call(
            f"create bucket {self.bucket}", self.client.make_bucket, self.bucket, object_lock=True
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
        meta = obj.metadata or {}
        # GetObjectRetention is not everywhere (moto lacks it); HEAD carries the lock state.
        return ObjectInfo(
            key=key,
            size=int(obj.size or 0),
            etag=clean_etag(obj.etag or ""),
            content_type=obj.content_type or "application/octet-stream",
            version_id=obj.version_id,
            retention_mode=meta.get("x-amz-object-lock-mode"),
            retain_until=_parse_lock_date(meta.get("x-amz-object-lock-retain-until-date")),
            legal_hold=meta.get("x-amz-object-lock-legal-hold") == "ON",
        )

    async def iter_object(
        self, key: str, *, version_id: str | None = None, chunk_size: int = READ_CHUNK
    ) -> AsyncIterator[bytes]:
        response = await self._call(
            f"cannot read {key}",
            self.client.get_object,
            self.bucket,
            key,
            version_id=version_id,
        )
        try:
            stream = response.stream(chunk_size)
            while True:
                chunk = await asyncio.to_thread(next, stream, None)
                if chunk is None:
                    return
                yield chunk
        finally:
            response.close()
            response.release_conn()

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
        # The client sends the checksum; MinIO refuses bytes that do not match it.
        headers = {"x-amz-checksum-sha256": sha256_b64(sha256_hex), "Content-Type": content_type}
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
            f"cannot start upload of {key}",
            self.client._create_multipart_upload,
            self.bucket,
            key,
            {"Content-Type": content_type},
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
                result = self.client._list_parts(
                    self.bucket, key, upload_id, part_number_marker=marker
                )
                parts.extend(
                    PartInfo(number=p.part_number, etag=clean_etag(p.etag), size=int(p.size or 0))
                    for p in result.parts
                )
                if not result.is_truncated or not result.next_part_number_marker:
                    return parts
                marker = result.next_part_number_marker

        return await self._call(f"cannot list parts of {key}", collect)

    async def complete_multipart(self, key: str, *, upload_id: str, parts: list[PartInfo]) -> None:
        ordered = [Part(p.number, p.etag) for p in sorted(parts, key=lambda p: p.number)]
        await self._call(
            f"cannot complete upload of {key}",
            self.client._complete_multipart_upload,
            self.bucket,
            key,
            upload_id,
            ordered,
        )

    async def abort_multipart(self, key: str, *, upload_id: str) -> None:
        try:
            await self._call(
                f"cannot abort upload of {key}",
                self.client._abort_multipart_upload,
                self.bucket,
                key,
                upload_id,
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
