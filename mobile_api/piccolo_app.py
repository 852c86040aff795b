import os

from piccolo.conf.apps import AppConfig

from mobile_api import tables

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="mobile",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[tables.MobileOperation, tables.MobileWorkEntry, tables.MobileWorkFeed],
    migration_dependencies=["backend.orgs.piccolo_app"],
    commands=[],
)
