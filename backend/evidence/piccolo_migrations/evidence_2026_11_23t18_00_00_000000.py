from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T18:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one link per (evidence, case)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="evidence", description=DESCRIPTION)

    async def unique_indexes():
        # Composite UNIQUE constraints cannot be added on SQLite; a unique index works on both.
        from piccolo.engine import engine_finder

        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS evidence_case_link_pair "
            "ON evidence_case_link (evidence, case_id)"
        )

    manager.add_raw(unique_indexes)

    return manager
