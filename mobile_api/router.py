"""Assembles /mobile/v1 from the handler lists of the modules in ``MODULES``."""

from __future__ import annotations

import importlib
from typing import Any

from litestar import Router

from mobile_api.transport import mobile_transport

# Each module defines ``HANDLERS``: a list of controllers or route handlers.
MODULES: list[str] = [
    "mobile_api.auth",
    "mobile_api.sync",
    "mobile_api.records",
    "mobile_api.work",
    "mobile_api.evidence",
    "mobile_api.tasks",
    "mobile_api.cases",
]


def build_router() -> Router:
    handlers: list[Any] = []
    for name in MODULES:
        handlers.extend(importlib.import_module(name).HANDLERS)
    return Router(path="/mobile/v1", route_handlers=handlers, middleware=[mobile_transport])


def routers() -> list[Router]:
    return [build_router()] if MODULES else []
