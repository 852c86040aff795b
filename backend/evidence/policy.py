"""Evidence numbers: configuration with defaults (``FIELDCASE_EVIDENCE_*`` variables)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from backend.settings import PREFIX, Settings, SettingsError

MIB = 1024 * 1024


@dataclass(frozen=True)
class EvidencePolicy:
    max_bytes: int = 4 * 1024 * MIB
    # Up to this size a single PUT; above it a multipart upload.
    single_put_max: int = 16 * MIB
    part_size: int = 8 * MIB
    # Up to this size the seal runs in the complete request; above it, after the response.
    inline_seal_max: int = 16 * MIB
    retention: dt.timedelta = dt.timedelta(days=180)
    upload_url_ttl: dt.timedelta = dt.timedelta(hours=6)
    download_url_ttl: dt.timedelta = dt.timedelta(seconds=60)
    pending_expiry: dt.timedelta = dt.timedelta(hours=24)
    # A claimed seal older than this is presumed crashed and may be retried.
    seal_lease: dt.timedelta = dt.timedelta(minutes=15)
    max_pixels: int = 89_478_485
    exif_time_tolerance: dt.timedelta = dt.timedelta(minutes=10)
    gps_tolerance_m: float = 500.0


def _int(settings: Settings, name: str, default: int, *, low: int) -> int:
    raw = settings.extra.get(PREFIX + name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name}: expected an integer, got {raw!r}") from None
    if value < low:
        raise SettingsError(f"{PREFIX}{name}: must be at least {low}, got {value}")
    return value


def policy_from(settings: Settings) -> EvidencePolicy:
    base = EvidencePolicy()
    return EvidencePolicy(
        max_bytes=_int(settings, "EVIDENCE_MAX_BYTES", base.max_bytes, low=1),
        retention=dt.timedelta(
            days=_int(settings, "EVIDENCE_RETENTION_DAYS", base.retention.days, low=1)
        ),
        max_pixels=_int(settings, "EVIDENCE_MAX_PIXELS", base.max_pixels, low=1),
    )
