"""Local filesystem store for the embedded default (one machine)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import tempfile
from pathlib import Path

from storage.base import StorageError


class LocalStore:
    def __init__(self, *, root: Path, secret: str) -> None:
        self.root = root
        self.secret = secret

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") or "\\" in p for p in parts):
            raise StorageError(f"bad object key {key!r}")
        return self.root.joinpath("objects", *parts)

    def _meta_path(self, key: str) -> Path:
        path = self._path(key)
        return path.with_name(path.name + ".meta.json")

    async def ping(self) -> None:
        def check() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise StorageError(f"object store folder {self.root} is not writable")

        await asyncio.to_thread(check)

    def _write_atomic(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        retain_until: dt.datetime | None = None,
    ) -> None:
        path = self._path(key)

        def write() -> None:
            meta_path = self._meta_path(key)
            if meta_path.exists():
                meta = json.loads(meta_path.read_text())
                until = meta.get("retain_until")
                if until and dt.datetime.fromisoformat(until) > dt.datetime.now(dt.UTC):
                    raise StorageError(f"object {key} is under retention until {until}")
            self._write_atomic(path, data)
            meta = {"content_type": content_type, "size": len(data)}
            if retain_until is not None:
                meta["retain_until"] = retain_until.astimezone(dt.UTC).isoformat()
                meta["mode"] = "COMPLIANCE"
            self._write_atomic(meta_path, json.dumps(meta).encode())

        await asyncio.to_thread(write)

    async def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise StorageError(f"no object {key}") from None

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).exists)
