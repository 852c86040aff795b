import os

from piccolo.conf.apps import AppConfig

from backend.evidence import tables

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="evidence",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[tables.Evidence, tables.EvidenceCaseLink],
    migration_dependencies=["backend.orgs.piccolo_app"],
    commands=[],
)
