"""Partial indexes from which PostgreSQL reads a county-wide draw's pool.

The same two as SQLite's (``inspections_2026_12_03t09_20_00_000000``): active subjects
on neither list by risk class then credit code, and active subjects on the abnormal or
serious-violation list by credit code. PostgreSQL answers a stratum from them with an
index-only scan (about a quarter of the table's bytes, in code order) where the visibility
map says the pages are all visible: an import vacuums the table after it has written
(``subjects.after_import``), autovacuum does the rest. The columns of the conditions
need not be in the index: PostgreSQL knows they hold for every entry.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T11:04:18:073914"
VERSION = "1.38.0"
DESCRIPTION = "partial indexes for the draw pool on PostgreSQL"

INDEXES = (
    "CREATE INDEX IF NOT EXISTS subject_stratum ON subject (risk_class, credit_code) "
    "WHERE status = 'active' AND NOT (abnormal OR serious_violation)",
    "CREATE INDEX IF NOT EXISTS subject_flagged ON subject (credit_code) "
    "WHERE status = 'active' AND (abnormal OR serious_violation)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="inspections", description=DESCRIPTION)

    async def create() -> None:
        engine = engine_finder()
        assert engine is not None
        if engine.engine_type == "postgres":
            for ddl in INDEXES:
                await engine.run_ddl(ddl)

    async def drop() -> None:
        engine = engine_finder()
        assert engine is not None
        if engine.engine_type == "postgres":
            await engine.run_ddl("DROP INDEX IF EXISTS subject_stratum")
            await engine.run_ddl("DROP INDEX IF EXISTS subject_flagged")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
