"""Domain errors and the one place where every exception becomes a JSON response.

Every error response is ``{"status": int, "code": "dotted.code", "detail": str}``.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.exceptions import (
    NotFoundException as LitestarNotFound,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger("fieldcase.errors")


class FieldcaseError(Exception):
    """Base of every error the domain raises on purpose."""

    status: int = 400
    code: str = "request.invalid"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra or {}
        self.headers = headers or {}


class BadRequest(FieldcaseError):
    status = 400
    code = "request.invalid"


class Unauthorized(FieldcaseError):
    status = 401
    code = "auth.required"


class Forbidden(FieldcaseError):
    status = 403
    code = "auth.forbidden"


class NotFound(FieldcaseError):
    status = 404
    code = "not_found"


class Conflict(FieldcaseError):
    status = 409
    code = "conflict"


class PayloadTooLarge(FieldcaseError):
    status = 413
    code = "request.too_large"


class Unprocessable(FieldcaseError):
    status = 422
    code = "request.unprocessable"


class TooManyRequests(FieldcaseError):
    status = 429
    code = "rate_limited"


class ServiceUnavailable(FieldcaseError):
    status = 503
    code = "service.unavailable"


def error_body(
    status: int, code: str, detail: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status, "code": code, "detail": detail}
    if extra:
        body.update(extra)
    return body


def _json(status: int, code: str, detail: str, **kw: Any) -> Response[Any]:
    extra = kw.pop("extra", None)
    return Response(content=error_body(status, code, detail, extra), status_code=status, **kw)


def _validation_detail(exc: ValidationException) -> str:
    extra = exc.extra
    parts: list[str] = []
    if isinstance(extra, list):
        for item in extra:
            if not isinstance(item, dict):
                continue
            key = item.get("key")
            message = str(item.get("message") or "").strip()
            source = item.get("source")
            where = f"`{key}`" if key else "request body"
            if source and source != "body":
                where = f"{source} parameter {where}"
            parts.append(f"{where}: {message}" if message else where)
    if not parts:
        return str(exc.detail)
    return "; ".join(parts)


def _is_integrity_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    try:
        import asyncpg

        return isinstance(exc, asyncpg.exceptions.IntegrityConstraintViolationError)
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, FieldcaseError):
        return _json(
            exc.status, exc.code, exc.detail, extra=exc.extra or None, headers=exc.headers or None
        )
    if isinstance(exc, ValidationException):
        return _json(400, "request.invalid", _validation_detail(exc))
    if isinstance(exc, NotAuthorizedException):
        return _json(401, "auth.required", str(exc.detail) or "authentication required")
    if isinstance(exc, PermissionDeniedException):
        return _json(403, "auth.forbidden", str(exc.detail) or "not allowed")
    if isinstance(exc, LitestarNotFound):
        return _json(404, "not_found", "no such resource")
    if isinstance(exc, HTTPException):
        status = exc.status_code
        code = {
            405: "request.method_not_allowed",
            413: "request.too_large",
            415: "request.unsupported_media_type",
            429: "rate_limited",
        }.get(status, "request.invalid" if status < 500 else "server.error")
        return _json(status, code, str(exc.detail), headers=exc.headers or None)
    if _is_integrity_error(exc):
        return _json(409, "conflict.integrity", "the change conflicts with existing data")
    request_id = request.scope.get("state", {}).get("request_id") or uuid.uuid4().hex
    log.exception(
        "unhandled error (request %s %s %s)", request_id, request.method, request.url.path
    )
    return _json(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "server.error",
        f"internal error; quote request id {request_id}",
    )
