"""create_app(): the Litestar application with its routers, auth, lifespan and error mapping."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request, Router, get
from litestar.config.response_cache import ResponseCacheConfig
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.middleware import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
    DefineMiddleware,
)
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.response import Response
from litestar.types import ASGIApp, Receive, Scope, Send

from backend.core.auth import decode_access_token
from backend.core.db import bind_engine, build_engine, close_pool, ping, start_pool
from backend.core.errors import Unauthorized, error_body, handle_exception
from backend.domains import collect
from backend.inspections import ranking as draw_ranking
from backend.orgs.sessions import principal_for
from backend.settings import Settings, get_settings, use_settings
from storage import ObjectStore, StorageError, open_store

log = logging.getLogger("fieldcase")

PUBLIC_PATHS = [
    "^/health$",
    "^/ready$",
    "^/public(/|$)",
    "^/schema(/|$)",
]


class TokenAuthMiddleware(AbstractAuthenticationMiddleware):
    """Bearer access tokens; the session (and device) must still be live."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        settings: Settings = connection.app.state.settings
        header = connection.headers.get("authorization", "")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise Unauthorized("a bearer access token is required", code="auth.required")
        claims = decode_access_token(raw.strip(), secret=settings.secret_key)
        client = connection.client
        principal = await principal_for(
            user_id=claims.user_id,
            session_id=claims.session_id,
            device_id=claims.device_id,
            address=client.host if client else "",
        )
        if principal is None:
            raise Unauthorized("this session has ended; log in again", code="auth.session_ended")
        return AuthenticationResult(user=principal, auth=claims)


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        # 32 hex digits like a UUID's, from the process's PRNG: an id to quote, not a
        # secret, and os.urandom (a system call) cost more than the rest of this middleware.
        request_id = f"{random.getrandbits(128):032x}"
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        await app(scope, receive, send_with_id)

    return middleware


@get("/health", tags=["health"], operation_id="health", exclude_from_auth=True)
async def health() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@get("/ready", tags=["health"], operation_id="ready", exclude_from_auth=True)
async def ready(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """The database and the object store are reachable (503 otherwise)."""
    checks: dict[str, str] = {}
    try:
        await ping(request.app.state.engine)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    store: ObjectStore = request.app.state.store
    try:
        await store.ping()
        checks["object_store"] = "ok"
    except (StorageError, OSError) as exc:
        checks["object_store"] = f"unreachable: {exc}"
    if all(v == "ok" for v in checks.values()):
        return Response({"status": "ready", "checks": checks})
    body = error_body(503, "service.not_ready", "; ".join(f"{k}: {v}" for k, v in checks.items()))
    body["checks"] = checks
    return Response(body, status_code=503)


def settle_heap() -> None:
    """Keep the garbage collector off what lives as long as the serving process.

    The app (routes, signatures, schemas, tables) is over 100,000 objects that are never
    garbage; every full collection walked all of them again, about 80 ms of CPU each, and
    under load one came every second or so (requests that are in flight while young
    collections run get promoted and die old). Frozen once started, they are left out:
    a full collection then walks only what came later. Called at start-up by ``fieldcase
    serve`` (not in tests, which build many apps in one process: frozen objects are never
    freed).

    The youngest generation is also collected after 10,000 new objects instead of 700:
    the requests in flight hold a few thousand, so at 700 a collection ran every few
    requests (about 170 a second, ~0.2 ms each), walking them and promoting them to
    older generations where they died; at 10,000 the young ones are nearly all freed by
    their reference counts before one is due.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def api_controllers() -> list[Any]:
    return collect("controllers")


def public_handlers() -> list[Any]:
    return collect("public")


def root_routers() -> list[Any]:
    return collect("routers")


def create_app(
    settings: Settings | None = None,
    *,
    store: ObjectStore | None = None,
    run_scheduler: bool = False,
) -> Litestar:
    settings = settings or get_settings()
    use_settings(settings)
    engine = build_engine(settings.database)
    bind_engine(engine)
    object_store = store or open_store(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        bind_engine(engine)
        stop_scheduler = None
        try:
            if settings.db_pool_size:
                await start_pool(engine, max_size=settings.db_pool_size)
            if run_scheduler:
                from scheduler import start_embedded

                stop_scheduler = await start_embedded(settings=settings, store=object_store)
            yield
        finally:
            try:
                if stop_scheduler is not None:
                    await stop_scheduler()
                await close_pool(engine)
            finally:
                draw_ranking.shutdown()

    routers: list[Any] = [
        health,
        ready,
        Router(path="/api/v1", route_handlers=api_controllers()),
    ]
    public = public_handlers()
    if public:
        routers.append(Router(path="/public", route_handlers=public))
    routers.extend(root_routers())

    auth = DefineMiddleware(
        TokenAuthMiddleware, exclude=PUBLIC_PATHS, exclude_from_auth_key="exclude_from_auth"
    )
    app = Litestar(
        route_handlers=routers,
        middleware=[request_id_middleware, auth],
        lifespan=[lifespan],
        dependencies={"settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False)},
        exception_handlers={Exception: handle_exception},
        openapi_config=OpenAPIConfig(
            title="Fieldcase",
            version="0.1.0",
            description="County and township comprehensive administrative law enforcement",
            path="/schema",
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
            security=[{"BearerToken": []}],
        ),
        response_cache_config=ResponseCacheConfig(default_expiration=0),
        request_max_body_size=16 * 1024 * 1024,
        debug=False,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.store = object_store
    app.state.started_at = dt.datetime.now(dt.UTC)
    return app
