"""MinIO store on the ``minio`` SDK (synchronous: every call runs in a worker thread)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io

from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.retention import Retention

from storage.base import StorageError


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
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
        )

    async def ping(self) -> None:
        try:
            exists = await asyncio.to_thread(self.client.bucket_exists, self.bucket)
        except Exception as exc:  # the SDK raises many types for a dead endpoint
            raise StorageError(f"object store unreachable: {exc}") from exc
        if not exists:
            raise StorageError(f"bucket {self.bucket} does not exist")

    async def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        retain_until: dt.datetime | None = None,
    ) -> None:
        retention = Retention(COMPLIANCE, retain_until) if retain_until else None
        try:
            await asyncio.to_thread(
                self.client.put_object,
                self.bucket,
                key,
                io.BytesIO(data),
                len(data),
                content_type=content_type,
                retention=retention,
            )
        except S3Error as exc:
            raise StorageError(f"cannot write {key}: {exc.code}") from exc

    async def get_bytes(self, key: str) -> bytes:
        def read() -> bytes:
            response = self.client.get_object(self.bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        try:
            return await asyncio.to_thread(read)
        except S3Error as exc:
            raise StorageError(f"cannot read {key}: {exc.code}") from exc

    async def exists(self, key: str) -> bool:
        try:
            await asyncio.to_thread(self.client.stat_object, self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NotFound", "NoSuchObject"):
                return False
            raise StorageError(f"cannot stat {key}: {exc.code}") from exc
        return True
