from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-03T08:31:33:740686"
VERSION = "1.38.0"
DESCRIPTION = "draw record stored zstd-compressed: the text column dropped"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="inspections", description=DESCRIPTION
    )

    manager.drop_column(
        table_class_name="InspectionDraw",
        tablename="inspection_draw",
        column_name="record",
        db_column_name="record",
        schema=None,
    )

    return manager
