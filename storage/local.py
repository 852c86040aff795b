"""Local filesystem store for the embedded default (one machine).

Layout under ``root``: ``objects/<key>`` (the bytes), ``meta/<key>.json`` (content type,
size, etag, sha256, retention, legal hold) and ``uploads/<upload id>/`` (open multipart
uploads). Every write goes to a temp file, is fsynced and renamed into place.

Keys are made of segments matching ``SEGMENT`` (no leading dot, no slash), so a key can
never name a path outside ``root``. Retention and legal holds are enforced here in code;
a locked file is also made read-only.

Clients upload with the same flow as with MinIO: ``presign_*`` returns URLs of the API
itself (``/storage/local/<token>``, see ``storage.local_routes``) whose token is an HMAC
over the operation, key and expiry.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import shutil
import stat
import tempfile
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from backend.core import clock
from storage.base import (
    READ_CHUNK,
    ObjectInfo,
    ObjectLocked,
    ObjectMissing,
    ObjectReader,
    PartInfo,
    PresignedRequest,
    StorageError,
    sha256_b64,
)

SEGMENT = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,199}")
UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
URL_PREFIX = "/storage/local/"
WRITE_BUFFER = 1024 * 1024


class BadDigest(StorageError):
    """The received bytes do not match the SHA-256 the client declared."""


class BadToken(StorageError):
    """A signed store URL is forged, altered or expired."""


@dataclass(frozen=True)
class Grant:
    """What a signed URL allows: one operation on one key until ``expires``."""

    op: str  # "put" | "part" | "get"
    key: str
    expires: int
    sha256_b64: str | None = None
    upload_id: str | None = None
    number: int | None = None
    filename: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Sink:
    """A temp file next to its destination that hashes what is written to it."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        self.path = Path(name)
        self.fh: IO[bytes] = os.fdopen(fd, "wb")
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.sha256.update(data)
        self.md5.update(data)
        self.size += len(data)

    def finish(self, dest: Path) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.path, dest)

    def discard(self) -> None:
        if not self.fh.closed:
            self.fh.close()
        self.path.unlink(missing_ok=True)


class LocalStore:
    def __init__(self, *, root: Path, secret: str, base_url: str = "") -> None:
        self.root = root
        self.secret = secret
        # Prefix of signed URLs; empty gives paths that the API joins to its own address.
        self.base_url = base_url.rstrip("/")

    # -- paths -------------------------------------------------------------

    def _segments(self, key: str) -> list[str]:
        parts = key.split("/")
        if not all(SEGMENT.fullmatch(p) for p in parts):
            raise StorageError(f"bad object key {key!r}")
        return parts

    def _path(self, key: str) -> Path:
        return self.root.joinpath("objects", *self._segments(key))

    def _meta_path(self, key: str) -> Path:
        parts = self._segments(key)
        return self.root.joinpath("meta", *parts[:-1], parts[-1] + ".json")

    def _upload_dir(self, upload_id: str) -> Path:
        if not UPLOAD_ID.fullmatch(upload_id):
            raise ObjectMissing(f"no upload {upload_id!r}")
        return self.root / "uploads" / upload_id

    def path_for_read(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise ObjectMissing(f"no object {key}")
        return path

    # -- metadata and locks --------------------------------------------------

    def _read_meta(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self._meta_path(key).read_text()))
        except FileNotFoundError:
            return None

    def _write_meta(self, key: str, meta: dict[str, Any]) -> None:
        path = self._meta_path(key)
        sink = _Sink(path.parent)
        try:
            sink.write(json.dumps(meta, sort_keys=True).encode())
            sink.finish(path)
        except BaseException:
            sink.discard()
            raise

    def _lock_reason(self, meta: dict[str, Any] | None) -> str | None:
        if not meta:
            return None
        if meta.get("legal_hold"):
            return "under legal hold"
        until = meta.get("retain_until")
        if until and dt.datetime.fromisoformat(until) > clock.now():
            return f"under retention until {until}"
        return None

    def _check_writable(self, key: str) -> None:
        reason = self._lock_reason(self._read_meta(key))
        if reason:
            raise ObjectLocked(f"object {key} is {reason}")

    def _commit(self, key: str, sink: _Sink, *, content_type: str, etag: str) -> None:
        """Rename ``sink`` onto ``key`` unless the object there is locked."""
        self._check_writable(key)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        sink.finish(path)
        meta = {
            "content_type": content_type,
            "size": sink.size,
            "etag": etag,
            "sha256": sink.sha256.hexdigest(),
        }
        self._write_meta(key, meta)

    # -- simple objects --------------------------------------------------------

    async def ping(self) -> None:
        def check() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise StorageError(f"object store folder {self.root} is not writable")

        await asyncio.to_thread(check)

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
            sink = _Sink(path.parent)
            try:
                sink.write(data)
                self._commit(key, sink, content_type=content_type, etag=sink.md5.hexdigest())
            except BaseException:
                sink.discard()
                raise
            if retain_until is not None:
                self._set_lock(key, until=retain_until)

        await asyncio.to_thread(write)

    async def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise ObjectMissing(f"no object {key}") from None

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def stat(self, key: str, *, version_id: str | None = None) -> ObjectInfo:
        def read() -> ObjectInfo:
            path = self._path(key)
            meta = self._read_meta(key)
            if meta is None or not path.is_file():
                raise ObjectMissing(f"no object {key}")
            until = meta.get("retain_until")
            return ObjectInfo(
                key=key,
                size=path.stat().st_size,
                etag=str(meta.get("etag", "")),
                content_type=str(meta.get("content_type", "application/octet-stream")),
                version_id=None,
                retention_mode=meta.get("mode"),
                retain_until=dt.datetime.fromisoformat(until) if until else None,
                legal_hold=bool(meta.get("legal_hold")),
            )

        return await asyncio.to_thread(read)

    async def open_object(
        self, key: str, *, version_id: str | None = None, chunk_size: int = READ_CHUNK
    ) -> ObjectReader:
        info = await self.stat(key)
        return ObjectReader(info=info, chunks=self.iter_object(key, chunk_size=chunk_size))

    async def iter_object(
        self, key: str, *, version_id: str | None = None, chunk_size: int = READ_CHUNK
    ) -> AsyncGenerator[bytes, None]:
        path = self._path(key)
        try:
            fh = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise ObjectMissing(f"no object {key}") from None
        try:
            while chunk := await asyncio.to_thread(fh.read, chunk_size):
                yield chunk
        finally:
            fh.close()

    # -- locks -------------------------------------------------------------------

    def _set_lock(
        self, key: str, *, until: dt.datetime | None = None, hold: bool | None = None
    ) -> None:
        meta = self._read_meta(key)
        path = self._path(key)
        if meta is None or not path.is_file():
            raise ObjectMissing(f"no object {key}")
        if until is not None:
            until = until.astimezone(dt.UTC)
            current = meta.get("retain_until")
            if current and dt.datetime.fromisoformat(current) > until:
                raise ObjectLocked(f"COMPLIANCE retention of {key} cannot be shortened")
            meta["retain_until"] = until.isoformat()
            meta["mode"] = "COMPLIANCE"
        if hold is not None:
            meta["legal_hold"] = hold
        self._write_meta(key, meta)
        os.chmod(path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)

    async def set_retention(
        self, key: str, *, until: dt.datetime, version_id: str | None = None
    ) -> None:
        await asyncio.to_thread(self._set_lock, key, until=until)

    async def set_legal_hold(self, key: str, *, on: bool, version_id: str | None = None) -> None:
        await asyncio.to_thread(self._set_lock, key, hold=on)

    async def delete(self, key: str, *, version_id: str | None = None) -> None:
        def remove() -> None:
            meta = self._read_meta(key)
            reason = self._lock_reason(meta)
            if reason:
                raise ObjectLocked(f"object {key} is {reason}")
            path = self._path(key)
            if not path.is_file():
                raise ObjectMissing(f"no object {key}")
            path.unlink()
            self._meta_path(key).unlink(missing_ok=True)

        await asyncio.to_thread(remove)

    # -- signed URLs -------------------------------------------------------------

    def _sign(self, grant: Grant) -> str:
        body = {k: v for k, v in grant.__dict__.items() if v is not None}
        payload = _b64(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
        mac = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).digest()
        return f"{self.base_url}{URL_PREFIX}{payload}.{_b64(mac)}"

    def verify(self, token: str, *, ops: tuple[str, ...]) -> Grant:
        """The grant of a signed URL's token; ``BadToken`` if forged, altered or expired."""
        payload, _, mac = token.partition(".")
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).digest()
        try:
            valid = hmac.compare_digest(_unb64(mac), expected)
            grant = Grant(**json.loads(_unb64(payload))) if valid else None
        except (ValueError, TypeError):
            grant = None
        if grant is None or grant.op not in ops:
            raise BadToken("this upload/download link is not valid")
        if grant.expires < clock.now().timestamp():
            raise BadToken("this upload/download link has expired")
        self._segments(grant.key)
        return grant

    def _expiry(self, expires: dt.timedelta) -> int:
        return int((clock.now() + expires).timestamp())

    async def presign_put(
        self, key: str, *, sha256_hex: str, content_type: str, expires: dt.timedelta
    ) -> PresignedRequest:
        checksum = sha256_b64(sha256_hex)
        self._segments(key)
        grant = Grant(op="put", key=key, expires=self._expiry(expires), sha256_b64=checksum)
        headers = {"x-amz-checksum-sha256": checksum, "Content-Type": content_type}
        return PresignedRequest(method="PUT", url=self._sign(grant), headers=headers)

    async def presign_get(
        self,
        key: str,
        *,
        version_id: str | None = None,
        expires: dt.timedelta,
        filename: str | None = None,
    ) -> str:
        self._segments(key)
        grant = Grant(op="get", key=key, expires=self._expiry(expires), filename=filename)
        return self._sign(grant)

    # -- receiving bytes through signed URLs --------------------------------------

    async def _spool(
        self, directory: Path, chunks: AsyncIterator[bytes], commit: Callable[[_Sink], None]
    ) -> _Sink:
        """Write ``chunks`` to a hashed temp file in ``directory``, then ``commit`` it."""
        sink = await asyncio.to_thread(_Sink, directory)
        try:
            buffer = bytearray()
            async for chunk in chunks:
                buffer += chunk
                if len(buffer) >= WRITE_BUFFER:
                    await asyncio.to_thread(sink.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await asyncio.to_thread(sink.write, bytes(buffer))
            await asyncio.to_thread(commit, sink)
        except BaseException:
            await asyncio.to_thread(sink.discard)
            raise
        return sink

    async def receive(
        self, grant: Grant, chunks: AsyncIterator[bytes], *, checksum: str | None, content_type: str
    ) -> str:
        """Store the body of a PUT to a signed URL; returns the ETag."""
        if grant.op == "part":
            assert grant.upload_id is not None and grant.number is not None
            return await self._receive_part(grant.upload_id, grant.number, chunks)
        expected = grant.sha256_b64
        if checksum and expected and checksum != expected:
            raise BadDigest("x-amz-checksum-sha256 differs from the checksum this URL was made for")
        expected = expected or checksum

        def commit(sink: _Sink) -> None:
            got = base64.b64encode(sink.sha256.digest()).decode("ascii")
            if expected and got != expected:
                raise BadDigest(f"the bytes received have SHA-256 {sink.sha256.hexdigest()}")
            self._commit(grant.key, sink, content_type=content_type, etag=sink.md5.hexdigest())

        sink = await self._spool(self._path(grant.key).parent, chunks, commit)
        return sink.md5.hexdigest()

    # -- multipart ---------------------------------------------------------------

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        self._segments(key)
        upload_id = uuid.uuid4().hex

        def create() -> None:
            folder = self._upload_dir(upload_id)
            (folder / "parts").mkdir(parents=True)
            (folder / "upload.json").write_text(
                json.dumps({"key": key, "content_type": content_type})
            )

        await asyncio.to_thread(create)
        return upload_id

    def _upload_meta(self, upload_id: str) -> dict[str, Any]:
        try:
            return dict(json.loads((self._upload_dir(upload_id) / "upload.json").read_text()))
        except FileNotFoundError:
            raise ObjectMissing(f"no upload {upload_id}") from None

    async def presign_part(
        self, key: str, *, upload_id: str, number: int, expires: dt.timedelta
    ) -> str:
        self._segments(key)
        grant = Grant(
            op="part", key=key, expires=self._expiry(expires), upload_id=upload_id, number=number
        )
        return self._sign(grant)

    async def _receive_part(self, upload_id: str, number: int, chunks: AsyncIterator[bytes]) -> str:
        folder = self._upload_dir(upload_id) / "parts"
        if not await asyncio.to_thread(folder.is_dir):
            raise ObjectMissing(f"no upload {upload_id}")

        def commit(sink: _Sink) -> None:
            sink.finish(folder / f"{number:05d}")
            (folder / f"{number:05d}.etag").write_text(sink.md5.hexdigest())

        sink = await self._spool(folder, chunks, commit)
        return sink.md5.hexdigest()

    async def list_parts(self, key: str, *, upload_id: str) -> list[PartInfo]:
        def collect() -> list[PartInfo]:
            self._upload_meta(upload_id)
            folder = self._upload_dir(upload_id) / "parts"
            parts = []
            for etag_file in sorted(folder.glob("*.etag")):
                data = etag_file.with_suffix("")
                parts.append(
                    PartInfo(
                        number=int(data.name),
                        etag=etag_file.read_text().strip(),
                        size=data.stat().st_size,
                    )
                )
            return parts

        return await asyncio.to_thread(collect)

    async def complete_multipart(self, key: str, *, upload_id: str, parts: list[PartInfo]) -> None:
        def assemble() -> None:
            meta = self._upload_meta(upload_id)
            if meta["key"] != key:
                raise StorageError(f"upload {upload_id} is not for {key}")
            folder = self._upload_dir(upload_id) / "parts"
            path = self._path(key)
            sink = _Sink(path.parent)
            etags = hashlib.md5(usedforsecurity=False)
            try:
                for part in sorted(parts, key=lambda p: p.number):
                    data = folder / f"{part.number:05d}"
                    stored = (folder / f"{part.number:05d}.etag").read_text().strip()
                    if stored != part.etag:
                        raise StorageError(f"part {part.number} has ETag {stored}")
                    etags.update(bytes.fromhex(stored))
                    with data.open("rb") as fh:
                        while chunk := fh.read(READ_CHUNK):
                            sink.write(chunk)
                etag = f"{etags.hexdigest()}-{len(parts)}"
                self._commit(key, sink, content_type=meta["content_type"], etag=etag)
            except FileNotFoundError:
                sink.discard()
                raise ObjectMissing("a part of the upload is missing") from None
            except BaseException:
                sink.discard()
                raise
            shutil.rmtree(self._upload_dir(upload_id), ignore_errors=True)

        await asyncio.to_thread(assemble)

    async def abort_multipart(self, key: str, *, upload_id: str) -> None:
        try:
            folder = self._upload_dir(upload_id)
        except ObjectMissing:
            return
        await asyncio.to_thread(shutil.rmtree, folder, True)
