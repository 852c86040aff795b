"""Request and response bodies of the evidence API (web and mobile share them)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec

from backend.audit.schemas import AuditEventOut
from backend.core.schemas import Input, Output

EvidenceKind = Literal["photo", "video", "audio", "document"]
ContentType = Annotated[
    str,
    msgspec.Meta(
        min_length=3, max_length=120, pattern=r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$"
    ),
]
Sha256Hex = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{64}$")]


class GpsIn(Input):
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    accuracy: Annotated[float, msgspec.Meta(ge=0)] | None = None


class EvidenceIn(Input):
    """An upload session for ``task_id``, ``case_id`` or ``target_kind`` + ``target_id``."""

    client_id: uuid.UUID
    kind: EvidenceKind
    content_type: ContentType
    size: Annotated[int, msgspec.Meta(ge=1)]
    sha256: Sha256Hex
    captured_at: Annotated[dt.datetime, msgspec.Meta(tz=True)]
    device_id: Annotated[str, msgspec.Meta(max_length=100)] = ""
    gps: GpsIn | None = None
    task_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    target_kind: Annotated[str, msgspec.Meta(min_length=1, max_length=30)] | None = None
    target_id: uuid.UUID | None = None


class UploadPartOut(Output):
    number: int
    url: str


class MultipartOut(Output):
    part_size: int
    parts: list[UploadPartOut]


class UploadOut(Output, omit_defaults=True):
    """Either a single PUT (``method``, ``url``, ``headers``) or a ``multipart`` upload."""

    method: str | None = None
    url: str | None = None
    headers: dict[str, str] | None = None
    multipart: MultipartOut | None = None


class SessionOut(Output):
    evidence_id: uuid.UUID
    status: str
    upload: UploadOut | None = None
    detail: str = ""


class PartIn(Input):
    number: Annotated[int, msgspec.Meta(ge=1, le=10_000)]
    etag: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class CompleteIn(Input):
    parts: list[PartIn] | None = None


class ReceivedPartOut(Output):
    number: int
    size: int
    etag: str


class PartsOut(Output):
    evidence_id: uuid.UUID
    status: str
    size: int
    part_size: int
    received: list[ReceivedPartOut]
    missing: list[UploadPartOut]


class GpsOut(Output):
    lat: float
    lon: float
    accuracy: float | None = None


class EvidenceOut(Output):
    id: uuid.UUID
    client_id: uuid.UUID
    target_kind: str
    target_id: uuid.UUID
    org_unit_id: uuid.UUID
    kind: str
    content_type: str
    size: int
    sha256: str
    status: str
    flags: list[str]
    captured_at: dt.datetime
    device_id: str
    gps: GpsOut | None
    created_by: str
    created_at: dt.datetime
    sealed_at: dt.datetime | None
    retain_until: dt.datetime | None
    legal_hold: bool
    reject_reason: str
    withdrawn: bool
    withdrawn_at: dt.datetime | None
    withdraw_reason: str
    # EXIF capture time, camera, GPS, pixel size (images only).
    media: dict[str, Any]
    # Presigned GETs of the 256 and 1024 px JPEG thumbnails, valid 60 s.
    thumbnails: dict[str, str] | None = None


class EvidenceFileOut(EvidenceOut):
    """An item as a case file export needs it: where the original is and its custody."""

    object_key: str = ""
    version_id: str | None = None
    custody: list[AuditEventOut] = msgspec.field(default_factory=list)


class DownloadOut(Output):
    url: str
    expires_in: int
    sha256: str
    size: int
    filename: str


class AttachCaseIn(Input):
    case_id: uuid.UUID


class WithdrawIn(Input):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=1000)]


class OriginalOut(Output):
    """A sealed original released for an export: its record and where its bytes are."""

    evidence: EvidenceOut
    object_key: str
    version_id: str | None = None
