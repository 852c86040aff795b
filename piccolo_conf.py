"""Piccolo configuration: the engine comes from FIELDCASE_DATABASE_URL.

``backend.core.db.bind_engine`` replaces ``DB`` at run time (tests, CLI).
"""

from piccolo.conf.apps import AppRegistry

from backend.core.db import build_engine
from backend.domains import piccolo_apps
from backend.settings import get_settings

DB = build_engine(get_settings().database)

APP_REGISTRY = AppRegistry(apps=piccolo_apps())
