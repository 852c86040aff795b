from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T15:31:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite unique indexes and the no-repeat window index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="inspections", description=DESCRIPTION)

    async def indexes():
        # Composite UNIQUE constraints cannot be added on SQLite; a unique index works on both.
        from piccolo.engine import engine_finder

        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS task_inspector_task_officer "
            "ON task_inspector (task, officer)"
        )
        await engine.run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS inspection_result_task_item "
            "ON inspection_result (task, item_code)"
        )
        await engine.run_ddl(
            "CREATE INDEX IF NOT EXISTS inspection_result_item_drawn "
            "ON inspection_result (item_code, drawn_on)"
        )

    manager.add_raw(indexes)

    return manager
