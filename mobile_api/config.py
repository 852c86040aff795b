"""Mobile API limits, read from ``FIELDCASE_MOBILE_*`` variables with the defaults below."""

from __future__ import annotations

from dataclasses import dataclass

from backend.settings import PREFIX, Settings, SettingsError


@dataclass(frozen=True)
class MobileConfig:
    # Stored responses of writes are replayable for at least this long.
    idempotency_days: int = 7
    # Device clocks further off than this are flagged on every action.
    clock_skew_minutes: int = 5
    # Largest request body after gzip decompression.
    max_body_bytes: int = 8 * 1024 * 1024
    # Largest batch of queued operations in one POST /mobile/v1/sync.
    max_sync_operations: int = 500
    # A check-in further than this from the subject is flagged.
    checkin_max_distance_m: int = 500
    # Certificates expiring within this many days carry a warning.
    certificate_warning_days: int = 30
    # Page size of the work list.
    work_page_size: int = 100


_LIMITS = {
    "idempotency_days": (7, 3650),
    "clock_skew_minutes": (1, 24 * 60),
    "max_body_bytes": (1024, 1024 * 1024 * 1024),
    "max_sync_operations": (1, 10_000),
    "checkin_max_distance_m": (10, 100_000),
    "certificate_warning_days": (1, 365),
    "work_page_size": (1, 1000),
}


# The config of the settings last asked about: read on every mobile request.
_last: tuple[Settings, MobileConfig] | None = None


def mobile_config(settings: Settings) -> MobileConfig:
    """The mobile limits; a bad value names its variable."""
    global _last
    last = _last
    if last is not None and last[0] is settings:
        return last[1]
    config = _read(settings)
    _last = (settings, config)
    return config


def _read(settings: Settings) -> MobileConfig:
    values: dict[str, int] = {}
    for name, (low, high) in _LIMITS.items():
        var = f"{PREFIX}MOBILE_{name.upper()}"
        raw = settings.extra.get(var)
        if raw is None or raw == "":
            continue
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{var}: expected an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"{var}: must be between {low} and {high}, got {value}")
        values[name] = value
    return MobileConfig(**values)
