"""Time-ordered UUIDs (version 7, RFC 9562) for rows written in bulk.

An import or a draw writes thousands of rows at once. With random (version 4) keys every
row lands on a different page of every index on its key; UUIDv7 keys begin with the
time, so one batch fills the right edge of those indexes and dirties a few pages instead
of thousands. Python 3.11 has no ``uuid7``; the third-party packages return a
``uuid.UUID`` subclass that the sqlite3 adapters (registered per exact type) do not
convert, hence these few lines.
"""

from __future__ import annotations

import secrets
import uuid

from backend.core import clock


def _first(count: int) -> int:
    """The first of ``count`` consecutive UUIDv7 values: 48-bit Unix milliseconds, the
    version, 12 random bits, the variant, then a random 62-bit counter that the batch
    increments (RFC 9562 §6.2, method 2). The counter starts below 2**61, so no batch
    wraps around."""
    millis = int(clock.now().timestamp() * 1000) & ((1 << 48) - 1)
    head = (millis << 80) | (0x7 << 76) | (secrets.randbits(12) << 64) | (0b10 << 62)
    return head | secrets.randbits(61)


def uuid7_batch(count: int) -> list[uuid.UUID]:
    """``count`` version-7 UUIDs in increasing order."""
    first = _first(count)
    return [uuid.UUID(int=value) for value in range(first, first + count)]


def uuid7_texts(count: int) -> list[str]:
    """The same as text (hyphenated, lowercase: they sort like the UUIDs), made faster
    than through ``uuid.UUID`` for the import's million rows."""
    first = _first(count)
    out = []
    for value in range(first, first + count):
        h = f"{value:032x}"
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out
