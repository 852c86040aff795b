from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T15:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite unique indexes: a level can never fire twice"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="escalations", description=DESCRIPTION)

    async def unique_indexes():
        # Composite UNIQUE constraints cannot be added on SQLite; a unique index works on both.
        from piccolo.engine import engine_finder

        engine = engine_finder()
        assert engine is not None
        for statement in (
            "CREATE UNIQUE INDEX IF NOT EXISTS escalation_deadline_target_rule "
            "ON escalation_deadline (target_kind, target_id, rule_kind)",
            "CREATE UNIQUE INDEX IF NOT EXISTS escalation_record_target_rule_level "
            "ON escalation_record (target_kind, target_id, rule_kind, level)",
            "CREATE UNIQUE INDEX IF NOT EXISTS notification_escalation_user "
            "ON notification (escalation_id, user_id)",
            "CREATE INDEX IF NOT EXISTS notification_user_read_created "
            "ON notification (user_id, read_at, created_at)",
            "CREATE UNIQUE INDEX IF NOT EXISTS webhook_delivery_webhook_escalation "
            "ON webhook_delivery (webhook_id, escalation_id)",
            "CREATE UNIQUE INDEX IF NOT EXISTS webhook_attempt_delivery_attempt "
            "ON webhook_attempt (delivery_id, attempt)",
        ):
            await engine.run_ddl(statement)

    manager.add_raw(unique_indexes)

    return manager
