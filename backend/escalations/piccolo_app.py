import os

from piccolo.conf.apps import AppConfig

from backend.escalations import tables

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="escalations",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[
        tables.EscalationRule,
        tables.TrackedDeadline,
        tables.EscalationRecord,
        tables.Notification,
        tables.Webhook,
        tables.WebhookDelivery,
        tables.WebhookAttempt,
    ],
    migration_dependencies=[],
    commands=[],
)
