"""The clock every rule reads, so tests and operators can travel in time.

``now()`` is UTC. ``FIELDCASE_CLOCK_OFFSET_SECONDS`` shifts it in a real
process (end-to-end tests; read when the process starts); ``travel_to`` and
``use_clock`` set it in-process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def _offset() -> timedelta | None:
    raw = os.environ.get("FIELDCASE_CLOCK_OFFSET_SECONDS")
    return timedelta(seconds=float(raw)) if raw else None


# Read once: the variable is part of a process's environment when it starts, and looking
# it up on every ``now()`` (several times a request) cost more than the rest of it.
_OFFSET = _offset()


def _system_now() -> datetime:
    if _OFFSET is None:
        return datetime.now(UTC)
    return datetime.now(UTC) + _OFFSET


_source: Callable[[], datetime] = _system_now


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _source()


def today(tz: ZoneInfo) -> date:
    """The current calendar day in ``tz`` (deadlines count local days)."""
    return now().astimezone(tz).date()


def local_today() -> date:
    """Today in the bureau's time zone (``FIELDCASE_TIMEZONE``): the day users live in.

    ``now().date()`` is the UTC day, which is yesterday in China before 08:00.
    """
    from backend.settings import get_settings

    return today(get_settings().timezone)


def use_clock(source: Callable[[], datetime] | None) -> None:
    global _source
    _source = source or _system_now


@contextlib.contextmanager
def travel_to(moment: datetime) -> Iterator[None]:
    """Freeze the clock at ``moment`` (aware) for the duration of the block."""
    if moment.tzinfo is None:
        raise ValueError("travel_to needs an aware datetime")
    previous = _source
    use_clock(lambda: moment.astimezone(UTC))
    try:
        yield
    finally:
        use_clock(previous)


def iso(moment: datetime) -> str:
    """Canonical ISO-8601 UTC text with microseconds and a ``Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
