import os

from piccolo.conf.apps import AppConfig

from backend.onsite import tables

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="onsite",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[tables.OnsiteRecord],
    migration_dependencies=["backend.orgs.piccolo_app"],
    commands=[],
)
