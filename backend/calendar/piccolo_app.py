import os

from piccolo.conf.apps import AppConfig

from backend.calendar.tables import CalendarDay, CalendarYear

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="calendar",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[CalendarDay, CalendarYear],
    migration_dependencies=[],
    commands=[],
)
