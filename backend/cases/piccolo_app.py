import os

from piccolo.conf.apps import AppConfig

from backend.cases import tables

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="cases",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[
        tables.Lead,
        tables.LeadClockStop,
        tables.CaseRuleSetting,
        tables.CaseNumberCounter,
        tables.Case,
        tables.CaseOfficer,
        tables.CaseAction,
        tables.CaseDocument,
        tables.ClockStop,
        tables.CaseDeadline,
        tables.CaseAccess,
        tables.Transfer,
        tables.LegalReview,
        tables.FileScore,
    ],
    migration_dependencies=["backend.orgs.piccolo_app", "backend.matters.piccolo_app"],
    commands=[],
)
