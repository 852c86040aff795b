from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T15:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite unique indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="cases", description=DESCRIPTION)

    async def unique_indexes():
        # Composite UNIQUE constraints cannot be added on SQLite; a unique index works on both.
        from piccolo.engine import engine_finder

        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS case_deadline_case_kind "
            "ON case_deadline (\"case\", kind)"
        )

    manager.add_raw(unique_indexes)

    return manager
