import os

from piccolo.conf.apps import AppConfig

from backend.orgs import tables

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="orgs",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[
        tables.OrgUnit,
        tables.Grid,
        tables.Team,
        tables.Officer,
        tables.TeamMember,
        tables.Certificate,
        tables.User,
        tables.Conflict,
        tables.Device,
        tables.LoginSession,
        tables.RefreshToken,
        tables.LoginAttempt,
    ],
    migration_dependencies=[],
    commands=[],
)
