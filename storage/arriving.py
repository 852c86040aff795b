"""A file whose bytes are still arriving: Pillow decodes a picture while the verifying read
of the same object is still streaming it in, instead of after it.

One side ``feed()``s chunks and then calls ``finish()``; the other side reads and seeks like
a file, in another thread, waiting for bytes that have not arrived yet. ``finish()`` also
ends a read early (the download failed): the reader then sees a short file.
"""

from __future__ import annotations

import io
import threading


class ArrivingFile(io.RawIOBase):
    def __init__(self) -> None:
        super().__init__()
        self._data = bytearray()
        self._pos = 0
        self._finished = False
        self._arrived = threading.Condition()

    # -- writer side -----------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        with self._arrived:
            self._data += chunk
            self._arrived.notify_all()

    def finish(self) -> None:
        with self._arrived:
            self._finished = True
            self._arrived.notify_all()

    # -- reader side -------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _wait_for(self, end: int | None) -> None:
        """Until ``end`` bytes (all of them, for None) have arrived or no more will."""
        with self._arrived:
            self._arrived.wait_for(
                lambda: self._finished or (end is not None and len(self._data) >= end)
            )

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        wanted = len(buffer)
        self._wait_for(self._pos + wanted)
        chunk = self._data[self._pos : self._pos + wanted]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)

    def read(self, size: int | None = -1) -> bytes:
        end = None if size is None or size < 0 else self._pos + size
        self._wait_for(end)
        chunk = bytes(self._data[self._pos : end])
        self._pos += len(chunk)
        return chunk

    def readall(self) -> bytes:
        return self.read(-1)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            self._wait_for(None)
            base = len(self._data)
        else:
            base = self._pos if whence == io.SEEK_CUR else 0
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos
