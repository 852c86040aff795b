"""The API side of the local store's signed URLs: clients PUT and GET bytes here exactly as
they would against MinIO's presigned URLs (no bearer token; the URL's HMAC authorises)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, put
from litestar.response import File

from backend.core.errors import BadRequest, Conflict, Forbidden, NotFound
from storage.base import ObjectLocked, ObjectMissing
from storage.local import BadDigest, BadToken, LocalStore

# Parts and single PUTs can exceed the API's default body limit; S3 caps a PUT at 5 GiB.
MAX_PUT_BYTES = 5 * 1024**3


def _local_store(request: Request[Any, Any, Any]) -> LocalStore:
    store = request.app.state.store
    if not isinstance(store, LocalStore):
        raise NotFound("the object store does not serve signed URLs here")
    return store


@put(
    "/storage/local/{token:str}",
    operation_id="localStorePut",
    tags=["storage"],
    exclude_from_auth=True,
    request_max_body_size=MAX_PUT_BYTES,
    status_code=200,
    include_in_schema=False,
)
async def local_put(token: str, request: Request[Any, Any, Any]) -> Response[bytes]:
    store = _local_store(request)
    try:
        grant = store.verify(token, ops=("put", "part"))
        etag = await store.receive(
            grant,
            request.stream(),
            checksum=request.headers.get("x-amz-checksum-sha256"),
            content_type=request.headers.get("content-type") or "application/octet-stream",
        )
    except BadToken as exc:
        raise Forbidden(str(exc), code="storage.bad_signature") from None
    except BadDigest as exc:
        raise BadRequest(str(exc), code="storage.bad_digest") from None
    except ObjectLocked as exc:
        raise Conflict(str(exc), code="storage.locked") from None
    except ObjectMissing as exc:
        raise NotFound(str(exc), code="storage.no_such_upload") from None
    return Response(b"", headers={"ETag": f'"{etag}"'})


@get(
    "/storage/local/{token:str}",
    operation_id="localStoreGet",
    tags=["storage"],
    exclude_from_auth=True,
    include_in_schema=False,
)
async def local_get(token: str, request: Request[Any, Any, Any]) -> File:
    store = _local_store(request)
    try:
        grant = store.verify(token, ops=("get",))
        path = store.path_for_read(grant.key)
        info = await store.stat(grant.key)
    except BadToken as exc:
        raise Forbidden(str(exc), code="storage.bad_signature") from None
    except ObjectMissing as exc:
        raise NotFound(str(exc), code="storage.no_such_key") from None
    return File(
        path=path,
        filename=grant.filename or path.name,
        media_type=info.content_type,
        content_disposition_type="attachment" if grant.filename else "inline",
        etag=None,
    )


HANDLERS = [local_put, local_get]
