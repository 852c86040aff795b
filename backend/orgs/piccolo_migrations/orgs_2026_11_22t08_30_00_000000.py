from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T08:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite unique indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orgs", description=DESCRIPTION)

    async def unique_indexes():
        # Composite UNIQUE constraints cannot be added on SQLite; a unique index works on both.
        from piccolo.engine import engine_finder

        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS team_member_team_officer ON team_member (team, officer)"
        )
        await engine.run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS device_user_device_id ON device (\"user\", device_id)"
        )


    manager.add_raw(unique_indexes)

    return manager
