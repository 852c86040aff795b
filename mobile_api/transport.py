"""Transport for phones on weak networks: gzip both ways, a clear 413, the server's clock.

An ASGI middleware on the /mobile/v1 router:

- a request body with ``Content-Encoding: gzip`` is inflated incrementally; the body is
  limited to ``MobileConfig.max_body_bytes`` before AND after inflating (a gzip bomb
  stops at the limit), answered with a JSON 413 naming the limit;
- a JSON response is gzipped when the client sends ``Accept-Encoding: gzip``;
- every response carries ``X-Server-Time`` so the app can measure its own clock.

A handler with ``opt={"raw_body": True}`` (a signed upload stream) is left alone.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, cast

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.core import clock
from backend.core.errors import BadRequest, PayloadTooLarge, error_body
from backend.settings import get_settings
from mobile_api.config import mobile_config

MIN_COMPRESS_BYTES = 512


_WANTED = (b"accept-encoding", b"content-encoding", b"content-length")


def _headers(scope: Scope) -> dict[bytes, str]:
    """The request's headers this middleware reads (the first of each), in one pass."""
    found: dict[bytes, str] = {}
    for key, value in scope.get("headers", []):
        if key not in _WANTED:
            key = key.lower()
            if key not in _WANTED:
                continue
        if key not in found:
            found[key] = value.decode("latin-1")
    return found


def _limit(scope: Scope) -> int:
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None) or get_settings()
    return mobile_config(settings).max_body_bytes


def _limited(receive: Receive, *, gzipped: bool, limit: int) -> Receive:
    """``receive`` that inflates gzip and stops at ``limit`` bytes, wire and inflated."""
    inflater = zlib.decompressobj(wbits=31) if gzipped else None
    wire = 0
    size = 0

    async def limited() -> Any:
        nonlocal wire, size
        message: Any = await receive()
        if message["type"] != "http.request":
            return message
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        wire += len(chunk)
        if wire > limit:
            raise PayloadTooLarge(_too_large(limit))
        if inflater is not None:
            try:
                # Inflate at most one byte past the limit, so a bomb never fills memory.
                chunk = inflater.decompress(chunk, limit - size + 1)
            except zlib.error:
                raise BadRequest(
                    "the request body is not valid gzip data", code="request.bad_gzip"
                ) from None
            if inflater.unconsumed_tail:
                raise PayloadTooLarge(_too_large(limit))
            if not more and wire and not inflater.eof:
                raise BadRequest("the gzip request body is truncated", code="request.bad_gzip")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(_too_large(limit))
        return {"type": "http.request", "body": chunk, "more_body": more}

    return cast(Receive, limited)


async def _send_error(send: Any, status: int, code: str, detail: str) -> None:
    body = json.dumps(error_body(status, code, detail), ensure_ascii=False).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-server-time", clock.iso(clock.now()).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def mobile_transport(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = _headers(scope)
        gzip_ok = "gzip" in headers.get(b"accept-encoding", "").lower()
        handler = scope.get("route_handler")
        if getattr(handler, "opt", {}).get("raw_body"):
            # Streams of their own (signed uploads) keep their bytes and their limits.
            await app(scope, receive, _ResponseWriter(send, gzip_ok=gzip_ok).send)
            return
        limit = _limit(scope)
        encoding = headers.get(b"content-encoding", "").strip().lower()
        if encoding not in ("", "identity", "gzip"):
            await _send_error(
                send,
                415,
                "request.unsupported_encoding",
                f"Content-Encoding {encoding!r} is not supported; send gzip or nothing",
            )
            return
        declared = headers.get(b"content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _send_error(send, 413, "request.too_large", _too_large(limit))
            return
        receive = _limited(receive, gzipped=encoding == "gzip", limit=limit)
        await app(scope, receive, _ResponseWriter(send, gzip_ok=gzip_ok).send)

    return middleware


def _too_large(limit: int) -> str:
    return (
        f"request body exceeds the limit of {limit} bytes ({limit / 1048576:.1f} MiB) "
        "after decompression; split the sync batch or upload files through evidence sessions"
    )


class _ResponseWriter:
    """Adds X-Server-Time and gzips JSON bodies for clients that accept it."""

    def __init__(self, send: Send, *, gzip_ok: bool) -> None:
        self._send: Any = send
        self._gzip_ok = gzip_ok
        self._start: dict[str, Any] | None = None
        self._deflater: Any = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            start: dict[str, Any] = dict(message)
            headers: list[tuple[bytes, bytes]] = list(start.get("headers", []))
            headers.append((b"x-server-time", clock.iso(clock.now()).encode()))
            start["headers"] = headers
            if self._gzip_ok:
                names = {k.lower(): v for k, v in headers}
                json_body = names.get(b"content-type", b"").startswith(b"application/json")
                if json_body and b"content-encoding" not in names:
                    self._start = start  # decided with the first body chunk
                    return
            await self._send(start)
            return
        if message["type"] != "http.response.body" or self._start is None:
            await self._send(message)
            return
        body: bytes = message.get("body", b"")  # type: ignore[assignment]
        more = bool(message.get("more_body", False))
        if self._deflater is None:
            start, self._start = self._start, None
            if not more and len(body) < MIN_COMPRESS_BYTES:
                await self._send(start)
                await self._send(message)
                return
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
            self._deflater = zlib.compressobj(6, zlib.DEFLATED, 31)
            if not more:
                packed = self._deflater.compress(body) + self._deflater.flush()
                headers.append((b"content-length", str(len(packed)).encode()))
                await self._send({**start, "headers": headers})
                await self._send({"type": "http.response.body", "body": packed})
                return
            await self._send({**start, "headers": headers})
            # Keep the deflater for the following chunks of this streamed body.
            self._start = start
        packed = self._deflater.compress(body)
        if not more:
            packed += self._deflater.flush()
            self._start = None
        await self._send({"type": "http.response.body", "body": packed, "more_body": more})
