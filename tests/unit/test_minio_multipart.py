"""The minio SDK's private multipart methods that storage/minio_multipart.py relies on.

If an SDK upgrade renames or reshapes them, this fails here, naming what changed, rather
than in a phone's resumable upload. The calls themselves run against an S3 server in
tests/s3 (the 40 MB multipart upload resumed after a dropped part).
"""

from __future__ import annotations

import dataclasses
import inspect

from minio import Minio
from minio.datatypes import ListPartsResult, Part

from storage.minio_multipart import PRIVATE_CALLS


def test_the_private_multipart_methods_take_the_parameters_we_pass():
    for name, params in PRIVATE_CALLS.items():
        method = getattr(Minio, name, None)
        assert method is not None, f"minio.Minio.{name} is gone: update storage/minio_multipart.py"
        accepted = inspect.signature(method).parameters
        missing = [p for p in params if p not in accepted]
        assert not missing, f"minio.Minio.{name} no longer takes {missing}"


def test_the_results_still_have_the_fields_we_read():
    part_fields = {f.name for f in dataclasses.fields(Part)}
    assert {"part_number", "etag", "size"} <= part_fields
    assert Part(3, "abc").part_number == 3 and Part(3, "abc").etag == "abc"
    list_fields = {f.name for f in dataclasses.fields(ListPartsResult)}
    assert {"parts", "is_truncated", "next_part_number_marker"} <= list_fields


def test_no_public_equivalent_appeared():
    """When the SDK gains public multipart calls, switch to them and drop the adapter."""
    public = [
        name
        for name in ("create_multipart_upload", "list_parts", "complete_multipart_upload")
        if hasattr(Minio, name)
    ]
    assert not public, f"minio now has public {public}: use them in storage/minio_multipart.py"
