"""Registry entry of the inspections domain (see backend/domains.py)."""

from backend.domains import Domain

DOMAIN = Domain(
    name="inspections",
    piccolo_app="backend.inspections.piccolo_app",
    controllers="backend.inspections.controllers:CONTROLLERS",
    public="backend.inspections.controllers:PUBLIC",
    cli="backend.inspections.cli:register",
    demo="backend.inspections.demo:seed",
    evidence_targets="backend.inspections.tasks:EVIDENCE_TARGETS",
    deadlines="backend.inspections.deadlines:provide",
)
