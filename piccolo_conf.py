"""Piccolo configuration: the engine comes from FIELDCASE_DATABASE_URL.

``backend.core.db.bind_engine`` replaces ``DB`` at run time (tests, CLI).
"""

from piccolo.conf.apps import AppRegistry

from backend.core.db import build_engine
from backend.settings import get_settings

DB = build_engine(get_settings().database)

APP_REGISTRY = AppRegistry(
    apps=[
        "backend.audit.piccolo_app",
        "backend.orgs.piccolo_app",
        "backend.calendar.piccolo_app",
    ]
)
