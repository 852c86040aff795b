from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T08:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite unique indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)

    async def unique_indexes():
        # Composite UNIQUE constraints cannot be added on SQLite; a unique index works on both.
        from piccolo.engine import engine_finder

        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS audit_event_stream_seq ON audit_event (stream, seq)"
        )


    manager.add_raw(unique_indexes)

    return manager
