from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T15:42:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one work entry per (user, kind, item); entries by (user, seq)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="mobile", description=DESCRIPTION)

    async def indexes():
        from piccolo.engine import engine_finder

        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS mobile_work_entry_user_item "
            "ON mobile_work_entry (user_id, kind, item_id)"
        )
        await engine.run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS mobile_work_entry_user_seq "
            "ON mobile_work_entry (user_id, seq)"
        )

    manager.add_raw(indexes)

    return manager
