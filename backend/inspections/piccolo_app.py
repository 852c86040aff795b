import os

from piccolo.conf.apps import AppConfig

from backend.inspections import tables

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="inspections",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[
        tables.InspectionItem,
        tables.Subject,
        tables.InspectionPlan,
        tables.InspectionDraw,
        tables.DrawReplacement,
        tables.InspectionTask,
        tables.TaskInspector,
        tables.InspectionResult,
    ],
    migration_dependencies=["backend.orgs.piccolo_app"],
    commands=[],
)
