"""Object storage: the ``ObjectStore`` protocol, MinIO and local filesystem stores."""

from __future__ import annotations

from storage.base import (
    ObjectInfo,
    ObjectLocked,
    ObjectMissing,
    ObjectStore,
    PartInfo,
    PresignedRequest,
    StorageError,
)
from storage.local import LocalStore


def open_store(settings: object) -> ObjectStore:
    """The store named by ``FIELDCASE_STORAGE_URL``."""
    from backend.settings import Settings

    assert isinstance(settings, Settings)
    url = settings.storage
    if url.kind == "file":
        assert url.path is not None
        return LocalStore(root=url.path, secret=settings.secret_key)
    from storage.minio_store import MinioStore

    return MinioStore(
        endpoint=url.endpoint,
        access_key=url.access_key,
        secret_key=url.secret_key,
        bucket=url.bucket,
        secure=url.secure,
        region=url.region,
    )


__all__ = [
    "LocalStore",
    "ObjectInfo",
    "ObjectLocked",
    "ObjectMissing",
    "ObjectStore",
    "PartInfo",
    "PresignedRequest",
    "StorageError",
    "open_store",
]
