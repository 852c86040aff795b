"""Partial covering indexes from which SQLite reads a county-wide draw's pool.

Active subjects that are on neither list, by risk class then credit code; and active
subjects on the abnormal or serious-violation list, by credit code. A draw over the
whole county reads each stratum from them (about a quarter of the table's bytes, already
in code order) instead of going through the table. PostgreSQL kept reading the table
here (its index-only scans depend on the visibility map, which a fresh import has not
set); it has its own since ``inspections_2026_12_03t11_04_18_073914``, with a vacuum after
each import.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T09:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "partial covering indexes for the draw pool on SQLite"

INDEXES = (
    "CREATE INDEX IF NOT EXISTS subject_stratum "
    "ON subject (risk_class, credit_code, status, abnormal, serious_violation) "
    "WHERE status = 'active' AND NOT (abnormal OR serious_violation)",
    "CREATE INDEX IF NOT EXISTS subject_flagged "
    "ON subject (credit_code, status, abnormal, serious_violation) "
    "WHERE status = 'active' AND (abnormal OR serious_violation)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="inspections", description=DESCRIPTION)

    async def create() -> None:
        engine = engine_finder()
        assert engine is not None
        if engine.engine_type == "sqlite":
            for ddl in INDEXES:
                await engine.run_ddl(ddl)

    async def drop() -> None:
        engine = engine_finder()
        assert engine is not None
        if engine.engine_type == "sqlite":
            await engine.run_ddl("DROP INDEX IF EXISTS subject_stratum")
            await engine.run_ddl("DROP INDEX IF EXISTS subject_flagged")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
