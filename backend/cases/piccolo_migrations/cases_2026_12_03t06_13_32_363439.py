from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar

ID = "2026-12-03T06:13:32:363439"
VERSION = "1.38.0"
DESCRIPTION = "lead numbers widened for per-unit sequences (<unit>-<year>-XS-<seq>)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="cases", description=DESCRIPTION)

    # SQLite enforces no length (Piccolo would skip the step with a warning). Generated on
    # SQLite, the auto migration also proposed the case number's widening again: the earlier
    # migration does it only where lengths are enforced, so its snapshot on SQLite still says
    # 40; it is not repeated here.
    from piccolo.engine import engine_finder
    from piccolo.engine.sqlite import SQLiteEngine

    if not isinstance(engine_finder(), SQLiteEngine):
        manager.alter_column(
            table_class_name="Lead",
            tablename="lead",
            column_name="number",
            db_column_name="number",
            params={"length": 80},
            old_params={"length": 40},
            column_class=Varchar,
            old_column_class=Varchar,
            schema=None,
        )

    return manager
