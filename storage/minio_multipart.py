"""The S3 multipart calls of the ``minio`` SDK, in one place.

The SDK (checked with minio 7.2.20, the newest release) has no public API for the
multipart primitives that client-side resumable uploads need: its public ``put_object``
runs a whole multipart upload itself from a stream we do not have, because the phone sends
the parts straight to the store. The primitives exist only as private methods of
``Minio``. Every use of them is in this module, and
``tests/unit/test_minio_multipart.py`` checks their names and parameters against the
installed SDK, so an SDK change fails a unit test instead of a phone's upload.
"""

from __future__ import annotations

from dataclasses import dataclass

from minio import Minio
from minio.datatypes import Part

# The private methods used, with the parameters passed to each (checked by the unit test).
PRIVATE_CALLS: dict[str, tuple[str, ...]] = {
    "_create_multipart_upload": ("bucket_name", "object_name", "headers"),
    "_list_parts": ("bucket_name", "object_name", "upload_id", "part_number_marker"),
    "_complete_multipart_upload": ("bucket_name", "object_name", "upload_id", "parts"),
    "_abort_multipart_upload": ("bucket_name", "object_name", "upload_id"),
}


@dataclass(frozen=True)
class PartPage:
    """One page of ListParts: (number, etag, size) of each part, and where the next starts."""

    parts: list[tuple[int, str, int]]
    next_marker: str | None


class MultipartCalls:
    """Synchronous multipart calls on one bucket (callers run them in worker threads)."""

    def __init__(self, client: Minio, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def create(self, key: str, *, content_type: str) -> str:
        """Start an upload; returns its upload id."""
        return self.client._create_multipart_upload(
            bucket_name=self.bucket, object_name=key, headers={"Content-Type": content_type}
        )

    def list_page(self, key: str, *, upload_id: str, marker: str | None) -> PartPage:
        result = self.client._list_parts(
            bucket_name=self.bucket,
            object_name=key,
            upload_id=upload_id,
            part_number_marker=marker,
        )
        parts = [(p.part_number, p.etag, int(p.size or 0)) for p in result.parts]
        more = result.is_truncated and result.next_part_number_marker
        return PartPage(parts=parts, next_marker=str(more) if more else None)

    def complete(self, key: str, *, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """Assemble the parts given as (number, etag), in that order."""
        self.client._complete_multipart_upload(
            bucket_name=self.bucket,
            object_name=key,
            upload_id=upload_id,
            parts=[Part(number, etag) for number, etag in parts],
        )

    def abort(self, key: str, *, upload_id: str) -> None:
        self.client._abort_multipart_upload(
            bucket_name=self.bucket, object_name=key, upload_id=upload_id
        )
