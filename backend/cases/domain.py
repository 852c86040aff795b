"""Registry entry of the cases domain (see backend/domains.py)."""

from backend.domains import Domain

DOMAIN = Domain(
    name="cases",
    piccolo_app="backend.cases.piccolo_app",
    controllers="backend.cases.controllers:CONTROLLERS",
    deadlines="backend.cases.deadlines:provide",
    cli="backend.cases.cli:register",
    jobs="backend.cases.jobs:jobs",
    evidence_targets="backend.cases.evidence_targets:EVIDENCE_TARGETS",
)
